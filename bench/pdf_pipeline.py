"""PDF pages per second through the pipeline (the flow on a local Ray cluster), 1 and 2 workers.

    python bench/pdf_pipeline.py [--workers 1 2] [--copies 50] [--big-pages 30] [--cache DIR]

Three batches, each made from the example charts (bench/pdf_text.py's pages):
- `text layer`: every example chart as a text-layer PDF, `--copies` times;
- `scanned`: every example chart as a scanned PDF (page images only), twice;
- `one big scan`: one scanned PDF of `--big-pages` pages, whose OCR the coders share
  (`flows.pdf_sharing`).
Each batch is coded by the flow with each worker count (the scans one chart per shard, the
text-layer PDFs in the flow's default shards: one-chart shards would time Prefect's task
overhead, not the reading). Printed: pages,
the coding stage's pages/s (reading, OCR and coding on the Ray actors), the run's whole time,
and the ratio of each rate to one worker's. Needs built artefacts (`chartcoder train`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pdf_text import LINES_PER_PAGE, example_charts, example_pages, wrapped_lines  # noqa: E402
from tests.records.pdf_builders import scanned_pdf, text_layer_pdf  # noqa: E402


def chart_pages(text: str) -> list[str]:
    lines = wrapped_lines(text)
    return ["\n".join(lines[i : i + LINES_PER_PAGE]) for i in range(0, len(lines), LINES_PER_PAGE)]


def write_batches(root: Path, copies: int, big_pages: int) -> dict[str, Path]:
    charts = {name.replace("/", "_"): chart_pages(text) for name, text in example_charts().items()}
    batches = {
        "text layer": root / "text",
        "scanned": root / "scanned",
        "one big scan": root / "big",
    }
    for folder in batches.values():
        folder.mkdir(parents=True)
    for name, pages in charts.items():
        data = text_layer_pdf(pages)
        for copy in range(copies):
            (batches["text layer"] / f"{name}-{copy}.pdf").write_bytes(data)
        scan = scanned_pdf(pages)
        for copy in range(2):
            (batches["scanned"] / f"{name}-{copy}.pdf").write_bytes(scan)
    (batches["one big scan"] / "record.pdf").write_bytes(scanned_pdf(example_pages(big_pages)))
    return batches


def run(folder: Path, workers: int, cache: str | None, shard_size: int | None) -> dict[str, float]:
    from flows.code_charts import code_charts
    from flows.options import RunOptions

    destination = Path(tempfile.mkdtemp(prefix=f"bench-pdf-{workers}w-"))
    started = time.perf_counter()
    state = code_charts(
        str(folder),
        str(destination),
        RunOptions(workers=workers, shard_size=shard_size, cache_dir=cache),
        return_state=True,
    )
    wall = time.perf_counter() - started
    if not state.is_completed():
        raise RuntimeError(f"{workers}-worker run of {folder} failed: {state.message}")
    manifest = json.loads((destination / "manifest.json").read_text())
    records = [json.loads(line) for line in (destination / "charts.jsonl").open()]
    errors = [r["chart_id"] for r in records if r["error"]]
    if errors:
        raise RuntimeError(f"{workers}-worker run of {folder}: charts in error {errors[:5]}")
    pages = sum(len(r["pages"]) for r in records)
    ocr = sum(1 for r in records for p in r["pages"] if p["source"] == "ocr")
    coding = manifest["timings"]["coding"]
    return {"pages": pages, "ocr": ocr, "coding": coding, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--copies", type=int, default=50, help="text-layer copies of each chart")
    parser.add_argument("--big-pages", type=int, default=30, help="pages of the big scan")
    parser.add_argument("--cache", default=None, help="artefact cache ($CHARTCODER_CACHE)")
    args = parser.parse_args()
    batches = write_batches(
        Path(tempfile.mkdtemp(prefix="bench-pdf-")), args.copies, args.big_pages
    )
    for name, folder in batches.items():
        first = None
        for workers in args.workers:
            found = run(folder, workers, args.cache, None if name == "text layer" else 1)
            rate = found["pages"] / found["coding"]
            first = first or rate
            print(
                f"{name:<13} {workers} worker(s): {found['pages']:4.0f} pages "
                f"({found['ocr']:.0f} OCR), {rate:7.2f} pages/s in the coding stage "
                f"(x{rate / first:.2f} one worker's), coding {found['coding']:.1f} s, "
                f"run {found['wall']:.1f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
