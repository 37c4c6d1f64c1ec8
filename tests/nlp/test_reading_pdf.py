"""PDF charts where charts are read (nlp/reading.py) and coded: ids, duplicates, error records,
and each evidence item's page and date of service."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp.coder import ChartCoder
from nlp.reading import chart_from_bytes, chart_id_for, pdf_chart, read_charts
from nlp.records import Chart
from records import PdfLimits
from tests.records.pdf_builders import fax_tiff, mixed_pdf, scanned_pdf, text_layer_pdf

VISIT_1 = (
    "OFFICE VISIT\n"
    "Date of Service: 02/10/2026\n"
    "Assessment: Pneumonia of the right lower lobe.\n"
    "Electronically signed by A. Smith, MD on 02/10/2026"
)
VISIT_2 = (
    "PROGRESS NOTE\n"
    "DOS: 03/15/2026\n"
    "Assessment: Migraine without aura.\n"
    "Chronic kidney disease stage 3a.\n"
    "Electronically signed by A. Smith, MD on 03/16/2026"
)


def test_a_folder_reads_pdfs_beside_txt_files_and_a_duplicate_id_is_an_error(tmp_path: Path):
    (tmp_path / "inpatient").mkdir()
    (tmp_path / "a.txt").write_text("HTN.", encoding="utf-8")
    (tmp_path / "a.pdf").write_bytes(text_layer_pdf([VISIT_1]))
    (tmp_path / "inpatient" / "stay.PDF").write_bytes(text_layer_pdf([VISIT_1, VISIT_2]))
    good = text_layer_pdf([VISIT_2])
    (tmp_path / "cut.pdf").write_bytes(good[: len(good) // 2])
    charts = list(read_charts([tmp_path]))
    assert [(c.chart_id, c.error) for c in charts] == [
        ("a", None),
        ("a", "duplicate chart id: already read from a.pdf"),
        ("cut", "truncated PDF: no %%EOF marker in its last 1024 bytes"),
        ("inpatient/stay", None),
    ]
    pdf, _, _, stay = charts
    assert pdf.text == f"{VISIT_1}\n" and [p.source for p in pdf.pages] == ["text_layer"]
    assert stay.setting == "inpatient"
    assert stay.text.split("\f") == [f"{VISIT_1}\n", f"{VISIT_2}\n"]


def test_a_pdf_given_directly_is_named_by_its_stem(tmp_path: Path):
    path = tmp_path / "scan 7.pdf"
    path.write_bytes(text_layer_pdf([VISIT_1], owner_password="owner"))
    (chart,) = read_charts([path])
    assert (chart.chart_id, chart.error) == ("scan 7", None)


def test_bad_pdfs_are_error_records_with_their_reason(tmp_path: Path):
    locked = text_layer_pdf([VISIT_1], user_password="user")
    assert pdf_chart("x", locked).error == "PDF is locked by a user password: it cannot be opened"
    big = tmp_path / "big.pdf"
    big.write_bytes(text_layer_pdf([VISIT_1]))
    (chart,) = read_charts([big])
    assert chart.error is None
    refused = pdf_chart("x", big.read_bytes(), limits=PdfLimits(max_bytes=10))
    assert refused.error is not None and refused.error.startswith("PDF too large:")
    text_limit = pdf_chart("x", big.read_bytes(), max_bytes=20)
    assert text_limit.error == (
        f"too large: {len(VISIT_1) + 1} bytes of text read from the PDF, the limit is 20"
    )


def test_a_pdf_whose_pages_all_fail_is_an_empty_chart_with_its_page_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setenv("PATH", str(tmp_path))  # no OCR engine
    chart = pdf_chart("scan", scanned_pdf([VISIT_1]))
    assert chart.error == "empty chart: no text on any page"
    assert chart.notes == ("1 of 1 pages could not be read: 1",)
    (page,) = chart.pages
    assert page.error is not None and page.error.startswith("OCR engine not found")


def test_evidence_carries_its_page_and_date_of_service(coder: ChartCoder):
    chart = pdf_chart("visits", text_layer_pdf([VISIT_1, VISIT_2]))
    (result,) = coder.code([chart])
    where = {
        f.code: (f.evidence[0].page, f.evidence[0].date_of_service)
        for f in result.codes
        if f.code in {"J18.9", "G43.009", "N18.31"}
    }
    assert where == {
        "J18.9": (1, "2026-02-10"),
        "G43.009": (2, "2026-03-15"),
        "N18.31": (2, "2026-03-15"),
    }
    record = result.to_dict()
    assert record["pages"] == [
        {"page": 1, "source": "text_layer", "ocr_confidence": None, "error": None},
        {"page": 2, "source": "text_layer", "ocr_confidence": None, "error": None},
    ]
    assert [
        (e["date_of_service"], e["first_page"], e["last_page"], e["note_type"])
        for e in record["encounters"]
    ] == [("2026-02-10", 1, 1, "progress_note"), ("2026-03-15", 2, 2, "progress_note")]
    evidence = record["codes"][0]["evidence"][0]
    assert isinstance(evidence["page"], int) and "date_of_service" in evidence


def test_a_text_chart_counts_pages_by_form_feeds(coder: ChartCoder):
    text = "Migraine without aura.\n\fDate of Service: 1/2/2026\nHTN."
    (result,) = coder.code([Chart("t", text)])
    pages = {f.code: f.evidence[0].page for f in result.codes if f.code in {"G43.009", "I10"}}
    assert pages == {"G43.009": 1, "I10": 2}
    assert result.pages == ()
    dated = {f.code: f.evidence[0].date_of_service for f in result.codes if f.code == "I10"}
    assert dated == {"I10": "2026-01-02"}


def test_an_error_record_keeps_its_pages(coder: ChartCoder, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    (result,) = coder.code([pdf_chart("scan", scanned_pdf([VISIT_1]))])
    assert result.error == "empty chart: no text on any page"
    assert [p.source for p in result.pages] == ["ocr"]


def test_scanned_and_text_layer_versions_agree_on_codes_pages_and_dates(coder: ChartCoder):
    text_result, scan_result = coder.code(
        [
            pdf_chart("text", text_layer_pdf([VISIT_1, VISIT_2])),
            pdf_chart("scan", mixed_pdf([("scan", VISIT_1), ("scan", VISIT_2)])),
        ]
    )
    assert [p.source for p in scan_result.pages] == ["ocr", "ocr"]

    def placed(result) -> set[tuple[str, int, str | None]]:
        return {(f.code, f.evidence[0].page, f.evidence[0].date_of_service) for f in result.codes}

    text_codes, scan_codes = placed(text_result), placed(scan_result)
    assert len(text_codes & scan_codes) / len(text_codes | scan_codes) >= 0.75
    assert {"J18.9", "G43.009", "N18.31"} <= {code for code, _, _ in scan_codes}
    assert [e.date_of_service for e in scan_result.encounters] == ["2026-02-10", "2026-03-15"]


def test_files_are_read_by_the_kind_their_name_says():
    assert chart_id_for("inpatient/a.txt") == "inpatient/a"
    assert chart_id_for("scans/b.PDF") == "scans/b"
    assert (chart_id_for("fax/c.tif"), chart_id_for("fax/d.TIFF")) == ("fax/c", "fax/d")
    assert chart_id_for("notes.docx") is None
    pdf = chart_from_bytes("b", "scans/b.pdf", text_layer_pdf([VISIT_1]), setting="inpatient")
    assert (pdf.text, pdf.setting, len(pdf.pages)) == (f"{VISIT_1}\n", "inpatient", 1)
    text = chart_from_bytes("a", "a.txt", b"HTN.")
    assert (text.text, text.pages) == ("HTN.", ())
    assert chart_from_bytes("c", "c.pdf", b"HTN.").error == (
        "not a PDF: no %PDF- header in its first 1024 bytes"
    )


def test_a_fax_tiff_is_a_chart_as_a_scanned_pdf_is(tmp_path: Path, coder: ChartCoder):
    (tmp_path / "fax.tif").write_bytes(fax_tiff([VISIT_1, VISIT_2]))
    (tmp_path / "b.TIFF").write_bytes(fax_tiff([VISIT_2]))
    (tmp_path / "b.pdf").write_bytes(text_layer_pdf([VISIT_2]))
    (tmp_path / "bad.tiff").write_bytes(b"II*\x00" + b"\x00" * 40)
    charts = list(read_charts([tmp_path]))
    assert [(c.chart_id, c.error is None) for c in charts] == [
        ("b", True),
        ("b", False),
        ("bad", False),
        ("fax", True),
    ]
    assert charts[1].error == "duplicate chart id: already read from b.TIFF"
    assert charts[2].error is not None and charts[2].error.startswith("corrupt TIFF")
    fax = charts[3]
    assert [p.source for p in fax.pages] == ["ocr", "ocr"]
    (result,) = coder.code([fax])
    dated = {(f.code, f.evidence[0].page, f.evidence[0].date_of_service) for f in result.codes}
    assert {("J18.9", 1, "2026-02-10"), ("G43.009", 2, "2026-03-15")} <= dated
