"""The site as files: every chart named in the index, chart text escaped everywhere, no link
outside the site, the risk-adjustment tables where the results carry them."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from cli.commands import main
from review.results import ResultsError, load, local_reader
from review.site import build, page_name
from tests.review.conftest import BIG_ID, MARKUP, MARKUP_ID


def escaped(value: str) -> str:
    """As element text: `<`, `>`, `&` escaped."""
    return html.escape(value, quote=False)


OUTSIDE = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)""", re.I)
CSS_URL = re.compile(r"url\(|@import", re.I)


def page_of(site: Path, chart_id: str) -> str:
    return (site / page_name(chart_id)).read_text(encoding="utf-8")


def page_data(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page, re.S)
    assert block is not None
    return json.loads(block.group(1))


def test_the_index_names_every_chart_with_its_codes_and_errors(site: Path, results) -> None:
    _, records = results
    index = (site / "index.html").read_text(encoding="utf-8")
    for chart_id, record in records.items():
        row = re.search(rf'<tr data-chart="{re.escape(html.escape(chart_id))}".*?</tr>', index)
        assert row is not None, chart_id
        assert f'<a href="{page_name(chart_id)}">{escaped(chart_id)}</a>' in row.group()
        assert f'<td data-value="{len(record["codes"])}">{len(record["codes"])}</td>' in row.group()
    empty = re.search(r'<tr data-chart="empty".*?</tr>', index)
    assert empty is not None and "error: empty chart: no text to code" in empty.group()
    markup = re.search(r'<tr data-chart="clinic/markup".*?</tr>', index)
    assert markup is not None
    raf = records["clinic/markup"]["raf"]
    assert f">{raf:.3f}</td>" in markup.group() and "1 delete" in markup.group()


def test_no_page_carries_chart_markup_or_a_link_outside_the_site(site: Path) -> None:
    files = sorted(site.iterdir())
    assert {"index.html", "review.css", "review.js", "chart.js", "index.js"} <= {
        f.name for f in files
    }
    for path in files:
        content = path.read_text(encoding="utf-8")
        for needle in (
            "<script>alert",
            "<img",
            "onerror=alert(1)>",
            "<b>odd id</b>",
            "</textarea>\n",
        ):
            assert needle not in content, (path.name, needle)
        assert not OUTSIDE.search(content), path.name
        if path.suffix == ".css":
            assert not CSS_URL.search(content)
    page = page_of(site, "clinic/markup")
    assert escaped(MARKUP) in page  # shown as text
    assert "&lt;/textarea&gt;" in page


def test_script_data_escapes_what_could_end_its_block(site: Path) -> None:
    page = page_of(site, MARKUP_ID)
    block = page.split('id="page-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in block and ">" not in block and "&" not in block
    assert page_data(page)["chart_id"] == MARKUP_ID
    assert f"<h1>{escaped(MARKUP_ID)}</h1>" in page


def test_each_evidence_span_is_marked_with_its_codes(site: Path, results) -> None:
    folder, records = results
    text = next(
        json.loads(line)["text"]
        for line in (folder / "texts.jsonl").read_text(encoding="utf-8").splitlines()
        if json.loads(line)["chart_id"] == "clinic/markup"
    )
    page = page_of(site, "clinic/markup")
    for i, code in enumerate(records["clinic/markup"]["codes"]):
        for k, ev in enumerate(code["evidence"]):
            # the marker, then the span's words in segments that name the code's layer
            after = page.split(f'id="ev-c{i}-{k}"', 1)[1]
            segments = re.findall(
                rf'<span class="ev" data-k="[^"]*\bc{i}\b[^"]*"[^>]*>([^<]*)', after
            )
            assert html.unescape("".join(segments)).startswith(text[ev["start"] : ev["end"]])


def test_codes_show_their_notes_and_the_hcc_table_its_meat_and_claims(site: Path, results) -> None:
    _, records = results
    page = page_of(site, "clinic/markup")
    record = records["clinic/markup"]
    for code in record["codes"]:
        assert f"<b>{code['code']}</b>" in page
        assert escaped(code["description"]) in page
        for note in code["notes"]:
            assert escaped(note["text"]) in page
    assert '<section class="hccs">' in page
    hcc = record["hccs"][0]
    assert f"<td>{hcc['hcc']}</td><td>{hcc['label']}</td><td>0.166</td>" in page
    assert 'class="ev-link meat" data-layer="m0" data-index="0"' in page and 'id="ev-m0-0"' in page
    assert '<td class="s-delete">delete</td><td>-0.200</td>' in page


def test_out_of_range_evidence_and_missing_texts_are_shown_not_dropped(
    tmp_path: Path, results
) -> None:
    folder, records = results
    record = records["clinic/htn"]
    broken = {
        **record,
        "codes": [
            {
                **record["codes"][0],
                "evidence": [{"start": 5, "end": 10**6, "section": "x", "sentence": 0}],
            }
        ],
    }
    (tmp_path / "charts.jsonl").write_text(json.dumps(broken) + "\n", encoding="utf-8")
    (tmp_path / "texts.jsonl").write_bytes((folder / "texts.jsonl").read_bytes())
    files = build(load(local_reader(tmp_path), "here/"))
    page = files[page_name("clinic/htn")].decode()
    assert "1: not in the text" in page and 'id="ev-c0-0"' not in page
    (tmp_path / "texts.jsonl").unlink()
    page = build(load(local_reader(tmp_path), "here/"))[page_name("clinic/htn")].decode()
    assert "The chart text is not in the results" in page
    assert f"<b>{record['codes'][0]['code']}</b>" in page


def test_bad_results_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match=r"no charts\.jsonl"):
        load(local_reader(tmp_path), "here/")
    (tmp_path / "charts.jsonl").write_text('{"chart_id": "a", "codes": []}\nnot json\n')
    with pytest.raises(ResultsError, match=r"charts\.jsonl:2: not JSON"):
        load(local_reader(tmp_path), "here/")
    (tmp_path / "charts.jsonl").write_text('{"id": "a"}\n')
    with pytest.raises(ResultsError, match="not a chartcoder record"):
        load(local_reader(tmp_path), "here/")


def test_page_names_are_safe_and_unique() -> None:
    names = {page_name(cid) for cid in ("a/b", "a_b", "a b", "../x", MARKUP_ID, BIG_ID)}
    assert len(names) == 6
    assert all(re.fullmatch(r"chart-[A-Za-z0-9._-]+\.html", n) for n in names)


def test_the_command_writes_the_site_and_refuses_what_is_not_results(
    tmp_path: Path, results, capsys
) -> None:
    folder, records = results
    assert main(["review", str(folder), "--output", str(tmp_path / "site")]) == 0
    assert f"review site: {tmp_path / 'site' / 'index.html'}" in capsys.readouterr().out
    assert len(list((tmp_path / "site").glob("chart-*.html"))) == len(records)
    assert main(["review", str(tmp_path / "nowhere"), "--output", str(tmp_path / "x")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["review", "http://host/x", "--output", str(tmp_path / "x")]) == 2


def test_a_duplicate_ids_error_record_gets_a_page_of_its_own(tmp_path: Path) -> None:
    coded = {"chart_id": "a", "codes": [], "error": None}
    duplicate = {
        "chart_id": "a",
        "codes": [],
        "error": "duplicate chart id: already read from a.pdf",
    }
    lines = "".join(json.dumps(r) + "\n" for r in (coded, duplicate))
    (tmp_path / "charts.jsonl").write_text(lines, encoding="utf-8")
    files = build(load(local_reader(tmp_path), "here/"))
    pages = [name for name in files if name.startswith("chart-")]
    assert len(pages) == 2
    assert "already read from a.pdf" not in files[page_name("a")].decode()
    (second,) = set(pages) - {page_name("a")}
    assert "already read from a.pdf" in files[second].decode()
