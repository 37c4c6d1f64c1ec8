"""A batch's risk adjustment: every chart's HCCs and RAF, each member's opportunities against
the claims, the rows of `hccs.parquet` and `opportunities.parquet`, batch totals and
`claims_errors`. Reads the MEAT-annotated `chartcoder code` records (no chart text)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from risk import errors
from risk.charts import ChartRisk, chart_risk
from risk.claims import Claims
from risk.errors import ClaimsError
from risk.members import Members, one_member_per_chart
from risk.model import DEFAULT_DEMOGRAPHICS, RiskModel
from risk.opportunities import RAF_DIGITS, MemberRisk, member_opportunities

NO_MEMBERS_FILE = (
    "no members file: each chart is its own member (member_id = chart_id) with the default "
    "demographics (age {age}, sex {sex}, dual_status 00, orec 0, community)"
)


@dataclass(frozen=True, slots=True)
class BatchRisk:
    charts: dict[str, ChartRisk]
    chart_members: dict[str, str]  # chart_id -> member_id (charts without a member left out)
    members: tuple[MemberRisk, ...]
    claims_errors: tuple[ClaimsError, ...]
    notes: tuple[str, ...]
    claims_given: bool
    service_year: int | None = None
    claims_out_of_year: int = 0  # claim diagnoses dated in other years, not counted

    def hcc_rows(self) -> list[dict[str, Any]]:
        """One row per chart and HCC (`hccs.parquet`)."""
        rows = []
        for chart_id in sorted(self.charts):
            for hcc in self.charts[chart_id].hccs:
                row = {"chart_id": chart_id, "member_id": self.chart_members.get(chart_id)}
                rows.append(row | hcc.to_dict())
        return rows

    def opportunity_rows(self) -> list[dict[str, Any]]:
        """One row per member and HCC (`opportunities.parquet`)."""
        return [o.to_row() for member in self.members for o in member.opportunities]

    def totals(self) -> dict[str, Any]:
        """Batch totals for the manifest."""
        found = [o for member in self.members for o in member.opportunities]
        adds = [o.raf_effect for o in found if o.status == "add"]
        deletes = [o.raf_effect for o in found if o.status == "delete"]
        return {
            "members": len(self.members),
            "members_from_file": not any(n.startswith("no members file") for n in self.notes),
            "claims": self.claims_given,
            "raf_from_charts": _raf(sum(m.raf_charts for m in self.members)),
            "raf_from_claims": _raf(sum(m.raf_claims for m in self.members))
            if self.claims_given
            else None,
            "adds": len(adds),
            "add_raf": _raf(sum(adds)),
            "deletes": len(deletes),
            "delete_raf": _raf(sum(deletes)),
            "confirmed": sum(o.status == "confirmed" for o in found),
            "net_raf_delta": _raf(sum(adds) + sum(deletes)),
            "claims_errors": len(self.claims_errors),
            "service_year": self.service_year,
            "codes_out_of_year": sum(len(c.out_of_year) for c in self.charts.values()),
            "claims_out_of_year": self.claims_out_of_year,
            "notes": list(self.notes),
        }

    def claims_error_dicts(self) -> list[dict[str, Any]]:
        return [error.to_dict() for error in self.claims_errors]


def assess_batch(
    records: Sequence[Mapping[str, Any]],
    members: Members | None = None,
    claims: Claims | None = None,
    model: RiskModel | None = None,
    service_year: int | None = None,
) -> BatchRisk:
    """Risk-adjust a batch. Without `members` each chart is its own member; without `claims`
    there is nothing to compare with, so no opportunities (charts' HCCs and RAF only). With a
    `service_year`, only the diagnoses of that year's dates of service count, on charts and on
    claims (undated ones count: `risk.charts.in_service_year`, `Claims.in_year`)."""
    model = model or RiskModel()
    all_claims = len(claims.rows) if claims else 0
    claims = claims.in_year(service_year) if claims else None
    chart_ids = [str(r["chart_id"]) for r in records]
    notes: list[str] = []
    if members is None:
        members = one_member_per_chart(chart_ids)
        age, sex = DEFAULT_DEMOGRAPHICS.age, DEFAULT_DEMOGRAPHICS.sex
        notes.append(NO_MEMBERS_FILE.format(age=age, sex=sex))
    problems = list(claims.errors) if claims else []
    batch_charts = set(chart_ids)
    chart_members = {
        cid: mid for cid, mid in members.chart_members().items() if cid in batch_charts
    }
    for member in members.members.values():
        for chart_id in member.chart_ids:
            if chart_id not in batch_charts:
                problems.append(
                    ClaimsError(
                        errors.MEMBER_CHART_MISSING, members.source, member.member_id, chart_id
                    )
                )
    charts: dict[str, ChartRisk] = {}
    for record in records:
        chart_id = str(record["chart_id"])
        member_id = chart_members.get(chart_id)
        if member_id is None:
            problems.append(
                ClaimsError(errors.CHART_WITHOUT_MEMBER, members.source, chart_id=chart_id)
            )
            demographics = DEFAULT_DEMOGRAPHICS
        else:
            demographics = members.members[member_id].demographics
        charts[chart_id] = chart_risk(record, demographics, model, service_year)
    member_charts: dict[str, list[str]] = {}
    for chart_id, member_id in chart_members.items():
        member_charts.setdefault(member_id, []).append(chart_id)
    claim_codes = claims.codes_by_member() if claims else {}
    claim_sources: dict[str, set[str]] = {}
    for row in claims.rows if claims else ():
        claim_sources.setdefault(row.member_id, set()).add(row.source)
    for member_id in sorted(set(claim_codes) - set(member_charts)):
        sources = sorted(claim_sources[member_id])
        problems.append(
            ClaimsError(
                errors.MEMBER_WITHOUT_CHARTS,
                ", ".join(sources),
                member_id,
                message=f"{len(claim_codes[member_id])} claim diagnoses not compared",
            )
        )
    results = []
    for member_id in sorted(member_charts):
        supported: dict[str, list[str]] = {}
        for chart_id in sorted(member_charts[member_id]):
            for code in charts[chart_id].supported_codes:
                supported.setdefault(code, []).append(chart_id)
        demographics = members.members[member_id].demographics
        if claims is None:  # nothing to compare with: the member's RAF from charts only
            raf = model.score(supported, demographics).raf
            member_risk = MemberRisk(member_id, raf, 0.0, ())
        else:
            member_risk = member_opportunities(
                member_id,
                demographics,
                {code: tuple(ids) for code, ids in supported.items()},
                claim_codes.get(member_id, frozenset()),
                model,
            )
        results.append(member_risk)
    return BatchRisk(
        charts,
        chart_members,
        tuple(results),
        tuple(problems),
        tuple(notes),
        claims is not None,
        service_year,
        all_claims - (len(claims.rows) if claims else 0),
    )


def _raf(value: float) -> float:
    return round(value, RAF_DIGITS) + 0.0
