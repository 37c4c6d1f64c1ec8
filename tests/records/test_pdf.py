"""Reading PDFs: text layer, OCR of scanned pages, page errors and whole-file errors, on PDFs
the tests make themselves (tests/records/pdf_builders.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from records import (
    PAGE_BREAK,
    PageRecord,
    PdfError,
    PdfLimits,
    count_pages,
    join_parts,
    pages_needing_ocr,
    read_pdf,
    split_pages,
)
from records.ocr_accuracy import character_accuracy, word_accuracy
from tests.records.pdf_builders import (
    mixed_pdf,
    scanned_pdf,
    text_layer_pdf,
    zero_page_pdf,
)

VISIT_1 = "OFFICE VISIT\nDate of Service: 02/10/2026\nAssessment: Essential hypertension."
VISIT_2 = "PROGRESS NOTE\nDOS: 03/15/2026\nAssessment: Type 2 diabetes mellitus with CKD stage 3a."
SCANNED = (
    "PROGRESS NOTE\n"
    "Date of Service: 04/02/2026\n"
    "Assessment: Chronic obstructive pulmonary disease.\n"
    "Obstructive sleep apnea on CPAP. Hyperlipidemia.\n"
    "Electronically signed by Jane Roe, MD on 04/03/2026"
)


def test_text_layer_pages_are_joined_by_form_feeds():
    result = read_pdf(text_layer_pdf([VISIT_1, VISIT_2]))
    assert result.text == f"{VISIT_1}\n{PAGE_BREAK}{VISIT_2}\n"
    assert result.page_texts == [f"{VISIT_1}\n", f"{VISIT_2}\n"]
    assert result.pages == (PageRecord(1, "text_layer"), PageRecord(2, "text_layer"))
    assert result.pages[0].to_dict() == {
        "page": 1,
        "source": "text_layer",
        "ocr_confidence": None,
        "error": None,
    }


def test_a_blank_page_without_images_is_an_empty_text_layer_page():
    result = read_pdf(text_layer_pdf([VISIT_1, "", VISIT_2]))
    assert result.page_texts[1] == ""
    assert [p.source for p in result.pages] == ["text_layer"] * 3
    assert all(p.error is None for p in result.pages)


def test_a_scanned_page_is_recognised_between_text_pages():
    result = read_pdf(mixed_pdf([("text", VISIT_1), ("scan", SCANNED), ("text", VISIT_2)]))
    first, scanned, last = result.page_texts
    assert first == f"{VISIT_1}\n" and last == f"{VISIT_2}\n"
    assert [p.source for p in result.pages] == ["text_layer", "ocr", "text_layer"]
    confidence = result.pages[1].ocr_confidence
    assert confidence is not None and 0.8 < confidence <= 1.0
    assert character_accuracy(scanned, SCANNED) >= 0.98
    assert word_accuracy(scanned, SCANNED) >= 0.9
    assert "04/02/2026" in scanned


def test_a_page_over_its_ocr_budget_has_an_error_and_the_others_stand():
    data = mixed_pdf([("text", VISIT_1), ("scan", SCANNED)])
    result = read_pdf(data, PdfLimits(ocr_seconds_per_page=0.001))
    assert result.page_texts == [f"{VISIT_1}\n", ""]
    assert result.pages[0] == PageRecord(1, "text_layer")
    assert result.pages[1].source == "ocr"
    assert result.pages[1].error == "OCR took longer than its budget of 0.001 s"


def test_without_the_ocr_engine_a_scanned_page_has_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = read_pdf(scanned_pdf([SCANNED]))
    assert result.text == ""
    (page,) = result.pages
    assert page.source == "ocr" and page.ocr_confidence is None
    assert page.error is not None and page.error.startswith("OCR engine not found")


def test_an_owner_password_only_pdf_is_read():
    result = read_pdf(text_layer_pdf([VISIT_1], owner_password="owner-secret"))
    assert result.text == f"{VISIT_1}\n"


def test_a_user_password_pdf_is_refused():
    data = text_layer_pdf([VISIT_1], owner_password="owner", user_password="user")
    with pytest.raises(PdfError, match="locked by a user password"):
        read_pdf(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a PDF"),
        (b"Date of Service: 02/10/2026", "not a PDF"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 20 + b"\n%%EOF\n", "corrupt PDF"),
        (zero_page_pdf(), "PDF has no pages"),
    ],
    ids=["empty", "text", "corrupt", "zero-pages"],
)
def test_unreadable_pdfs_raise_their_reason(data: bytes, reason: str):
    with pytest.raises(PdfError, match=reason):
        read_pdf(data)


def test_a_truncated_pdf_is_refused():
    data = text_layer_pdf([VISIT_1, VISIT_2])
    with pytest.raises(PdfError, match="truncated PDF"):
        read_pdf(data[: len(data) // 2])


def test_a_pdf_damaged_inside_is_refused():
    data = bytearray(text_layer_pdf([VISIT_1, VISIT_2]))
    data[200:-300] = bytes(len(data) - 500)
    with pytest.raises(PdfError, match="corrupt PDF"):
        read_pdf(bytes(data))


def test_the_byte_and_page_limits_refuse_the_whole_pdf():
    data = text_layer_pdf([VISIT_1, VISIT_2])
    with pytest.raises(PdfError, match=rf"too large: {len(data)} bytes, the limit is 100"):
        read_pdf(data, PdfLimits(max_bytes=100))
    with pytest.raises(PdfError, match="PDF has 2 pages, the limit is 1"):
        read_pdf(data, PdfLimits(max_pages=1))


def test_the_default_limits_are_the_documented_ones():
    limits = PdfLimits()
    assert (limits.max_bytes, limits.max_pages) == (200 * 1024 * 1024, 2000)
    assert limits.ocr_seconds_per_page == 60.0


@pytest.mark.parametrize("field", ["max_bytes", "max_pages", "ocr_seconds_per_page", "ocr_dpi"])
def test_limits_must_be_positive(field: str):
    with pytest.raises(ValueError, match=rf"PdfLimits.{field}=0: must be greater than 0"):
        PdfLimits(**{field: 0})


def test_limits_can_be_set_by_environment_variables():
    environ = {"CHARTCODER_PDF_MAX_PAGES": "10", "CHARTCODER_PDF_OCR_SECONDS_PER_PAGE": "2.5"}
    limits = PdfLimits.from_env(environ)
    assert (limits.max_pages, limits.ocr_seconds_per_page) == (10, 2.5)
    assert limits.max_bytes == PdfLimits().max_bytes
    with pytest.raises(ValueError, match=r"CHARTCODER_PDF_MAX_BYTES='big': not a number"):
        PdfLimits.from_env({"CHARTCODER_PDF_MAX_BYTES": "big"})
    with pytest.raises(ValueError, match=r"PdfLimits.max_pages=0: must be greater than 0"):
        PdfLimits.from_env({"CHARTCODER_PDF_MAX_PAGES": "0"})


def test_page_ranges_read_apart_join_into_the_whole():
    data = text_layer_pdf([VISIT_1, "", VISIT_2])
    assert count_pages(data) == 3
    parts = [read_pdf(data, pages=range(0, 1)), read_pdf(data, pages=range(1, 3))]
    assert [p.page for p in parts[1].pages] == [2, 3]
    assert join_parts(parts) == read_pdf(data)
    with pytest.raises(PdfError, match="pages 2-3: the PDF has 3"):
        read_pdf(data, pages=range(2, 4))
    with pytest.raises(PdfError, match="PDF has 3 pages, the limit is 2"):
        count_pages(data, PdfLimits(max_pages=2))


def test_the_pages_to_recognise_are_known_without_recognising_them():
    data = mixed_pdf([("text", VISIT_1), ("scan", SCANNED), ("text", ""), ("scan", SCANNED)])
    assert pages_needing_ocr(data) == [False, True, False, True]
    with pytest.raises(PdfError, match="PDF has no pages"):
        pages_needing_ocr(zero_page_pdf())


@pytest.mark.parametrize(
    ("needing", "parts", "ranges"),
    [
        ([True] * 6, 2, [range(0, 3), range(3, 6)]),
        ([True] * 5, 2, [range(0, 3), range(3, 5)]),
        ([True] * 7, 3, [range(0, 3), range(3, 5), range(5, 7)]),
        # text pages go with the range they fall in; each range has its share of OCR pages
        ([False, True, False, False, True, True, False, True], 2, [range(0, 5), range(5, 8)]),
        ([True, True], 4, [range(0, 1), range(1, 2)]),
        ([False, True, False], 2, [range(0, 3)]),
        ([False, False], 2, [range(0, 2)]),
        ([True] * 4, 1, [range(0, 4)]),
    ],
)
def test_split_pages_shares_out_the_pages_to_recognise(needing, parts, ranges):
    assert split_pages(needing, parts) == ranges


def test_threads_may_read_pdfs_at_once():
    # PDFium is not thread-safe; records.pdf serialises its calls (OCR runs outside the lock)
    documents = [text_layer_pdf([f"{VISIT_1} #{i}", VISIT_2] * 3) for i in range(8)]
    alone = [read_pdf(d) for d in documents]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(read_pdf, documents * 3))
    assert together == alone * 3
