"""A PDF chart's text: every page's text layer, and OCR for the pages that have none.

`read_pdf(data, limits)` returns the text with pages joined by a form feed (so offsets into it
are stable and a page number is 1 + the form feeds before an offset) and one `PageRecord` per
page. A PDF that cannot be read as a whole raises `PdfError` with the reason: over the byte or
page limit, not a PDF, truncated (no `%%EOF` at its end), corrupt, no pages, or locked by a user
password (a PDF with only an owner password opens and is read). A page that fails, or whose OCR
goes over its time budget, keeps an empty text and its `error`; the other pages stand.

A page's text layer is used when it has at least `min_text_chars` letters and digits, and, for a
page that is mostly one image (a scan or a fax, often with a short header added as text),
at least `min_text_chars_on_scan`; otherwise the rendered page is recognised with Tesseract.
Line breaks that a page's layout put inside a sentence (after a lower-case word, a digit or a
comma, before a lower-case word) are read as spaces, so that a wrapped diagnosis stays one
sentence.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from records.ocr import OcrError, recognise
from records.pages import (
    PAGE_BREAK,
    PageRecord,
    PageSource,
    PdfError,
    PdfLimits,
    PdfText,
    unwrap_lines,
)
from records.pdf_pages import SCAN_COVERAGE, page_text, render, scan_coverage, word_chars

log = logging.getLogger(__name__)

# PDFium is not thread-safe, not even across documents: every call into it holds this lock. OCR,
# the slow part, runs outside it, so threads reading several PDFs still recognise pages at once.
PDFIUM_LOCK = threading.RLock()
HEADER_WINDOW = 1024  # `%PDF-` must start within the first 1024 bytes, `%%EOF` end the last 1024
_OPEN_ERRORS = {
    pdfium_c.FPDF_ERR_PASSWORD: "PDF is locked by a user password: it cannot be opened",
    pdfium_c.FPDF_ERR_SECURITY: "PDF uses an unsupported security handler: it cannot be opened",
    pdfium_c.FPDF_ERR_FORMAT: "corrupt PDF: its structure cannot be parsed",
    pdfium_c.FPDF_ERR_FILE: "corrupt PDF: its file structure cannot be read",
}


def check_envelope(data: bytes, limits: PdfLimits) -> None:
    """Refuse what is too large, not a PDF, or cut short, before parsing it."""
    if len(data) > limits.max_bytes:
        raise PdfError(f"PDF too large: {len(data)} bytes, the limit is {limits.max_bytes}")
    if b"%PDF-" not in data[:HEADER_WINDOW]:
        raise PdfError(f"not a PDF: no %PDF- header in its first {HEADER_WINDOW} bytes")
    if b"%%EOF" not in data[-HEADER_WINDOW:]:
        raise PdfError(f"truncated PDF: no %%EOF marker in its last {HEADER_WINDOW} bytes")


def open_pdf(data: bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise PdfError(_open_failure(data)) from exc


def _open_failure(data: bytes) -> str:
    """Why PDFium would not open a PDF. pypdfium2 refuses a document without pages, reporting
    PDFium's last error, which is then another document's; loading it again tells them apart."""
    handle = pdfium_c.FPDF_LoadMemDocument64(data, len(data), None)
    if handle:
        pdfium_c.FPDF_CloseDocument(handle)
        return "PDF has no pages"
    code = pdfium_c.FPDF_GetLastError()
    return _OPEN_ERRORS.get(code, f"PDF cannot be opened (PDFium error {code})")


def open_checked(data: bytes, limits: PdfLimits) -> pdfium.PdfDocument:
    """The open document, once its bytes and page count are within the limits."""
    check_envelope(data, limits)
    with PDFIUM_LOCK:
        document = open_pdf(data)
        count = len(document)
        if 0 < count <= limits.max_pages:
            return document
        document.close()
    if count == 0:
        raise PdfError("PDF has no pages")
    raise PdfError(f"PDF has {count} pages, the limit is {limits.max_pages}")


def count_pages(data: bytes, limits: PdfLimits | None = None) -> int:
    """How many pages a PDF has; raises `PdfError` as `read_pdf` would."""
    document = open_checked(data, limits or PdfLimits())
    with PDFIUM_LOCK:
        count = len(document)
        document.close()
    return count


def read_pdf(data: bytes, limits: PdfLimits | None = None, pages: range | None = None) -> PdfText:
    """The text and pages of a PDF (bytes); raises `PdfError` when it cannot be read at all.
    `pages` (0-based page indices, default all) reads part of it: a big PDF's page ranges can
    be read apart (on several workers) and put back together with `join_parts`."""
    limits = limits or PdfLimits()
    document = open_checked(data, limits)
    started = time.perf_counter()
    texts: list[str] = []
    records: list[PageRecord] = []
    try:
        with PDFIUM_LOCK:
            count = len(document)
        wanted = range(count) if pages is None else pages
        if wanted and (wanted[0] < 0 or wanted[-1] >= count):
            raise PdfError(f"pages {wanted.start}-{wanted.stop - 1}: the PDF has {count}")
        for index in wanted:
            text, record = read_page(document, index, limits)
            texts.append(text)
            records.append(record)
    finally:
        with PDFIUM_LOCK:
            document.close()
    log.info(
        "PDF read: %d of %d pages (%d OCR, %d failed) in %.2f s",
        len(records),
        count,
        sum(1 for p in records if p.source == "ocr"),
        sum(1 for p in records if p.error),
        time.perf_counter() - started,
    )
    return PdfText(PAGE_BREAK.join(texts), tuple(records))


def pages_needing_ocr(data: bytes, limits: PdfLimits | None = None) -> list[bool]:
    """For each page, whether `read_pdf` would recognise it with OCR (its text layer too thin,
    or unreadable); reads text layers only, renders nothing. Raises `PdfError` as `read_pdf`
    would. A page that cannot be loaded counts as not needing OCR: it fails at once anywhere."""
    limits = limits or PdfLimits()
    document = open_checked(data, limits)
    needed: list[bool] = []
    with PDFIUM_LOCK:
        try:
            for index in range(len(document)):
                needed.append(_needs_ocr_at(document, index, limits))
        finally:
            document.close()
    return needed


def _needs_ocr_at(document: pdfium.PdfDocument, index: int, limits: PdfLimits) -> bool:
    try:
        page = document[index]
    except pdfium.PdfiumError:
        return False
    try:
        try:
            text = page_text(page)
        except pdfium.PdfiumError:
            return True
        return needs_ocr(page, text, limits)
    finally:
        page.close()


def split_pages(needing_ocr: Sequence[bool], parts: int) -> list[range]:
    """Consecutive page ranges (0-based, covering every page) holding about equal numbers of
    pages to recognise, at most `parts` of them and none without such a page unless there is
    only one: how one PDF's OCR is shared out. Text-layer pages cost next to nothing and go
    with the range they fall in."""
    count = len(needing_ocr)
    total = sum(needing_ocr)
    parts = min(parts, total)
    if parts <= 1:
        return [range(count)]
    ranges: list[range] = []
    start = seen = 0
    for index, needed in enumerate(needing_ocr):
        seen += needed
        # cut after the page that reaches the next share; the last share is never cut short
        if len(ranges) < parts - 1 and seen * parts >= (len(ranges) + 1) * total:
            ranges.append(range(start, index + 1))
            start = index + 1
    ranges.append(range(start, count))
    return ranges


def join_parts(parts: list[PdfText]) -> PdfText:
    """Consecutive page ranges of one PDF, read apart, as `read_pdf` reads the whole."""
    return PdfText(
        PAGE_BREAK.join(part.text for part in parts),
        tuple(page for part in parts for page in part.pages),
    )


@dataclass(frozen=True, slots=True)
class _Layer:
    """What PDFium gives of a page: its text, or the image to recognise, or why neither."""

    source: PageSource = "text_layer"
    text: str = ""
    image: Image.Image | None = None
    dpi: int = 0
    error: str | None = None


def read_page(
    document: pdfium.PdfDocument, index: int, limits: PdfLimits
) -> tuple[str, PageRecord]:
    """One page's text and record; a failure is the page's error, never an exception."""
    number = index + 1
    with PDFIUM_LOCK:
        layer = _page_layer(document, index, limits)
    if layer.image is None:
        return unwrap_lines(layer.text), PageRecord(number, layer.source, None, layer.error)
    try:
        result = recognise(layer.image, limits.ocr_seconds_per_page, layer.dpi)
    except OcrError as exc:
        reason = f"{layer.error}; " if layer.error else ""
        return "", PageRecord(number, "ocr", None, f"{reason}{exc}")
    return unwrap_lines(result.text), PageRecord(number, "ocr", result.confidence)


def _page_layer(document: pdfium.PdfDocument, index: int, limits: PdfLimits) -> _Layer:
    """The page's text layer, or its rendered image when the layer is too thin (with the text
    layer's own error, if it had one); called holding `PDFIUM_LOCK`."""
    try:
        page = document[index]
    except pdfium.PdfiumError as exc:
        return _Layer(error=f"page cannot be loaded: {exc}")
    try:
        layer_error = None
        try:
            text = page_text(page)
        except pdfium.PdfiumError as exc:
            text, layer_error = "", f"text layer cannot be read: {exc}"
        if layer_error is None and not needs_ocr(page, text, limits):
            return _Layer(text=text)
        try:
            image, dpi = render(page, limits.ocr_dpi)
        except pdfium.PdfiumError as exc:
            reason = f"{layer_error}; " if layer_error else ""
            return _Layer("ocr", error=f"{reason}page cannot be rendered: {exc}")
        return _Layer("ocr", image=image, dpi=dpi, error=layer_error)
    finally:
        page.close()


def needs_ocr(page: pdfium.PdfPage, text: str, limits: PdfLimits) -> bool:
    """Whether the page's text layer is too thin to stand for the page."""
    chars = word_chars(text)
    if chars >= limits.min_text_chars_on_scan:
        return False
    coverage = scan_coverage(page)
    if coverage >= SCAN_COVERAGE:
        return True
    return chars < limits.min_text_chars and coverage > 0
