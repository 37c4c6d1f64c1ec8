"""Optical character recognition of one page image with Tesseract (Debian's `tesseract-ocr`,
`tesseract-ocr-eng`), run as a command with a time budget.

Tesseract writes the page's text and its word table (TSV) in one run; the word confidences give
the page's `ocr_confidence`. The command is run with `OMP_THREAD_LIMIT=1`: parallelism comes from
reading several pages or charts at once, not from threads inside one page.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from records.pages import clean_text

TESSERACT = "tesseract"
LANGUAGE = "eng"


class OcrError(RuntimeError):
    """One page could not be recognised (engine missing or failing, or over its budget)."""


@dataclass(frozen=True, slots=True)
class OcrPage:
    text: str
    confidence: float | None


def tesseract_path() -> str:
    path = shutil.which(TESSERACT)
    if path is None:
        raise OcrError(
            "OCR engine not found: `tesseract` is not on PATH "
            "(install Debian's tesseract-ocr and tesseract-ocr-eng: `make setup`)"
        )
    return path


def recognise(image: Image.Image, seconds: float, dpi: int) -> OcrPage:
    """The text of a page image and the mean confidence of its words (0-1)."""
    command = tesseract_path()
    with tempfile.TemporaryDirectory(prefix="chartcoder-ocr-") as folder:
        source = Path(folder) / "page.png"
        image.save(source, dpi=(dpi, dpi))
        base = Path(folder) / "page"
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            done = subprocess.run(
                [command, str(source), str(base), "-l", LANGUAGE, "--dpi", str(dpi), "txt", "tsv"],
                capture_output=True,
                timeout=seconds,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise OcrError(f"OCR took longer than its budget of {seconds:g} s") from exc
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
            last = reason[-1] if reason else "no message"
            raise OcrError(f"tesseract failed (exit {done.returncode}): {last}")
        text = base.with_suffix(".txt").read_text(encoding="utf-8")
        table = base.with_suffix(".tsv").read_text(encoding="utf-8")
    return OcrPage(clean_text(text), mean_word_confidence(table))


def mean_word_confidence(tsv: str) -> float | None:
    """Tesseract's mean word confidence (its 0-100 scale as 0-1); None when there is no word."""
    confidences = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        try:
            conf = float(row.get("conf") or -1)
        except ValueError:
            continue
        if text and conf >= 0:
            confidences.append(conf)
    if not confidences:
        return None
    return round(sum(confidences) / len(confidences) / 100.0, 4)
