"""A chart's CMS-HCC V28 categories and risk score, from its `chartcoder code` record once
`nlp.meat.MeatFinder.annotate` has given each HCC-bearing code its `supported` and `meat`.

A diagnosis counts for the year of its encounter's date of service. With a `service_year`, a
code whose evidence is all dated in other years (a record's older visits) is left out of the
chart's HCCs and RAF and listed in `codes_out_of_year`; a code with undated evidence (a chart
with no dates of service) counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from risk.model import Demographics, RiskModel, by_hcc, dotted


class NotAnnotatedError(ValueError):
    """A record's HCC-bearing code has no MEAT annotation."""


@dataclass(frozen=True, slots=True)
class ChartHcc:
    """One HCC the chart's codes reach. `coefficient` is what it adds to the score (None when a
    higher HCC of its hierarchy, `dropped_by`, keeps it out); `meat` holds the MEAT spans of
    its codes, each `{code, kind, start, end}`."""

    hcc: str
    label: str | None
    coefficient: float | None
    codes: tuple[str, ...]
    dropped_by: tuple[str, ...]
    supported: bool
    meat: tuple[dict[str, Any], ...]

    @property
    def dropped(self) -> bool:
        return bool(self.dropped_by)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hcc": self.hcc,
            "label": self.label,
            "coefficient": self.coefficient,
            "codes": list(self.codes),
            "dropped": self.dropped,
            "dropped_by": list(self.dropped_by),
            "supported": self.supported,
            "meat": [dict(span) for span in self.meat],
        }


@dataclass(frozen=True, slots=True)
class ChartRisk:
    chart_id: str
    hccs: tuple[ChartHcc, ...]
    raf: float
    supported_codes: frozenset[str]  # HCC-bearing codes with MEAT (dotted)
    out_of_year: tuple[str, ...] = ()  # codes dated only in other years than the service year

    def record_fields(self) -> dict[str, Any]:
        """What `chartcoder code` adds to the chart's record."""
        return {
            "hccs": [hcc.to_dict() for hcc in self.hccs],
            "raf": round(self.raf, 4),
            "codes_out_of_year": list(self.out_of_year),
        }


def in_service_year(code: Mapping[str, Any], year: int | None) -> bool:
    """Whether a coded finding counts for `year`'s dates of service: no year asked, evidence
    dated in it, or no dated evidence at all."""
    if year is None:
        return True
    dates = [e.get("date_of_service") for e in code.get("evidence") or []]
    dated = [str(d) for d in dates if d]
    return not dated or any(d.startswith(f"{year:04d}-") for d in dated)


def chart_risk(
    record: Mapping[str, Any],
    demographics: Demographics,
    model: RiskModel,
    service_year: int | None = None,
) -> ChartRisk:
    """HCCs (after edits, hierarchies and interactions) and raw RAF of the chart's codes that
    count for `service_year` (all of them without one); each HCC says whether MEAT supports
    any of its codes."""
    codes = record.get("codes") or []
    out_of_year = tuple(
        sorted({dotted(str(c["code"])) for c in codes if not in_service_year(c, service_year)})
    )
    counted = [c for c in codes if in_service_year(c, service_year)]
    annotations = _annotations({**record, "codes": counted}, model)
    score = model.score(annotations, demographics)
    hccs = []
    for hcc in sorted(score.categories, key=by_hcc):
        codes = tuple(sorted(score.categories[hcc]))
        kept = hcc in score.hccs
        hccs.append(
            ChartHcc(
                hcc=hcc,
                label=model.label(hcc),
                coefficient=score.coefficients.get(hcc) if kept else None,
                codes=codes,
                dropped_by=() if kept else model.dropped_by(hcc, score.hccs),
                supported=any(annotations[c][0] for c in codes),
                meat=tuple(
                    {"code": c, **span}
                    for c in codes
                    for span in sorted(annotations[c][1], key=lambda s: s["start"])
                ),
            )
        )
    supported = frozenset(c for c, (ok, _) in annotations.items() if ok and model.has_hcc(c))
    return ChartRisk(str(record["chart_id"]), tuple(hccs), score.raf, supported, out_of_year)


def _annotations(
    record: Mapping[str, Any], model: RiskModel
) -> dict[str, tuple[bool, list[dict[str, Any]]]]:
    """code (dotted) -> (supported, MEAT spans), for every code of the record."""
    found: dict[str, tuple[bool, list[dict[str, Any]]]] = {}
    for code in record.get("codes") or []:
        name = dotted(str(code["code"]))
        if model.has_hcc(name) and "supported" not in code:
            raise NotAnnotatedError(
                f"chart {record.get('chart_id')}: code {name} has no MEAT annotation "
                "(run nlp.meat.MeatFinder.annotate on the record first)"
            )
        spans = [
            {"kind": s["kind"], "start": s["start"], "end": s["end"]}
            for s in code.get("meat") or []
        ]
        found[name] = (bool(code.get("supported")), spans)
    return found
