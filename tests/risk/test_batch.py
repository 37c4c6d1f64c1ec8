"""A batch with a members file, a claims CSV and hccinfhir's sample 837: the adds, deletes and RAF
effects are those a hand computation with hccinfhir's calculate_raf gives."""

from __future__ import annotations

from typing import Any

import pytest
from hccinfhir import calculate_raf, get_837_sample

from risk import errors
from risk.batch import BatchRisk, assess_batch
from risk.claims import Fy2026Codes, read_claims
from risk.members import read_members
from risk.model import RiskModel
from tests.risk.conftest import FIXTURES

V28 = "CMS-HCC Model V28"
# the members file's demographics, as hccinfhir takes them (987321: born 1950-03-15, so 75 on
# 1 February 2026)
MEMBER_987321 = {"age": 75, "sex": "M", "dual_elgbl_cd": "00", "orec": "0", "lti": False}
MEMBER_765123 = {"age": 81, "sex": "F", "dual_elgbl_cd": "01", "orec": "0", "lti": False}
MEMBER_M3 = {"age": 70, "sex": "F", "dual_elgbl_cd": "00", "orec": "0", "lti": True}
# sample_837_0.txt bills 987321 for F11.20, F10.20, F12.20 and 765123 for F15.20, F12.20, F25.1
CLAIMS_987321 = {"E119", "I509", "F1120", "F1020", "F1220"}
CLAIMS_765123 = {"F1520", "F1220", "F251", "N184"}


def raf(codes: set[str], demographics: dict[str, Any]) -> float:
    return calculate_raf(sorted(codes), model_name=V28, **demographics).risk_score


def code(name: str, supported: bool) -> dict[str, Any]:
    """A coded finding as `chartcoder code` writes it, annotated by nlp.meat."""
    meat = [{"kind": "treat", "start": 10, "end": 18}] if supported else []
    return {"code": name, "hcc": "x", "assertion": "present", "evidence": [],
            "supported": supported, "meat": meat}  # fmt: skip


RECORDS = [
    {"chart_id": "clinic/c1", "codes": [code("E11.22", True), code("I50.22", True),
                                        code("I48.91", True), code("J44.9", False),
                                        {"code": "I10", "hcc": None}]},
    {"chart_id": "clinic/c2", "codes": [code("F11.20", True)]},
    {"chart_id": "clinic/c3", "codes": [code("F20.9", True), code("N18.4", False)]},
    {"chart_id": "clinic/c4", "codes": [code("J44.9", True)]},
    {"chart_id": "clinic/c5", "codes": [code("E11.9", True)]},
]  # fmt: skip


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory, model: RiskModel, fy2026: Fy2026Codes):
    folder = tmp_path_factory.mktemp("claims")
    (folder / "claims.837").write_text(get_837_sample(0))
    without_patient = get_837_sample(11).replace("*MI*12345678901~", "*MI*~")
    (folder / "no_patient.x12").write_text(without_patient)
    (folder / "broken.837").write_text("ISA*00*not a claim~")
    claims = read_claims(
        [
            str(FIXTURES / "claims.csv"),
            str(folder / "claims.837"),
            str(folder / "no_patient.x12"),
            str(folder / "broken.837"),
        ],
        codes=fy2026,
    )
    members = read_members(str(FIXTURES / "members.csv"))
    return assess_batch(RECORDS, members, claims, model)


def test_opportunities_match_the_hand_computation(batch: BatchRisk) -> None:
    m1, m2 = MEMBER_987321, MEMBER_765123
    expected = [
        # 987321: charts support 37 (E11.22), 226 (I50.22), 238 (I48.91), 137 (F11.20); J44.9
        # has no MEAT. Claims reach 38 (E11.9), 226 (I50.9), 137 (F11.20, F12.20; 139 of
        # F10.20 under it). 37 and 38 weigh the same: adding 37 is worth 0.
        ("987321", "37", "add", raf(CLAIMS_987321 | {"E1122"}, m1) - raf(CLAIMS_987321, m1)),
        ("987321", "238", "add", raf(CLAIMS_987321 | {"I4891"}, m1) - raf(CLAIMS_987321, m1)),
        ("987321", "38", "delete", raf(CLAIMS_987321 - {"E119"}, m1) - raf(CLAIMS_987321, m1)),
        ("987321", "137", "confirmed", 0.0),
        ("987321", "226", "confirmed", 0.0),
        # 765123: the chart supports 151 (F20.9) only; N18.4 is listed, not supported
        (
            "765123",
            "137",
            "delete",
            raf(CLAIMS_765123 - {"F1520", "F1220"}, m2) - raf(CLAIMS_765123, m2),
        ),
        ("765123", "151", "confirmed", 0.0),
        ("765123", "327", "delete", raf(CLAIMS_765123 - {"N184"}, m2) - raf(CLAIMS_765123, m2)),
        ("M3", "280", "confirmed", 0.0),
    ]
    rows = batch.opportunity_rows()
    got = [(r["member_id"], r["hcc"], r["status"], r["raf_effect"]) for r in rows]
    assert sorted(got, key=lambda g: (g[0], int(g[1]))) == [
        (member, hcc, status, pytest.approx(effect, abs=1e-4))
        for member, hcc, status, effect in sorted(expected, key=lambda e: (e[0], int(e[1])))
    ]
    assert all(r["raf_effect"] < 0 for r in rows if r["status"] == "delete")
    assert all(r["raf_effect"] >= 0 for r in rows if r["status"] == "add")
    assert any(r["raf_effect"] > 0 for r in rows if r["status"] == "add")
    add = next(r for r in rows if r["status"] == "add" and r["hcc"] == "37")
    assert add["chart_codes"] == ["E11.22"] and add["chart_ids"] == ["clinic/c1"]
    assert add["label"] == "Diabetes with Chronic Complications"


def test_totals_are_sums_of_the_hand_computed_scores(batch: BatchRisk) -> None:
    charts = (
        raf({"E1122", "I5022", "I4891", "F1120"}, MEMBER_987321)
        + raf({"F209"}, MEMBER_765123)
        + raf({"J449"}, MEMBER_M3)
    )
    claims = (
        raf(CLAIMS_987321, MEMBER_987321)
        + raf(CLAIMS_765123, MEMBER_765123)
        + raf({"J449"}, MEMBER_M3)
    )
    totals = batch.totals()
    effects = {r["status"]: 0.0 for r in batch.opportunity_rows()}
    for row in batch.opportunity_rows():
        effects[row["status"]] += row["raf_effect"]
    assert totals["members"] == 3
    assert totals["raf_from_charts"] == pytest.approx(charts, abs=1e-4)
    assert totals["raf_from_claims"] == pytest.approx(claims, abs=1e-4)
    assert (totals["adds"], totals["deletes"], totals["confirmed"]) == (2, 3, 4)
    assert totals["add_raf"] == pytest.approx(effects["add"], abs=1e-4)
    assert totals["delete_raf"] == pytest.approx(effects["delete"], abs=1e-4)
    assert totals["net_raf_delta"] == pytest.approx(effects["add"] + effects["delete"], abs=1e-4)


def test_chart_hccs_carry_hierarchy_support_and_the_members_demographics(
    batch: BatchRisk,
) -> None:
    c1 = batch.charts["clinic/c1"]
    by_hcc = {h.hcc: h for h in c1.hccs}
    assert sorted(by_hcc, key=int) == ["37", "226", "238", "280"]
    assert by_hcc["280"].supported is False and by_hcc["280"].meat == ()
    assert by_hcc["37"].meat == ({"code": "E11.22", "kind": "treat", "start": 10, "end": 18},)
    direct = calculate_raf(
        ["E1122", "I5022", "I4891", "J449", "I10"], model_name=V28, **MEMBER_987321
    )
    assert c1.raf == pytest.approx(direct.risk_score)
    assert by_hcc["37"].coefficient == pytest.approx(direct.coefficients["37"])
    c5 = batch.charts["clinic/c5"]  # no member: default demographics, no member id
    assert [h.hcc for h in c5.hccs] == ["38"]
    rows = batch.hcc_rows()
    assert {r["chart_id"]: r["member_id"] for r in rows}["clinic/c5"] is None
    assert {(r["chart_id"], r["hcc"]) for r in rows} >= {("clinic/c1", "280"), ("clinic/c3", "327")}


def test_hierarchy_dropped_hccs_say_which_hcc_dropped_them(model: RiskModel) -> None:
    record = {"chart_id": "x", "codes": [code("E11.22", True), code("E11.9", False)]}
    (chart,) = assess_batch([record], model=model).charts.values()
    dropped = {h.hcc: (h.dropped, h.dropped_by, h.coefficient) for h in chart.hccs}
    assert dropped["38"] == (True, ("37",), None)
    assert dropped["37"][0] is False and dropped["37"][2] is not None


def test_bad_claims_and_membership_are_reported_and_the_batch_completes(
    batch: BatchRisk,
) -> None:
    reported = {
        (e["reason"], e.get("member_id"), e.get("chart_id"), e.get("dx"), e.get("claim_id"))
        for e in batch.claims_error_dicts()
    }
    assert reported == {
        (errors.BAD_SERVICE_DATE, "765123", None, "N18.4", None),
        (errors.CODE_NOT_IN_FY2026, "M3", None, "E11.99X", None),
        (errors.CODE_NOT_BILLABLE, "M3", None, "E11", None),
        (errors.ROW_INCOMPLETE, None, None, None, None),
        (errors.MEMBER_WITHOUT_CHARTS, "NOPE", None, None, None),
        (errors.MEMBER_CHART_MISSING, "M5", "clinic/c9", None, None),
        (errors.CHART_WITHOUT_MEMBER, None, "clinic/c5", None, None),
        (errors.CLAIM_WITHOUT_PATIENT, None, None, None, "12345"),
        (errors.FILE_REJECTED, None, None, None, None),
    }
    rejected = next(e for e in batch.claims_error_dicts() if e["reason"] == errors.FILE_REJECTED)
    assert rejected["source"].endswith("broken.837")
    assert rejected["message"] == "Invalid or unsupported 837 format"
    assert batch.totals()["claims_errors"] == len(reported)


def test_without_a_members_file_each_chart_is_its_own_member(model: RiskModel) -> None:
    result = assess_batch(RECORDS[:2], model=model)
    assert [m.member_id for m in result.members] == ["clinic/c1", "clinic/c2"]
    assert result.totals()["members_from_file"] is False
    assert result.notes[0].startswith("no members file: each chart is its own member")
    assert result.opportunity_rows() == [], "no claims: nothing to compare with"
