"""The pipeline end to end on a local Ray cluster and a real Prefect API."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cli.commands import main
from flows.code_charts import code_charts
from flows.options import RunOptions
from nlp.artifacts import Bundle
from nlp.reading import read_charts
from tests.flows import pipeline_runs as runs
from tests.flows.pipeline_charts import (
    CANARY,
    SMALL_LIMIT,
    code_records,
    from_flow,
    write_charts,
)

pytestmark = pytest.mark.usefixtures("prefect_api")


def expected_records(bundle: Bundle, folder: Path) -> dict[str, dict]:
    """What `chartcoder code` writes for the same charts, by chart id."""
    return code_records(bundle, [folder], SMALL_LIMIT)


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def grep(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_codes_a_folder_then_reuses_unchanged_charts(
    tmp_path: Path, built: Bundle, prefect_api: Path, ray_tmp: str, no_ray_left: None
) -> None:
    source, dest = tmp_path / "charts", tmp_path / "out"
    bad = write_charts(source)
    expected = expected_records(built, source)
    assert {cid for cid, r in expected.items() if r["error"]} == set(bad)

    state = code_charts(
        str(source),
        str(dest),
        RunOptions(
            workers=2,
            shard_size=3,
            artifacts=str(built.path),
            ray_temp_dir=ray_tmp,
            max_chart_bytes=SMALL_LIMIT,
        ),
        return_state=True,
    )

    assert state.is_completed(), state.message
    records = read_lines(dest / "charts.jsonl")
    assert [r["chart_id"] for r in records] == sorted(expected)
    # without a members file each chart is its own member: the records of `chartcoder code`
    assert {r["chart_id"]: from_flow(r) for r in records} == expected
    assert all(r["member_id"] == r["chart_id"] for r in records)
    assert all(r["content_sha256"] for r in records if not r["chart_id"].endswith("huge"))
    assert sum(1 for r in records if r["codes"]) >= 5  # the example charts do get codes
    # examples/charts/inpatient/ is coded inpatient; the rest under the run's setting
    assert {r["chart_id"]: (r["setting"], r["convention"]) for r in records} == {
        cid: ("inpatient" if cid.startswith("inpatient/") else "outpatient", "us")
        for cid in expected
    }

    manifest = json.loads((dest / "manifest.json").read_text())
    run_id = state.state_details.flow_run_id
    assert manifest["run_id"] == str(run_id)
    assert (manifest["source"], manifest["destination"]) == (str(source), str(dest))
    assert manifest["model_version"] == built.manifest["model_version"]
    assert (manifest["setting"], manifest["convention"]) == ("outpatient", "us")
    assert (manifest["charts_total"], manifest["charts_coded"], manifest["charts_failed"]) == (
        9,
        6,
        3,
    )
    assert manifest["errors"] == [{"chart_id": c, "reason": r} for c, r in sorted(bad.items())]
    assert set(manifest["timings"]) >= {"discover", "plan", "ray_start", "actor_load", "coding"}
    assert manifest["risk"]["members_file"] is None and manifest["risk"]["claims"] is False
    assert manifest["risk"]["notes"][0].startswith("no members file: each chart is its own")
    assert manifest["claims_errors"] == []
    assert manifest["cost_estimate"]["nodes"] == 1

    table = pq.read_table(dest / "codes.parquet").to_pylist()
    assert table == [
        {
            "chart_id": r["chart_id"],
            "rank": rank,
            **{k: c[k] for k in ("code", "description", "score", "billable", "hcc", "assertion")},
            "page": c["evidence"][0]["page"],
            "date_of_service": c["evidence"][0]["date_of_service"],
        }
        for r in records
        for rank, c in enumerate(r["codes"], start=1)
    ]

    # one task run per shard, all completed; the three artifacts
    shard_runs = [t for t in runs.task_runs(run_id) if t.name.startswith("code-shard-")]
    assert sorted(t.name for t in shard_runs) == [f"code-shard-{i:04d}" for i in range(3)]
    assert all(t.state.is_completed() for t in shard_runs)
    found = runs.artifacts(run_id)
    assert set(found) == {"chartcoder-progress", "chartcoder-codes", "chartcoder-summary"}
    assert found["chartcoder-progress"].data == 100.0
    table_rows = json.loads(found["chartcoder-codes"].data)
    assert [r["key"] for r in table_rows if r["kind"] == "error"] == sorted(bad)
    assert "charts/hour" in found["chartcoder-summary"].data

    notes = read_lines(dest / "notifications.jsonl")
    assert len(notes) == 1 and "9 charts: 6 coded (0 reused), 3 in error" in notes[0]["body"]

    # the canary: in the chart, in no log, state, artifact, result, notification or Ray log
    assert grep(source, CANARY.encode())
    assert CANARY not in runs.everything_said(run_id)
    assert grep(prefect_api, CANARY.encode()) == []
    assert grep(Path(ray_tmp), CANARY.encode()) == []
    # ... but in texts.jsonl, the one place beside the results for chart text
    assert grep(dest, CANARY.encode()) == [dest / "texts.jsonl"]
    texts = {t["chart_id"]: t["text"] for t in read_lines(dest / "texts.jsonl")}
    read = {c.chart_id: c.text for c in read_charts([source], max_bytes=SMALL_LIMIT)}
    assert texts == read  # exactly as the coders read it (unreadable charts: "")

    # rerun through the CLI after one chart changed: every other record is reused
    changed = source / "outpatient" / "neuro_carpal_tunnel.txt"
    changed.write_text(changed.read_text() + "\nFollow-up in two weeks.\n")
    code = main(
        [
            "run",
            str(source),
            "--output",
            str(dest),
            "--workers",
            "2",
            "--shard-size",
            "5",
            "--artifacts",
            str(built.path),
            "--ray-temp-dir",
            ray_tmp,
            "--max-chart-bytes",
            str(SMALL_LIMIT),
        ]
    )
    assert code == 0
    again = json.loads((dest / "manifest.json").read_text())
    # reused: 5 unchanged good charts + binary + empty; the huge one has no hash, one changed
    assert (again["charts_total"], again["charts_reused"], again["charts_failed"]) == (9, 7, 3)
    rerun = {r["chart_id"]: r for r in read_lines(dest / "charts.jsonl")}
    assert rerun.keys() == expected.keys()
    unchanged = set(expected) - {"outpatient/neuro_carpal_tunnel"}
    assert all(
        rerun[c] == {**r}
        for c, r in ((c, r) for r in records for c in [r["chart_id"]] if c in unchanged)
    )
    assert rerun["outpatient/neuro_carpal_tunnel"]["content_sha256"] != next(
        r["content_sha256"] for r in records if r["chart_id"] == "outpatient/neuro_carpal_tunnel"
    )


def test_setting_and_convention_reach_the_coders_the_manifest_and_the_reuse_key(
    tmp_path: Path, built: Bundle, ray_tmp: str, no_ray_left: None
) -> None:
    source, dest = tmp_path / "charts", tmp_path / "out"
    for relative in ("inpatient/a.txt", "clinic/b.txt"):
        (source / relative).parent.mkdir(parents=True)
        (source / relative).write_text("Assessment: probable pneumonia.\n", encoding="utf-8")

    state = code_charts(
        str(source),
        str(dest),
        RunOptions(workers=1, artifacts=str(built.path), ray_temp_dir=ray_tmp, review_site=True),
        return_state=True,
    )
    assert state.is_completed(), state.message
    index = (dest / "review" / "index.html").read_text(encoding="utf-8")
    assert all(f">{chart_id}</a>" in index for chart_id in ("clinic/b", "inpatient/a"))
    manifest = json.loads((dest / "manifest.json").read_text())
    assert (manifest["setting"], manifest["convention"]) == ("outpatient", "us")
    records = {r["chart_id"]: r for r in read_lines(dest / "charts.jsonl")}
    # an uncertain diagnosis: coded under the inpatient rule (the folder's), not the outpatient
    assert {cid: [c["code"] for c in r["codes"]] for cid, r in records.items()} == {
        "clinic/b": [],
        "inpatient/a": ["J18.9"],
    }
    assert records["inpatient/a"]["codes"][0]["assertion"] == "uncertain"
    assert {cid: r["setting"] for cid, r in records.items()} == {
        "clinic/b": "outpatient",
        "inpatient/a": "inpatient",
    }

    # the same bytes under another setting and convention: nothing coded otherwise is reused
    code = main(
        runs.run_args(source, dest, built, ray_tmp, "--inpatient", "--convention", "codiesp")
    )
    assert code == 0
    again = json.loads((dest / "manifest.json").read_text())
    assert (again["setting"], again["convention"]) == ("inpatient", "codiesp")
    assert (again["charts_total"], again["charts_reused"]) == (2, 0)
    rerun = {
        r["chart_id"]: (r["setting"], r["convention"]) for r in read_lines(dest / "charts.jsonl")
    }
    assert rerun == {"clinic/b": ("inpatient", "codiesp"), "inpatient/a": ("inpatient", "codiesp")}


def test_nothing_to_read_fails_and_leaves_no_output(
    tmp_path: Path, built: Bundle, ray_tmp: str, no_ray_left: None, capsys
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(
        [
            "run",
            str(empty),
            "--output",
            str(tmp_path / "out"),
            "--artifacts",
            str(built.path),
            "--ray-temp-dir",
            ray_tmp,
        ]
    )
    assert code == 1
    assert "no charts" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
