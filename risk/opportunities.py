"""Coding opportunities of one member: the HCCs (after hierarchies) of the codes with MEAT in any
of the member's charts against the HCCs (after hierarchies) of the member's claim codes.

- in both: `confirmed`, `raf_effect` 0;
- charts only: `add`, `raf_effect` = RAF(claim codes + its supporting codes) - RAF(claim codes);
- claims only: `delete`, `raf_effect` = RAF(claim codes - the codes behind it) - RAF(claim codes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from risk.model import Demographics, RiskModel, by_hcc

STATUSES = ("add", "delete", "confirmed")
RAF_DIGITS = 4


@dataclass(frozen=True, slots=True)
class Opportunity:
    member_id: str
    hcc: str
    label: str | None
    status: str
    raf_effect: float
    chart_codes: tuple[str, ...]  # the member's supported codes behind the HCC
    claim_codes: tuple[str, ...]  # the claim codes behind it
    chart_ids: tuple[str, ...]  # charts whose supported codes reach it

    def to_row(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "hcc": self.hcc,
            "label": self.label,
            "status": self.status,
            "raf_effect": self.raf_effect,
            "chart_codes": list(self.chart_codes),
            "claim_codes": list(self.claim_codes),
            "chart_ids": list(self.chart_ids),
        }


@dataclass(frozen=True, slots=True)
class MemberRisk:
    member_id: str
    raf_charts: float  # RAF of the member's supported chart codes
    raf_claims: float  # RAF of the member's claim codes
    opportunities: tuple[Opportunity, ...]


def member_opportunities(
    member_id: str,
    demographics: Demographics,
    chart_codes: Mapping[str, tuple[str, ...]],
    claim_codes: frozenset[str],
    model: RiskModel,
) -> MemberRisk:
    """`chart_codes`: the member's supported codes (dotted) -> the charts that support them;
    `claim_codes`: the member's valid claim codes (dotted)."""
    charts = model.score(chart_codes, demographics)
    claims = model.score(claim_codes, demographics)
    found = []
    for hcc in sorted(charts.hccs | claims.hccs, key=by_hcc):
        on_charts = tuple(sorted(charts.categories.get(hcc, ()))) if hcc in charts.hccs else ()
        on_claims = tuple(sorted(claims.categories.get(hcc, ()))) if hcc in claims.hccs else ()
        if on_charts and on_claims:
            status, effect = "confirmed", 0.0
        elif on_charts:
            status = "add"
            effect = model.score(claim_codes | set(on_charts), demographics).raf - claims.raf
        else:
            status = "delete"
            effect = model.score(claim_codes - set(on_claims), demographics).raf - claims.raf
        chart_ids = sorted({cid for code in on_charts for cid in chart_codes[code]})
        found.append(
            Opportunity(
                member_id,
                hcc,
                model.label(hcc),
                status,
                round(effect, RAF_DIGITS) + 0.0,  # no -0.0
                on_charts,
                on_claims,
                tuple(chart_ids),
            )
        )
    return MemberRisk(member_id, charts.raf, claims.raf, tuple(found))
