"""PDF reading speed and OCR accuracy, in one process (records.read_pdf).

    python bench/pdf_text.py [--pages 100] [--scanned 6] [--agreement]

1. Text layer: a generated chart of `--pages` text pages (the example charts, page after page),
   read by pypdfium2 (what `records` uses) and, when installed, pdfplumber and pypdf: pages/s.
2. OCR: `--scanned` image-only pages (clean scans, and faxes: 1-bit, rotated, speckled) read by
   `records.read_pdf`: pages/s and character and word accuracy against the text they were made of.
3. Workers: the scanned chart's page ranges read by 1 and 2 processes (`read_pdf(pages=...)`,
   `join_parts`), pages/s each, and whether the joined text equals the whole.
4. `--agreement`: each example chart as a text-layer PDF and as a scanned one, coded by the built
   model at its default threshold: the Jaccard of the two code sets (run `chartcoder train` first).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from records import PAGE_BREAK, PdfText, join_parts, read_pdf  # noqa: E402
from records.ocr_accuracy import character_accuracy, word_accuracy  # noqa: E402
from tests.records.pdf_builders import scanned_pdf, text_layer_pdf  # noqa: E402

LINES_PER_PAGE = 40
CHARS_PER_LINE = 90


def wrapped_lines(text: str) -> list[str]:
    """A chart's lines, wrapped at a word to fit a page."""
    lines: list[str] = []
    for line in text.splitlines():
        while len(line) > CHARS_PER_LINE:
            cut = line.rfind(" ", 0, CHARS_PER_LINE)
            cut = cut if cut > 0 else CHARS_PER_LINE
            lines.append(line[:cut])
            line = line[cut:].lstrip()
        lines.append(line)
    return lines


def example_charts() -> dict[str, str]:
    folder = ROOT / "examples" / "charts"
    return {
        path.relative_to(folder).with_suffix("").as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*.txt"))
    }


def example_pages(count: int) -> list[str]:
    """Pages of the example charts' lines, wrapped to fit a page, repeated to `count` pages."""
    lines = [line for text in example_charts().values() for line in wrapped_lines(text)]
    pages = []
    for i in range(count):
        start = (i * LINES_PER_PAGE) % max(1, len(lines) - LINES_PER_PAGE)
        pages.append("\n".join(lines[start : start + LINES_PER_PAGE]))
    return pages


def pypdfium2_text(data: bytes) -> list[str]:
    return read_pdf(data).text.split(PAGE_BREAK)


def pdfplumber_text(data: bytes) -> list[str]:
    import pdfplumber

    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def pypdf_text(data: bytes) -> list[str]:
    import pypdf

    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


READERS = {"pypdfium2": pypdfium2_text, "pdfplumber": pdfplumber_text, "pypdf": pypdf_text}


def text_layer(pages: int) -> None:
    truth = example_pages(pages)
    data = text_layer_pdf(truth)
    print(f"text layer: {pages} pages, {len(data)} bytes")
    for name, reader in READERS.items():
        if importlib.util.find_spec(name) is None:
            print(f"  {name:<11} not installed (pip install {name} to compare)")
            continue
        started = time.perf_counter()
        texts = reader(data)
        seconds = time.perf_counter() - started
        accuracy = sum(character_accuracy(t, s) for t, s in zip(texts[:3], truth, strict=False))
        print(
            f"  {name:<11} {pages / seconds:8.1f} pages/s  "
            f"(character accuracy of the first 3 pages {accuracy / 3:.4f})"
        )


def ocr(pages: int) -> None:
    truth = example_pages(pages)
    for fax in (False, True):
        data = scanned_pdf(truth, fax=fax)
        started = time.perf_counter()
        result = read_pdf(data)
        seconds = time.perf_counter() - started
        texts = result.text.split(PAGE_BREAK)
        chars = [character_accuracy(t, s) for t, s in zip(texts, truth, strict=True)]
        words = [word_accuracy(t, s) for t, s in zip(texts, truth, strict=True)]
        confidence = [p.ocr_confidence or 0.0 for p in result.pages]
        kind = "fax (1-bit, rotated, speckled)" if fax else "clean scan (200 dpi)"
        print(
            f"OCR {kind}: {pages} pages, {pages / seconds:.2f} pages/s, "
            f"character accuracy {sum(chars) / pages:.4f} (min {min(chars):.4f}), "
            f"word accuracy {sum(words) / pages:.4f} (min {min(words):.4f}), "
            f"mean confidence {sum(confidence) / pages:.3f}"
        )


def _read_range(data: bytes, first: int, stop: int) -> PdfText:
    return read_pdf(data, pages=range(first, stop))


def workers(pages: int) -> None:
    """A scanned chart's pages spread over 1 and 2 processes."""
    data = scanned_pdf(example_pages(pages))
    whole = None
    for count in (1, 2):
        bounds = [pages * i // count for i in range(count + 1)]
        with ProcessPoolExecutor(max_workers=count) as pool:
            pool.submit(int, 0).result()  # the workers are up before the clock starts
            started = time.perf_counter()
            parts = list(pool.map(_read_range, [data] * count, bounds[:-1], bounds[1:]))
            seconds = time.perf_counter() - started
        joined = join_parts(parts)
        whole = whole or joined
        print(
            f"OCR with {count} worker(s): {pages} scanned pages, {pages / seconds:.2f} pages/s"
            f"{'' if joined == whole else ' (text differs from 1 worker)'}"
        )


def agreement() -> None:
    """Text-layer against scanned PDFs of the example charts, coded by the built model."""
    from nlp.coder import ChartCoder
    from nlp.reading import folder_setting, pdf_chart

    coder = ChartCoder.load()
    scores = []
    for chart_id, text in example_charts().items():
        lines = wrapped_lines(text)
        pages = [
            "\n".join(lines[i : i + LINES_PER_PAGE]) for i in range(0, len(lines), LINES_PER_PAGE)
        ]
        setting = folder_setting(chart_id + ".txt")
        pair = [
            pdf_chart(f"{chart_id} (text layer)", text_layer_pdf(pages), setting),
            pdf_chart(f"{chart_id} (scan)", scanned_pdf(pages), setting),
        ]
        text_codes, scan_codes = ({f.code for f in r.codes} for r in coder.code(pair))
        union = text_codes | scan_codes
        score = len(text_codes & scan_codes) / len(union) if union else 1.0
        scores.append(score)
        print(
            f"  {chart_id:<42} {len(pages)} pages  Jaccard {score:.2f}  "
            f"text-only {sorted(text_codes - scan_codes)}  "
            f"scan-only {sorted(scan_codes - text_codes)}"
        )
    print(f"agreement of text-layer and scanned PDFs: mean Jaccard {sum(scores) / len(scores):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100, help="text-layer pages")
    parser.add_argument("--scanned", type=int, default=6, help="scanned pages of each kind")
    parser.add_argument("--agreement", action="store_true", help="code text-layer vs scanned")
    args = parser.parse_args()
    text_layer(args.pages)
    ocr(args.scanned)
    workers(args.scanned)
    if args.agreement:
        agreement()


if __name__ == "__main__":
    main()
