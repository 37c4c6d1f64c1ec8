"""One PDF page with PDFium (pypdfium2): its text layer, whether it is a scan, its image.

pypdfium2 was chosen over pdfplumber and pypdf for the text layer: on the same generated charts
it extracts text tens of times faster (bench/pdf_text.py; README "PDF charts"), it is maintained
(PDFium is Chrome's PDF engine, wheels for every platform), and it also renders pages for OCR,
so one library does both.
"""

from __future__ import annotations

import re

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from records.pages import clean_text

# A page is rendered at most this many pixels on its longer side (a poster-sized page at 300 dpi
# would otherwise need gigabytes); its effective resolution is then lower.
MAX_RENDER_SIDE = 8000
# Share of the page one image must cover for the page to count as a scan.
SCAN_COVERAGE = 0.5
_WORD_CHARS = re.compile(r"[^\W_]")


def page_text(page: pdfium.PdfPage) -> str:
    """The page's text layer (`records.pages.clean_text`)."""
    textpage = page.get_textpage()
    try:
        raw = textpage.get_text_range()
    finally:
        textpage.close()
    return clean_text(raw)


def word_chars(text: str) -> int:
    """Letters and digits: what makes a text layer usable."""
    return len(_WORD_CHARS.findall(text))


def scan_coverage(page: pdfium.PdfPage) -> float:
    """The largest share of the page that a single image covers (0 when it has none)."""
    width, height = page.get_size()
    area = width * height
    if area <= 0:
        return 0.0
    largest = 0.0
    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)):
        left, bottom, right, top = image.get_bounds()
        visible_w = max(0.0, min(right, width) - max(left, 0.0))
        visible_h = max(0.0, min(top, height) - max(bottom, 0.0))
        largest = max(largest, visible_w * visible_h / area)
    return min(largest, 1.0)


def render(page: pdfium.PdfPage, dpi: int) -> tuple[Image.Image, int]:
    """The page as a grayscale image for OCR, and the resolution it was rendered at."""
    width, height = page.get_size()
    scale = min(dpi / 72.0, MAX_RENDER_SIDE / max(width, height, 1.0))
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        # a grayscale image shares the bitmap's memory: copied before the bitmap is freed
        image = bitmap.to_pil().copy()
    finally:
        bitmap.close()
    return image, max(1, round(scale * 72))
