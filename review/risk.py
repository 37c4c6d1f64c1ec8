"""Risk adjustment as the review shows it, read as the run writes it.

A chart record of `chartcoder run` (or `chartcoder code`) carries `hccs`, each
`risk.charts.ChartHcc.to_dict()`: `hcc` (a string such as "37"), `label`, `coefficient` (None
when dropped), `codes`, `dropped`, `dropped_by` (the higher HCCs of its hierarchy that dropped
it), `supported` and `meat` (`{code, kind, start, end}`), plus `raf` and `member_id`. The run
writes beside them `hccs.parquet` (the same fields per chart and HCC, with `chart_id` and
`member_id`: `risk.outputs.HCCS_SCHEMA`) and `opportunities.parquet` (per member and HCC:
`member_id`, `hcc`, `label`, `status` add/delete/confirmed, signed `raf_effect`, `chart_codes`,
`claim_codes`, `chart_ids`: `risk.outputs.OPPORTUNITIES_SCHEMA`). All of it is optional: results
written before risk adjustment show none of it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ChartRisk:
    member_id: str | None = None
    hccs: list[dict[str, Any]] = field(default_factory=list)
    opportunities: list[dict[str, Any]] = field(default_factory=list)
    claim_status: dict[str, str] = field(default_factory=dict)  # hcc -> add/confirmed/...


class RiskIndex:
    """The risk-adjustment rows of a run, by chart and by member."""

    def __init__(self, hcc_rows: list[dict[str, Any]], opportunity_rows: list[dict[str, Any]]):
        self.hccs_by_chart: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.member_of: dict[str, str] = {}
        for row in hcc_rows:
            chart_id = row.get("chart_id")
            if isinstance(chart_id, str):
                self.hccs_by_chart[chart_id].append(row)
                if row.get("member_id") is not None:
                    self.member_of[chart_id] = str(row["member_id"])
        self.by_member: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in opportunity_rows:
            if row.get("member_id") is not None:
                self.by_member[str(row["member_id"])].append(row)

    def for_chart(self, record: dict[str, Any]) -> ChartRisk:
        chart_id = record["chart_id"]
        member = record.get("member_id") or self.member_of.get(chart_id)
        raw = record.get("hccs")
        rows = raw if isinstance(raw, list) else self.hccs_by_chart.get(chart_id, [])
        hccs = [normalised(h) for h in rows]
        opportunities = self.by_member.get(str(member), []) if member is not None else []
        status = {o["hcc"]: o["status"] for o in opportunities}
        return ChartRisk(None if member is None else str(member), hccs, opportunities, status)


def normalised(hcc: dict[str, Any]) -> dict[str, Any]:
    """An HCC as the chart page shows it: `dropped` becomes the text of the HCCs that dropped
    it (None when kept)."""
    found = dict(hcc)
    dropped_by = [str(h) for h in hcc.get("dropped_by") or []]
    found["dropped"] = ", ".join(f"HCC {h}" for h in dropped_by) if dropped_by else None
    found["meat"] = list(hcc.get("meat") or [])
    found["codes"] = list(hcc.get("codes") or [])
    return found


def opportunity_counts(risk: ChartRisk) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for o in risk.opportunities:
        counts[str(o.get("status"))] += 1
    return dict(counts)
