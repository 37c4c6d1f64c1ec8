"""Multi-page TIFF faxes are read as scanned PDFs: every page recognised, limits and errors."""

from __future__ import annotations

import pytest

from records import PdfError, PdfLimits, read_pdf, tiff_to_pdf
from records.ocr_accuracy import character_accuracy
from tests.records.pdf_builders import fax_tiff, image_bytes, scanned_image

PAGES = [
    "PROGRESS NOTE\n"
    "Date of Service: 04/02/2026\n"
    "Assessment: Chronic obstructive pulmonary disease.\n"
    "Obstructive sleep apnea on CPAP. Hyperlipidemia.\n"
    "Plan: continue tiotropium and atorvastatin.\n"
    "Return in three months for spirometry.",
    "Electronically signed by Jane Roe, MD on 04/03/2026",
]


@pytest.mark.parametrize("normal", [False, True], ids=["fine", "normal"])
def test_a_fax_tiff_is_read_page_by_page(normal: bool):
    read = read_pdf(tiff_to_pdf(fax_tiff(PAGES, normal)))
    assert [(p.page, p.source, p.error) for p in read.pages] == [(1, "ocr", None), (2, "ocr", None)]
    # "normal" faxes have half the lines: stretched back to square pixels before OCR
    assert character_accuracy(read.page_texts[0], PAGES[0]) >= 0.85  # speckles read as marks
    assert "Chronic obstructive pulmonary disease" in read.page_texts[0]
    assert "04/03/2026" in read.page_texts[1]


def test_bad_tiffs_raise_their_reason():
    with pytest.raises(PdfError, match="corrupt TIFF"):
        tiff_to_pdf(b"II*\x00" + b"\x00" * 40)
    with pytest.raises(PdfError, match="corrupt TIFF"):
        tiff_to_pdf(image_bytes(scanned_image("x"))[:100])
    with pytest.raises(PdfError, match="TIFF has 2 pages, the limit is 1"):
        tiff_to_pdf(fax_tiff(PAGES), PdfLimits(max_pages=1))
    data = fax_tiff(PAGES[:1])
    with pytest.raises(PdfError, match=f"TIFF too large: {len(data)} bytes, the limit is 10"):
        tiff_to_pdf(data, PdfLimits(max_bytes=10))
