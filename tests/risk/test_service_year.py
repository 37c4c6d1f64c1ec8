"""A diagnosis counts for the year of its date of service: with a service year, chart codes
dated only in other years and claims of other years are left out of HCCs, RAF and
opportunities; undated ones count."""

from __future__ import annotations

from typing import Any

from risk.batch import assess_batch
from risk.charts import chart_risk, in_service_year
from risk.claims import ClaimDx, Claims
from risk.members import parse_members
from risk.model import DEFAULT_DEMOGRAPHICS, RiskModel


def dated(name: str, *days: str | None) -> dict[str, Any]:
    """A MEAT-supported coded finding whose evidence spans are dated `days`."""
    evidence = [{"start": 0, "end": 3, "page": 1, "date_of_service": day} for day in days]
    meat = [{"kind": "treat", "start": 0, "end": 3}]
    return {"code": name, "evidence": evidence, "supported": True, "meat": meat}


RECORD = {
    "chart_id": "record",
    "codes": [
        dated("E11.22", "2026-03-09"),  # this year's visit
        dated("J44.9", "2025-11-20", "2026-03-09"),  # both visits
        dated("F32.1", "2025-11-20"),  # only last year's visit
        dated("I50.9", None),  # undated: counts
        dated("I10", "2025-11-20"),  # no HCC, left out all the same
    ],
}


def test_a_code_counts_when_any_evidence_is_dated_in_the_year_or_none_is_dated():
    codes = {c["code"]: c for c in RECORD["codes"]}
    assert [in_service_year(codes[c], 2026) for c in codes] == [True, True, False, True, False]
    assert all(in_service_year(c, None) for c in codes.values())
    assert in_service_year({"code": "E11.9"}, 2026)  # a record with no evidence at all


def test_codes_of_other_years_leave_the_charts_hccs_and_raf(model: RiskModel):
    every = chart_risk(RECORD, DEFAULT_DEMOGRAPHICS, model)
    this_year = chart_risk(RECORD, DEFAULT_DEMOGRAPHICS, model, service_year=2026)
    assert every.out_of_year == ()
    assert this_year.out_of_year == ("F32.1", "I10")
    assert this_year.record_fields()["codes_out_of_year"] == ["F32.1", "I10"]
    assert {h.hcc for h in every.hccs} - {h.hcc for h in this_year.hccs} == {"155"}
    counted = [c for c in RECORD["codes"] if c["code"] not in ("F32.1", "I10")]
    alone = chart_risk({**RECORD, "codes": counted}, DEFAULT_DEMOGRAPHICS, model)
    assert this_year.raf == alone.raf < every.raf


def test_claims_of_other_years_are_not_compared(model: RiskModel):
    members = parse_members("member_id,chart_id,age,sex\nM1,record,70,F\n", "members.csv")
    claims = Claims(
        (
            ClaimDx("M1", "F32.1", "claims.csv", "2025-06-01"),  # last year: not billed now
            ClaimDx("M1", "E11.22", "claims.csv", "2026-02-01"),
            ClaimDx("M1", "J44.9", "claims.csv", None),  # undated: counts
        )
    )
    assert [r.dx for r in claims.in_year(2026).rows] == ["E11.22", "J44.9"]
    batch = assess_batch([RECORD], members, claims, model, service_year=2026)
    statuses = {(o.hcc, o.status) for m in batch.members for o in m.opportunities}
    # F32.1 (HCC 155) is neither supported nor billed this year; I50.9 (226) is an add
    assert ("155", "confirmed") not in statuses and ("155", "delete") not in statuses
    assert ("226", "add") in statuses and ("37", "confirmed") in statuses
    totals = batch.totals()
    assert (totals["service_year"], totals["codes_out_of_year"], totals["claims_out_of_year"]) == (
        2026,
        2,
        1,
    )
    every = assess_batch([RECORD], members, claims, model).totals()
    assert (every["service_year"], every["codes_out_of_year"], every["claims_out_of_year"]) == (
        None,
        0,
        0,
    )
