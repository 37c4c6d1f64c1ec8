"""The one-screen view: a PDF chart shows how each page was read and its encounters."""

from __future__ import annotations

from stack.show import page_lines, render

PDF_RECORD = {
    "chart_id": "two_visits_scan",
    "error": None,
    "codes": [],
    "pages": [
        {"page": 1, "source": "text_layer", "ocr_confidence": None, "error": None},
        {"page": 2, "source": "ocr", "ocr_confidence": 0.9612, "error": None},
        {"page": 3, "source": "ocr", "ocr_confidence": None, "error": "OCR timed out"},
    ],
    "encounters": [
        {
            "date_of_service": "2026-01-12",
            "first_page": 1,
            "last_page": 1,
            "note_type": "progress_note",
        },
        {"date_of_service": None, "first_page": 2, "last_page": 3, "note_type": None},
    ],
}


def test_a_pdf_chart_shows_its_pages_and_encounters():
    assert page_lines(PDF_RECORD) == [
        "page 1: text_layer",
        "page 2: ocr, ocr_confidence 0.96",
        "page 3: ocr, not read (OCR timed out)",
        "encounter: date of service 2026-01-12, page 1, progress_note",
        "encounter: date of service unknown, pages 2-3",
    ]
    assert render([PDF_RECORD]).splitlines()[:3] == [
        "two_visits_scan: 0 codes",
        "  page 1: text_layer",
        "  page 2: ocr, ocr_confidence 0.96",
    ]


def test_a_text_chart_shows_no_pages():
    text_record = {**PDF_RECORD, "chart_id": "a", "pages": []}
    assert page_lines(text_record) == []
    assert render([text_record]) == "a: 0 codes"
