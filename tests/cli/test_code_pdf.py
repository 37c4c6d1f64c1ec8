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
