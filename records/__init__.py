"""Medical records as files: PDF charts read into text and pages (text layer, else OCR).

Pure Python, no orchestration: `read_pdf(data, limits) -> PdfText` (records.pdf).
"""

from records.pages import PAGE_BREAK, PageRecord, PdfError, PdfLimits, PdfText
from records.pdf import read_pdf

__all__ = ["PAGE_BREAK", "PageRecord", "PdfError", "PdfLimits", "PdfText", "read_pdf"]
