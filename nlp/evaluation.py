"""Accuracy against gold codes: micro precision/recall/F1 and CodiEsp's MAP.

A predicted code matches a gold code when it is the same code or, with `descendants=True`
(the default for CodiEsp, whose gold drops 7th characters and keeps pre-2019 categories), a
descendant of it (gold `R51`, predicted `R51.9`). Exact matches are always reported beside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def _plain(code: str) -> str:
    return code.replace(".", "").upper()


def matches(predicted: str, gold: str, descendants: bool) -> bool:
    p, g = _plain(predicted), _plain(gold)
    return p == g or (descendants and p.startswith(g))


@dataclass(frozen=True, slots=True)
class Scores:
    precision: float
    recall: float
    f1: float
    map: float
    charts: int
    predicted: int
    gold: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "map": round(self.map, 4),
            "charts": self.charts,
            "predicted": self.predicted,
            "gold": self.gold,
        }


def _align(ranked: Sequence[str], gold: Sequence[str], descendants: bool) -> list[bool]:
    """Which ranked predictions hit a gold code; each gold code is matched at most once."""
    unmatched = list(dict.fromkeys(gold))
    hits = []
    for code in ranked:
        hit = next((g for g in unmatched if matches(code, g, descendants)), None)
        if hit is not None:
            unmatched.remove(hit)
        hits.append(hit is not None)
    return hits


def score(
    predictions: Mapping[str, Sequence[str]],
    gold: Mapping[str, Sequence[str]],
    *,
    descendants: bool = True,
    category: bool = False,
) -> Scores:
    """Micro P/R/F1 and MAP over the charts of `gold` (a chart with no prediction has none)."""
    tp = n_pred = n_gold = 0
    ap_sum = 0.0
    for chart_id, gold_codes in gold.items():
        ranked = list(dict.fromkeys(predictions.get(chart_id, ())))
        wanted = list(dict.fromkeys(gold_codes))
        if category:
            ranked = list(dict.fromkeys(_plain(c)[:3] for c in ranked))
            wanted = list(dict.fromkeys(_plain(c)[:3] for c in wanted))
        hits = _align(ranked, wanted, descendants)
        tp += sum(hits)
        n_pred += len(ranked)
        n_gold += len(wanted)
        found, precision_sum = 0, 0.0
        for rank, hit in enumerate(hits, start=1):
            if hit:
                found += 1
                precision_sum += found / rank
        ap_sum += precision_sum / len(wanted) if wanted else 0.0
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(
        precision, recall, f1, ap_sum / len(gold) if gold else 0.0, len(gold), n_pred, n_gold
    )
