"""Risk adjustment as the review shows it, from whatever the results carry.

A chart record may carry `hccs` (each: `hcc`, `label`, `coefficient`, `codes`, `supported`,
`meat` spans `{kind, start, end}`, and the higher HCC that dropped it) and `raf`; a run may also
write `hccs.parquet` (rows per chart and HCC, with `member_id`) and `opportunities.parquet`
(rows per member and HCC: `status` add/delete/confirmed and a signed `raf_effect`). All of it is
optional: a run without risk adjustment shows none of it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

# Names the HCC fields may go by (the record's first, then hccs.parquet's alternatives).
_ALIASES = {
    "hcc": ("hcc", "category"),
    "codes": ("codes", "supporting_codes"),
    "dropped": ("dropped_by", "dropped", "hierarchy_dropped"),
}


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
        hccs = [normalised(h) for h in rows if isinstance(h, dict)]
        opportunities = [
            {**o, "hcc": str(o.get("hcc"))}
            for o in self.by_member.get(str(member), [])
            if member is not None
        ]
        status = {o["hcc"]: str(o.get("status")) for o in opportunities}
        return ChartRisk(None if member is None else str(member), hccs, opportunities, status)


def normalised(hcc: dict[str, Any]) -> dict[str, Any]:
    found = dict(hcc)
    for name, aliases in _ALIASES.items():
        found[name] = next((hcc[a] for a in aliases if hcc.get(a) not in (None, "")), None)
    found["hcc"] = None if found["hcc"] is None else str(found["hcc"])
    if found["dropped"] is True:
        found["dropped"] = "a higher HCC"
    elif found["dropped"] is False:
        found["dropped"] = None
    meat = found.get("meat")
    found["meat"] = [m for m in meat if isinstance(m, dict)] if isinstance(meat, list) else []
    codes = found["codes"]
    found["codes"] = (
        list(codes) if isinstance(codes, list | tuple) else ([] if codes is None else [codes])
    )
    return found


def opportunity_counts(risk: ChartRisk) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for o in risk.opportunities:
        counts[str(o.get("status"))] += 1
    return dict(counts)
