"""Medical records as files: PDF charts read into text and pages (text layer, else OCR).

Pure Python, no orchestration: `read_pdf(data, limits) -> PdfText` (records.pdf); for a big PDF,
`pages_needing_ocr` and `split_pages` to share out its OCR, `read_pdf(data, limits,
pages=range(...))` per part, then `join_parts`. A multi-page TIFF (a fax) is read as the PDF
`tiff_to_pdf` makes of it.
"""

from records.pages import PAGE_BREAK, PageRecord, PdfError, PdfLimits, PdfText
from records.pdf import count_pages, join_parts, pages_needing_ocr, read_pdf, split_pages
from records.tiff import tiff_to_pdf

__all__ = [
    "PAGE_BREAK",
    "PageRecord",
    "PdfError",
    "PdfLimits",
    "PdfText",
    "count_pages",
    "join_parts",
    "pages_needing_ocr",
    "read_pdf",
    "split_pages",
    "tiff_to_pdf",
]
