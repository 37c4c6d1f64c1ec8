"""Risk adjustment in the pipeline: `chartcoder run --members --claims` on the example charts with
a members file, a claims CSV and hccinfhir's sample 837. The opportunities, the charts' HCCs and
the manifest's totals are those a hand computation with hccinfhir's calculate_raf gives; files
that cannot be used are usage errors before anything runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hccinfhir import get_837_sample

from cli.commands import main
from risk import errors
from tests.flows import pipeline_runs as runs
from tests.flows.pipeline_charts import CANARY, EXAMPLES
from tests.flows.pipeline_runs import run_args
from tests.risk.test_batch import raf

pytestmark = pytest.mark.usefixtures("prefect_api")

MEMBERS = """member_id,chart_id,date_of_birth,age,sex,dual_status,orec,institutional
987321,inpatient/chf_exacerbation_discharge,1950-03-15,,M,,,
987321,inpatient/pneumonia_sepsis_admission,1950-03-15,,M,,,
765123,outpatient/diabetes_ckd_followup,,81,F,01,0,false
M3,outpatient/copd_osa_visit,,70,F,,,true
M4,outpatient/annual_exam_family_history,,46,F,,1,
"""
CLAIMS = """member_id,dx,service_date
987321,I50.9,2026-01-10
M3,J44.9,2026-02-01
M3,E66.01,2026-02-01
NOPE,I10,2026-01-05
"""
# the members' demographics as hccinfhir takes them (987321: 75 on 1 February 2026)
M1 = {"age": 75, "sex": "M", "dual_elgbl_cd": "00", "orec": "0", "lti": False}
M2 = {"age": 81, "sex": "F", "dual_elgbl_cd": "01", "orec": "0", "lti": False}
M3 = {"age": 70, "sex": "F", "dual_elgbl_cd": "00", "orec": "0", "lti": True}
M4 = {"age": 46, "sex": "F", "dual_elgbl_cd": "00", "orec": "1", "lti": False}
# the codes the fixture engine finds with MEAT in each member's charts (checked below first)
CHARTS_M1 = {"I5023", "N1832", "I4819", "E1165", "Z794"}
CHARTS_M2 = {"E1122", "N1831"}
CHARTS_M3 = {"J449"}
# what was billed: the CSV, and sample_837_0 (987321: F11.20, F10.20, F12.20; 765123: F15.20,
# F12.20, F25.1)
CLAIMS_M1 = {"I509", "F1120", "F1020", "F1220"}
CLAIMS_M2 = {"F1520", "F1220", "F251"}
CLAIMS_M3 = {"J449", "E6601"}


def test_members_and_claims_give_the_hand_computed_opportunities_and_totals(
    tmp_path: Path, built, ray_tmp: str, no_ray_left: None, capsys
) -> None:
    source, dest = tmp_path / "charts", tmp_path / "out"
    shutil.copytree(EXAMPLES, source, ignore=shutil.ignore_patterns("*.md"))
    planted = source / "outpatient" / "copd_osa_visit.txt"
    planted.write_text(planted.read_text() + f"\nCode word {CANARY}.\n", encoding="utf-8")
    (tmp_path / "members.csv").write_text(MEMBERS)
    (tmp_path / "claims.csv").write_text(CLAIMS)
    (tmp_path / "sample.837").write_text(get_837_sample(0))

    code = main(
        run_args(
            source,
            dest,
            built,
            ray_tmp,
            "--members",
            str(tmp_path / "members.csv"),
            "--claims",
            str(tmp_path / "claims.csv"),
            "--claims",
            str(tmp_path / "sample.837"),
        )
    )
    assert code == 0
    assert "net RAF delta" in capsys.readouterr().out

    records = {
        r["chart_id"]: r for r in map(json.loads, (dest / "charts.jsonl").read_text().splitlines())
    }
    supported = {
        cid: {c["code"].replace(".", "") for c in r["codes"] if c.get("supported")}
        for cid, r in records.items()
    }
    assert (
        supported["inpatient/chf_exacerbation_discharge"]
        | supported["inpatient/pneumonia_sepsis_admission"]
        == CHARTS_M1
    )
    assert supported["outpatient/diabetes_ckd_followup"] == CHARTS_M2
    assert supported["outpatient/copd_osa_visit"] == CHARTS_M3
    assert supported["outpatient/annual_exam_family_history"] == set()
    assert records["outpatient/neuro_carpal_tunnel"]["member_id"] is None

    def added(claims: set[str], codes: set[str], who: dict) -> float:
        return raf(claims | codes, who) - raf(claims, who)

    def deleted(claims: set[str], codes: set[str], who: dict) -> float:
        return raf(claims - codes, who) - raf(claims, who)

    expected = [
        # 987321: the charts support 224 (I50.23, over the claims' 226), 328, 238 and 38; the
        # claims carry 226 (I50.9) and 137 (F11.20, F12.20; F10.20's 139 is under it)
        ("987321", "38", "add", added(CLAIMS_M1, {"E1165", "Z794"}, M1)),
        ("987321", "137", "delete", deleted(CLAIMS_M1, {"F1120", "F1220"}, M1)),
        ("987321", "224", "add", added(CLAIMS_M1, {"I5023"}, M1)),
        ("987321", "226", "delete", deleted(CLAIMS_M1, {"I509"}, M1)),
        ("987321", "238", "add", added(CLAIMS_M1, {"I4819"}, M1)),
        ("987321", "328", "add", added(CLAIMS_M1, {"N1832"}, M1)),
        # 765123: diabetes and CKD on the chart, the 837's substance use and schizoaffective
        # disorder on the claims only
        ("765123", "37", "add", added(CLAIMS_M2, {"E1122"}, M2)),
        ("765123", "137", "delete", deleted(CLAIMS_M2, {"F1520", "F1220"}, M2)),
        ("765123", "151", "delete", deleted(CLAIMS_M2, {"F251"}, M2)),
        ("765123", "329", "add", added(CLAIMS_M2, {"N1831"}, M2)),
        # M3 (institutional): COPD on both, morbid obesity billed without support
        ("M3", "48", "delete", deleted(CLAIMS_M3, {"E6601"}, M3)),
        ("M3", "280", "confirmed", 0.0),
    ]
    rows = pq.read_table(dest / "opportunities.parquet").to_pylist()
    assert sorted((r["member_id"], r["hcc"], r["status"], r["raf_effect"]) for r in rows) == [
        (member, hcc, status, pytest.approx(effect, abs=1e-3))
        for member, hcc, status, effect in sorted(expected)
    ]

    manifest = json.loads((dest / "manifest.json").read_text())
    totals = manifest["risk"]
    assert totals["members_file"] == str(tmp_path / "members.csv")
    assert totals["claims_files"] == [str(tmp_path / "claims.csv"), str(tmp_path / "sample.837")]
    assert (totals["members"], totals["adds"], totals["deletes"], totals["confirmed"]) == (
        4,
        6,
        5,
        1,
    )
    assert totals["raf_from_charts"] == pytest.approx(
        raf(CHARTS_M1, M1) + raf(CHARTS_M2, M2) + raf(CHARTS_M3, M3) + raf(set(), M4), abs=1e-3
    )
    assert totals["raf_from_claims"] == pytest.approx(
        raf(CLAIMS_M1, M1) + raf(CLAIMS_M2, M2) + raf(CLAIMS_M3, M3) + raf(set(), M4), abs=1e-3
    )
    adds = sum(e for *_, status, e in expected if status == "add")
    deletes = sum(e for *_, status, e in expected if status == "delete")
    assert totals["add_raf"] == pytest.approx(adds, abs=1e-3)
    assert totals["delete_raf"] == pytest.approx(deletes, abs=1e-3)
    assert totals["net_raf_delta"] == pytest.approx(adds + deletes, abs=1e-3)
    assert {
        (e["reason"], e.get("member_id"), e.get("chart_id")) for e in manifest["claims_errors"]
    } == {
        (errors.MEMBER_WITHOUT_CHARTS, "NOPE", None),
        (errors.CHART_WITHOUT_MEMBER, None, "outpatient/neuro_carpal_tunnel"),
    }

    # hccs.parquet: one row per chart and HCC, as the chart records carry them
    hccs = pq.read_table(dest / "hccs.parquet").to_pylist()
    assert hccs == [
        {"chart_id": cid, "member_id": records[cid]["member_id"], **h}
        for cid in sorted(records)
        for h in records[cid]["hccs"]
    ]
    chf = {h["hcc"]: h for h in records["inpatient/chf_exacerbation_discharge"]["hccs"]}
    assert chf["224"]["supported"] and chf["224"]["codes"] == ["I50.23"]
    assert chf["224"]["coefficient"] > 0 and all(m["code"] == "I50.23" for m in chf["224"]["meat"])
    chf_record = records["inpatient/chf_exacerbation_discharge"]
    all_codes = {c["code"].replace(".", "") for c in chf_record["codes"]}  # MEAT or not
    assert chf_record["raf"] == pytest.approx(raf(all_codes, M1), abs=1e-4)

    # the summary artifact shows the adds, deletes and net delta; no chart text reaches Prefect
    run_id = manifest["run_id"]
    summary = runs.artifacts(run_id)["chartcoder-summary"].data
    assert "| adds | 6 (" in summary and "net RAF delta" in summary
    assert CANARY not in runs.everything_said(run_id)


@pytest.mark.parametrize(
    ("members", "claims", "message"),
    [
        (
            "member_id,chart_id,age\nM1,a,70\n",
            None,
            r"members\.csv: members file lacks the column\(s\) sex",
        ),
        ("member_id,chart_id,age,sex\nM1,a,70,X\n", None, r"members\.csv:2: sex 'X' is not one"),
        (None, "member_id,code\nM1,I10\n", r"claims\.csv: claims file lacks the column\(s\) dx"),
    ],
    ids=["members-without-sex", "members-bad-sex", "claims-without-dx"],
)
def test_malformed_members_or_claims_are_usage_errors_before_anything_runs(
    tmp_path: Path, built, ray_tmp: str, capsys, members, claims, message
) -> None:
    source = tmp_path / "charts"
    source.mkdir()
    (source / "a.txt").write_text("Assessment: hypertension, stable.\n")
    extra = []
    for name, text in (("members.csv", members), ("claims.csv", claims)):
        if text is not None:
            (tmp_path / name).write_text(text)
            extra += [f"--{name.split('.')[0]}", str(tmp_path / name)]
    code = main(run_args(source, tmp_path / "out", built, ray_tmp, *extra))
    assert code == 2
    err = capsys.readouterr().err
    assert "chartcoder: error:" in err
    assert re.search(message, err), err
    assert not (tmp_path / "out").exists()
    assert not any(Path(ray_tmp).iterdir()), "Ray never started"


def test_an_unreadable_claims_file_is_a_usage_error(
    tmp_path: Path, built, ray_tmp: str, capsys
) -> None:
    source = tmp_path / "charts"
    source.mkdir()
    (source / "a.txt").write_text("Assessment: hypertension, stable.\n")
    missing = tmp_path / "nowhere" / "claims.837"
    code = main(run_args(source, tmp_path / "out", built, ray_tmp, "--claims", str(missing)))
    assert code == 2
    assert f"chartcoder: error: {missing}: cannot read" in capsys.readouterr().err


def test_members_and_claims_in_the_source_folder_are_inputs_not_charts(
    tmp_path: Path, built, ray_tmp: str, no_ray_left: None
) -> None:
    source, dest = tmp_path / "batch", tmp_path / "out"
    (source / "clinic").mkdir(parents=True)
    shutil.copy(EXAMPLES / "outpatient" / "copd_osa_visit.txt", source / "clinic" / "copd.txt")
    (source / "members.csv").write_text("member_id,chart_id,age,sex\nM1,clinic/copd,70,F\n")
    (source / "claims.csv").write_text("member_id,dx\nM1,J44.9\n")
    (source / "claims.x12").write_text(get_837_sample(0))
    code = main(run_args(source, dest, built, ray_tmp))
    assert code == 0
    records = [json.loads(line) for line in (dest / "charts.jsonl").read_text().splitlines()]
    assert [r["chart_id"] for r in records] == ["clinic/copd"]
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["charts_total"] == 1
    assert manifest["risk"]["members_file"] == str(source / "members.csv")
    assert manifest["risk"]["claims_files"] == [
        str(source / "claims.csv"),
        str(source / "claims.x12"),
    ]
    rows = pq.read_table(dest / "opportunities.parquet").to_pylist()
    assert [(r["member_id"], r["hcc"], r["status"]) for r in rows] == [("M1", "280", "confirmed")]
    # the 837's members have no charts in this batch: reported, not compared
    without_charts = {
        e["member_id"]
        for e in manifest["claims_errors"]
        if e["reason"] == errors.MEMBER_WITHOUT_CHARTS
    }
    assert without_charts == {"987321", "765123"}
