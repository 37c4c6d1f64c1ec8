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


@dataclass(frozen=True, slots=True)
class Calibration:
    """How well the scores of the predicted codes tell the chance that each is right."""

    brier: float
    ece: float  # expected calibration error over equal-width score bins
    codes: int
    bins: tuple[tuple[float, float, int], ...]  # (mean score, share right, codes) per bin

    def as_dict(self) -> dict[str, object]:
        return {
            "brier": round(self.brier, 4),
            "ece": round(self.ece, 4),
            "codes": self.codes,
            "bins": [[round(s, 3), round(r, 3), n] for s, r, n in self.bins],
        }


def calibration(
    scored: Mapping[str, Sequence[tuple[str, float]]],
    gold: Mapping[str, Sequence[str]],
    *,
    descendants: bool = True,
    n_bins: int = 10,
) -> Calibration:
    """Brier score and ECE of every predicted code's score against whether it matched gold."""
    pairs: list[tuple[float, bool]] = []
    for chart_id, gold_codes in gold.items():
        ranked = list(dict.fromkeys(scored.get(chart_id, ())))
        hits = _align([code for code, _ in ranked], list(dict.fromkeys(gold_codes)), descendants)
        pairs.extend((score, hit) for (_, score), hit in zip(ranked, hits, strict=True))
    return calibrate(pairs, n_bins=n_bins)


def calibrate(pairs: Sequence[tuple[float, bool]], *, n_bins: int = 10) -> Calibration:
    """Brier score and ECE of (score, right) pairs, over `n_bins` equal-width score bins."""
    if not pairs:
        return Calibration(0.0, 0.0, 0, ())
    brier = sum((score - hit) ** 2 for score, hit in pairs) / len(pairs)
    bins: list[list[tuple[float, bool]]] = [[] for _ in range(n_bins)]
    for score, hit in pairs:
        bins[min(int(score * n_bins), n_bins - 1)].append((score, hit))
    table, ece = [], 0.0
    for members in bins:
        if not members:
            continue
        mean = sum(s for s, _ in members) / len(members)
        right = sum(h for _, h in members) / len(members)
        ece += len(members) / len(pairs) * abs(mean - right)
        table.append((mean, right, len(members)))
    return Calibration(brier, ece, len(pairs), tuple(table))
