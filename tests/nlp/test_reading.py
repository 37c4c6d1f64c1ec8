"""Reading charts: ids, order, encodings and every bad-input case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp.reading import ChartSourceError, decode_chart, folder_setting, read_charts


def test_folder_gives_relative_ids_sorted_by_path(tmp_path: Path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.txt").write_text("Fever.", encoding="utf-8")
    (tmp_path / "a.txt").write_text("Cough.", encoding="utf-8")
    (tmp_path / "notes.md").write_text("not a chart", encoding="utf-8")
    charts = list(read_charts([tmp_path]))
    assert [c.chart_id for c in charts] == ["a", "b/two"]
    assert [c.text for c in charts] == ["Cough.", "Fever."]


def test_txt_file_id_is_its_stem(tmp_path: Path):
    path = tmp_path / "visit-1.txt"
    path.write_text("Fever.", encoding="utf-8")
    (chart,) = read_charts([path])
    assert chart.chart_id == "visit-1"


def test_jsonl_records_keep_their_ids_and_bad_lines_are_reported(tmp_path: Path):
    path = tmp_path / "charts.jsonl"
    path.write_text(
        json.dumps({"id": "c1", "text": "Fever."})
        + "\n"
        + "{not json\n"
        + json.dumps({"text": "no id"})
        + "\n"
        + json.dumps({"id": 7, "text": 3})
        + "\n",
        encoding="utf-8",
    )
    charts = list(read_charts([path]))
    assert [c.chart_id for c in charts] == ["c1", "charts.jsonl:2", "charts.jsonl:3", "7"]
    assert charts[0].error is None
    assert charts[1].error.startswith("malformed JSON line")
    assert charts[2].error == "JSON record has no 'id'"
    assert charts[3].error == "record text is int, not a string"


def test_jsonl_records_carry_their_setting_and_a_bad_one_is_reported(tmp_path: Path):
    path = tmp_path / "charts.jsonl"
    lines = [
        {"id": "in", "text": "Probable pneumonia.", "setting": "inpatient"},
        {"id": "out", "text": "Probable pneumonia.", "setting": "outpatient"},
        {"id": "none", "text": "Probable pneumonia.", "setting": None},
        {"id": "plain", "text": "Probable pneumonia."},
        {"id": "icu", "text": "Probable pneumonia.", "setting": "ICU"},
        {"id": "number", "text": "Probable pneumonia.", "setting": 1},
        {"id": "after", "text": "Fever."},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    charts = list(read_charts([path]))
    assert [(c.chart_id, c.setting) for c in charts] == [
        ("in", "inpatient"),
        ("out", "outpatient"),
        ("none", None),
        ("plain", None),
        ("icu", None),
        ("number", None),
        ("after", None),
    ]
    assert [c.error for c in charts[:4]] == [None] * 4
    assert charts[4].error == "record setting 'ICU' is not one of outpatient, inpatient"
    assert charts[4].text == ""
    assert charts[5].error == "record setting 1 is not one of outpatient, inpatient"
    assert charts[6].error is None and charts[6].text == "Fever."


def test_a_folder_named_inpatient_or_outpatient_gives_its_charts_that_setting(tmp_path: Path):
    for relative in (
        "inpatient/a.txt",
        "outpatient/b.txt",
        "site/inpatient/c.txt",
        "inpatient/clinic/outpatient/d.txt",
        "Inpatient/e.txt",
        "inpatients/f.txt",
        "inpatient.txt",
        "g.txt",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("Probable pneumonia.", encoding="utf-8")
    settings = {c.chart_id: c.setting for c in read_charts([tmp_path])}
    assert settings == {
        "Inpatient/e": None,  # exactly `inpatient`: case counts
        "g": None,
        "inpatient": None,  # a file name is no folder
        "inpatient/a": "inpatient",
        "inpatient/clinic/outpatient/d": "outpatient",  # the innermost folder wins
        "inpatients/f": None,
        "outpatient/b": "outpatient",
        "site/inpatient/c": "inpatient",
    }
    # the rule reads paths relative to the source: a folder above it does not count
    (only,) = read_charts([tmp_path / "inpatient" / "a.txt"])
    assert (only.chart_id, only.setting) == ("a", None)
    assert [c.setting for c in read_charts([tmp_path / "site"])] == ["inpatient"]
    assert folder_setting("x/outpatient/y.jsonl") == "outpatient"


def test_utf8_with_bom_is_read_without_the_bom():
    chart = decode_chart("c", "\ufeffFièvre.".encode())
    assert chart.text == "Fièvre." and chart.error is None and chart.notes == ()


def test_cp1252_falls_back_with_a_note():
    chart = decode_chart("c", "Caf\xe9 au lait spots.".encode("cp1252"))
    assert chart.text == "Café au lait spots."
    assert chart.notes == ("not valid UTF-8: read as cp1252",)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "empty chart: no text to code"),
        (b"  \n\t ", "empty chart: no text to code"),
        (b"PK\x03\x04\x00", "binary content (NUL bytes): not a text chart"),
        (b"x" * 11, "too large: 11 bytes, the limit is 10"),
    ],
)
def test_unreadable_charts_carry_their_reason(data: bytes, error: str):
    chart = decode_chart("bad", data, max_bytes=10)
    assert chart.error == error
    assert chart.text == ""


def test_a_huge_file_is_refused_without_reading_it(tmp_path: Path):
    path = tmp_path / "huge.txt"
    path.write_bytes(b"a" * 100)
    (chart,) = read_charts([path], max_bytes=50)
    assert chart.error == "too large: 100 bytes, the limit is 50"


def test_missing_or_unsupported_paths_raise(tmp_path: Path):
    with pytest.raises(ChartSourceError, match="no such file or folder"):
        list(read_charts([tmp_path / "missing.txt"]))
    other = tmp_path / "chart.docx"
    other.write_bytes(b"PK")
    unsupported = r"not a \.txt, \.pdf, \.tif or \.jsonl file, nor a folder"
    with pytest.raises(ChartSourceError, match=unsupported):
        list(read_charts([other]))


def test_an_id_read_twice_in_any_paths_is_an_error_record_naming_the_first(tmp_path: Path):
    batch = tmp_path / "batch.jsonl"
    lines = [{"id": "x", "text": "HTN."}, {"id": "y", "text": "CKD."}, {"id": "x", "text": "?"}]
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    charts = list(read_charts([batch]))
    assert [(c.chart_id, c.text, c.error) for c in charts] == [
        ("x", "HTN.", None),
        ("y", "CKD.", None),
        ("x", "", "duplicate chart id: already read from batch.jsonl:1"),
    ]
    # across paths the first is named with its folder: one place, not a name two paths share
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "y.txt").write_text("Asthma.", encoding="utf-8")
    (tmp_path / "b" / "y.txt").write_text("COPD.", encoding="utf-8")
    charts = list(read_charts([tmp_path / "a", tmp_path / "b", batch]))
    first = f"{(tmp_path / 'a' / 'y.txt').as_posix()}"
    assert [(c.chart_id, c.error) for c in charts] == [
        ("y", None),
        ("y", f"duplicate chart id: already read from {first}"),
        ("x", None),
        ("y", f"duplicate chart id: already read from {first}"),
        ("x", f"duplicate chart id: already read from {tmp_path.as_posix()}/batch.jsonl:1"),
    ]
