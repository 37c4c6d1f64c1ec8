"""Scores a US coder can act on: a monotone map from the ranker's score to the chance that a code
is right on US charts, with the default threshold that goes with it.

The ranker learns from CodiEsp, whose scores say little about US coding; the map is fitted on
the US development charts (`us-charts/dev.jsonl` in the data folder) at build time. Only the map,
the candidate floor and the threshold are fitted there, never the ranker, the terms or the rules.

- `floor`: the ranker score a candidate needs to enter the US coding rules;
- `maps`: isotonic regression of "the code is right" on the ranker score of the codes the rules
  keep, as knots for `numpy.interp`, one per stratum of support (`nlp.guidelines.stratum`: a
  code stated at the head of a diagnostic statement, one found in its elaboration, one added by
  a guideline rule), each monotone in the ranker score; a stratum with few codes uses the map
  of all codes;
- `threshold`: the lowest calibrated score recommended, chosen for precision first (at least
  `TARGET_PRECISION`), then F1 (the lowest within `F1_TOLERANCE` of the best), on
  cross-validated (by chart) calibrated scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression

# the suggestion list's bar is 0.85; the target leaves room for a new set's variance (on
# 61 charts, one standard error of precision is about 0.02)
TARGET_PRECISION = 0.87
MIN_RECALL = 0.5
F1_TOLERANCE = 0.01
FLOORS = (0.0, 0.03, 0.05, 0.1, 0.15, 0.2)
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.96, 0.01))
FOLDS = 5
STRATA = ("statement", "elaboration", "rule")
# no calibrated score claims certainty: a stratum that was always right on 61 charts is not
SCORE_MIN, SCORE_MAX = 0.01, 0.99
MIN_STRATUM = 15


@dataclass(frozen=True, slots=True)
class ChartPairs:
    """One chart's coded output against its gold: (ranker score, right, stratum) per code, and
    its gold count."""

    pairs: tuple[tuple[float, bool, str], ...]
    n_gold: int


@dataclass(frozen=True, slots=True)
class UsCalibration:
    floor: float
    threshold: float
    maps: dict[str, tuple[tuple[float, ...], tuple[float, ...]]]
    report: dict[str, Any] = field(default_factory=dict)

    def __call__(self, scores: Sequence[float], strata: Sequence[str]) -> list[float]:
        pooled = self.maps["all"]
        return [
            float(np.interp(s, *self.maps.get(k, pooled)))
            for s, k in zip(scores, strata, strict=True)
        ]


def fit_maps(
    pairs: Sequence[tuple[float, bool, str]],
) -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
    maps = {"all": _isotonic([(s, h) for s, h, _ in pairs])}
    for name in STRATA:
        members = [(s, h) for s, h, k in pairs if k == name]
        if len(members) >= MIN_STRATUM:
            maps[name] = _isotonic(members)
    return maps


def _isotonic(pairs: Sequence[tuple[float, bool]]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    x = np.asarray([s for s, _ in pairs], dtype=float)
    y = np.asarray([h for _, h in pairs], dtype=float)
    model = IsotonicRegression(y_min=SCORE_MIN, y_max=SCORE_MAX, out_of_bounds="clip").fit(x, y)
    return tuple(float(v) for v in model.X_thresholds_), tuple(
        float(v) for v in model.y_thresholds_
    )


def cross_validated(charts: Sequence[ChartPairs], folds: int = FOLDS) -> list[tuple[float, bool]]:
    """Each chart's codes with the score a map fitted on the other folds gives them."""
    out: list[tuple[float, bool]] = []
    for fold in range(folds):
        train = [p for i, c in enumerate(charts) if i % folds != fold for p in c.pairs]
        test = [p for i, c in enumerate(charts) if i % folds == fold for p in c.pairs]
        if not train or not test:
            continue
        calibration = UsCalibration(0.0, 0.0, fit_maps(train))
        scores = calibration([s for s, _, _ in test], [k for _, _, k in test])
        out.extend((s, h) for s, (_, h, _) in zip(scores, test, strict=True))
    return out


def at_threshold(scored: Sequence[tuple[float, bool]], n_gold: int, threshold: float) -> dict:
    kept = [h for s, h in scored if s >= threshold]
    right = sum(kept)
    precision = right / len(kept) if kept else 0.0
    recall = right / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "predicted": len(kept)}


def expected_calibration_error(scored: Sequence[tuple[float, bool]], bins: int = 10) -> float:
    if not scored:
        return 0.0
    total = 0.0
    for b in range(bins):
        members = [(s, h) for s, h in scored if min(int(s * bins), bins - 1) == b]
        if members:
            mean = sum(s for s, _ in members) / len(members)
            right = sum(h for _, h in members) / len(members)
            total += len(members) / len(scored) * abs(mean - right)
    return total


def fit(by_floor: Mapping[float, Sequence[ChartPairs]]) -> UsCalibration:
    """The floor and threshold whose cross-validated precision reaches the target with the best
    F1 (recall at least `MIN_RECALL`), else the best F1; the map refitted on every chart."""
    options = []
    for floor, charts in by_floor.items():
        n_gold = sum(c.n_gold for c in charts)
        scored = cross_validated(charts)
        for threshold in THRESHOLDS:
            figures = at_threshold(scored, n_gold, threshold)
            options.append((floor, threshold, figures, scored))
    precise = [
        o for o in options if o[2]["precision"] >= TARGET_PRECISION and o[2]["recall"] >= MIN_RECALL
    ]
    pool = precise or options
    # the lowest threshold within F1_TOLERANCE of the best: the target already holds precision
    # with room to spare, and every code a higher threshold drops costs recall, which is what
    # a risk score misses (a threshold of 0.65 instead of 0.5 raised the dev RAF error by 0.07)
    best = max(o[2]["f1"] for o in pool)
    floor, threshold, figures, scored = min(
        (o for o in pool if o[2]["f1"] >= best - F1_TOLERANCE), key=lambda o: (o[1], o[0])
    )
    pairs = [p for c in by_floor[floor] for p in c.pairs]
    report = {
        "charts": len(by_floor[floor]),
        "floor": floor,
        "threshold": threshold,
        "target_precision": TARGET_PRECISION,
        "cross_validated": {k: round(v, 4) for k, v in figures.items()},
        "cross_validated_ece": round(expected_calibration_error(scored), 4),
        "bins": _bins(scored),
        "codes_by_stratum": {k: sum(1 for *_, s in pairs if s == k) for k in STRATA},
    }
    return UsCalibration(floor, threshold, fit_maps(pairs), report)


def _bins(scored: Sequence[tuple[float, bool]], bins: int = 10) -> list[list[float]]:
    """(mean calibrated score, share right, codes) per score decile, cross-validated."""
    table = []
    for b in range(bins):
        members = [(s, h) for s, h in scored if min(int(s * bins), bins - 1) == b]
        if members:
            table.append(
                [
                    round(sum(s for s, _ in members) / len(members), 3),
                    round(sum(h for _, h in members) / len(members), 3),
                    len(members),
                ]
            )
    return table
