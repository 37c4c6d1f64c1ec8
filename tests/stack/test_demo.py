"""The demo's batch: the example charts as one JSON-lines object that keeps each chart's setting."""

from __future__ import annotations

import json

from stack.demo import example_charts, example_pdfs


def test_example_charts_are_one_batch_with_each_charts_setting(tmp_path):
    (tmp_path / "inpatient").mkdir()
    (tmp_path / "outpatient").mkdir()
    (tmp_path / "inpatient" / "a.txt").write_text("Assessment: probable pneumonia.\n")
    (tmp_path / "outpatient" / "b.txt").write_text("Assessment: hypertension.\n")
    files = example_charts(tmp_path)
    assert list(files) == ["examples.jsonl"]
    records = [json.loads(line) for line in files["examples.jsonl"].decode().splitlines()]
    assert [(r["id"], r["setting"]) for r in records] == [
        ("inpatient/a", "inpatient"),
        ("outpatient/b", "outpatient"),
    ]
    assert records[0]["text"] == "Assessment: probable pneumonia.\n"


def test_example_pdfs_land_as_their_own_objects_directly_in_the_batch(tmp_path):
    (tmp_path / "b.pdf").write_bytes(b"%PDF-1.7 b")
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.7 a")
    (tmp_path / "notes.md").write_text("not a chart")
    assert example_pdfs(tmp_path) == {"a.pdf": b"%PDF-1.7 a", "b.pdf": b"%PDF-1.7 b"}
    assert example_pdfs(None) == {}


def test_the_example_pdf_is_in_the_demo_batch():
    assert list(example_pdfs()) == ["two_visits_scan.pdf"]
    assert example_pdfs()["two_visits_scan.pdf"].startswith(b"%PDF-")
