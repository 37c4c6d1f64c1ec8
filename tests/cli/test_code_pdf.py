"""`chartcoder code` on a folder of PDF charts: pages and encounters in the records, bad PDFs as
error records, exit status 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.records.pdf_builders import text_layer_pdf

# The installed command, whichever package implements it.
CHARTCODER = Path(sys.executable).parent / "chartcoder"

VISIT = "OFFICE VISIT\nDate of Service: 02/10/2026\nAssessment: Migraine without aura."


def test_code_reads_pdfs_and_records_bad_ones(tmp_path: Path, fixture_build):
    charts = tmp_path / "charts"
    charts.mkdir()
    (charts / "visit.pdf").write_bytes(text_layer_pdf(["Cover sheet: medical records", VISIT]))
    (charts / "visit.txt").write_text("HTN.", encoding="utf-8")
    (charts / "locked.pdf").write_bytes(text_layer_pdf([VISIT], user_password="secret"))
    (charts / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n")
    out = tmp_path / "codes.jsonl"
    cache = str(fixture_build.path.parent.parent)
    command = [str(CHARTCODER), "code", str(charts), "-o", str(out), "--cache", cache]
    done = subprocess.run([*command, "--threshold", "0"], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["chart_id"], r["error"]) for r in records] == [
        ("corrupt", "corrupt PDF: its structure cannot be parsed"),
        ("locked", "PDF is locked by a user password: it cannot be opened"),
        ("visit", None),
        ("visit", "duplicate chart id: already read from visit.pdf"),
    ]
    visit = records[2]
    assert [p["source"] for p in visit["pages"]] == ["text_layer", "text_layer"]
    migraine = next(c for c in visit["codes"] if c["code"] == "G43.009")
    assert (migraine["evidence"][0]["page"], migraine["evidence"][0]["date_of_service"]) == (
        2,
        "2026-02-10",
    )
    # an unmarked cover page belongs to the encounter that follows it
    assert visit["encounters"] == [
        {
            "date_of_service": "2026-02-10",
            "first_page": 1,
            "last_page": 2,
            "note_type": "progress_note",
            "start": 0,
            "end": len("Cover sheet: medical records\n\f" + VISIT + "\n"),
        }
    ]


def test_a_service_year_leaves_other_years_visits_out_of_the_risk_score(
    tmp_path: Path, fixture_build
):
    chart = tmp_path / "record.pdf"
    last_year = (
        "OFFICE VISIT\nDate of Service: 11/20/2025\nAssessment: Chronic kidney disease stage 3a."
    )
    chart.write_bytes(text_layer_pdf([last_year, VISIT]))
    cache = str(fixture_build.path.parent.parent)
    found = {}
    for year in ("2025", "2026"):
        out = tmp_path / f"{year}.jsonl"
        command = [str(CHARTCODER), "code", str(chart), "-o", str(out), "--cache", cache]
        done = subprocess.run([*command, "--service-year", year], capture_output=True, check=False)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        found[year] = json.loads(out.read_text(encoding="utf-8"))
    # the codes are the chart's either way; only what counts for the year differs
    assert found["2025"]["codes"] == found["2026"]["codes"]
    assert "N18.31" in found["2026"]["codes_out_of_year"]
    assert "G43.009" in found["2025"]["codes_out_of_year"]
    assert "329" in {h["hcc"] for h in found["2025"]["hccs"]}
    assert "329" not in {h["hcc"] for h in found["2026"]["hccs"]}
    bad = subprocess.run(
        [
            str(CHARTCODER),
            "code",
            str(chart),
            "-o",
            str(tmp_path / "x.jsonl"),
            "--service-year",
            "26",
        ],
        capture_output=True,
        check=False,
    )
    assert bad.returncode == 2 and b"26 is not a year" in bad.stderr
