"""Scores candidate codes with a calibrated probability.

`Ranker` is a scikit-learn gradient-boosted classifier over `nlp.features`, calibrated with
isotonic regression on held-out folds, trained from coded charts. `HeuristicRanker` is the
fallback when no coded charts are available (no data folder): fixed, hand-set weights, honest
about being uncalibrated.
"""

from __future__ import annotations

import logging
from typing import ClassVar, Protocol

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GroupKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from nlp.features import FEATURE_NAMES, CodePriors

log = logging.getLogger(__name__)


class Scorer(Protocol):
    priors: CodePriors
    threshold: float
    version: str

    def score(self, features: np.ndarray) -> np.ndarray: ...


FOLDS = 5
F1_TOLERANCE = 0.01


def _model(seed: int) -> CalibratedClassifierCV:
    # small leaves, many slow steps: 12k rows of which a quarter positive
    base = HistGradientBoostingClassifier(
        max_iter=500,
        learning_rate=0.03,
        max_leaf_nodes=15,
        min_samples_leaf=50,
        l2_regularization=3.0,
        random_state=seed,
    )
    return CalibratedClassifierCV(base, method="isotonic", cv=3)


def best_threshold(
    scores: np.ndarray, matched: np.ndarray, charts: np.ndarray, n_gold: int
) -> tuple[float, float]:
    """The lowest score threshold whose micro-F1 is within `F1_TOLERANCE` of the best, and
    that F1.

    `matched[i]` is the index of the gold code (of chart `charts[i]`) that row i matches, or -1.
    As in the evaluation, a gold code counts once: a second candidate matching it (R51.0 and
    R51.9 for gold R51) is a false positive.
    """
    order = np.argsort(-scores, kind="stable")
    seen: set[tuple[int, int]] = set()
    first = np.zeros(len(order), dtype=np.int64)
    for position, row in enumerate(order):
        key = (int(charts[row]), int(matched[row]))
        if matched[row] >= 0 and key not in seen:
            seen.add(key)
            first[position] = 1
    true_positives = np.cumsum(first)
    predicted = np.arange(1, len(order) + 1)
    f1 = 2 * true_positives / (predicted + n_gold)
    # F1 is flat near its top; of the thresholds within F1_TOLERANCE of the best, take the
    # lowest: coders review a list, and a missed code costs more than one to strike out.
    best = int(np.flatnonzero(f1 >= f1.max() - F1_TOLERANCE)[-1])
    return float(scores[order][best]), float(f1[best])


class Ranker:
    def __init__(
        self, model: CalibratedClassifierCV, priors: CodePriors, threshold: float, version: str
    ) -> None:
        self.model = model
        self.priors = priors
        self.threshold = threshold
        self.version = version

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        matched: np.ndarray,
        groups: np.ndarray,
        priors: CodePriors,
        version: str,
        n_gold: int,
        seed: int = 0,
    ) -> Ranker:
        """Fit on all candidates; pick the threshold for F1 on out-of-fold scores.

        A row is positive when it matches a gold code (`matched >= 0`, see `best_threshold`).
        `n_gold` counts every gold code of the training charts, found or not, so the threshold
        is chosen against the recall the engine really has.
        """
        # OpenMP threads thrash when other processes share the two cores: fit on one.
        labels = (matched >= 0).astype(np.int8)
        with threadpool_limits(limits=1):
            held_out = cross_val_predict(
                _model(seed),
                features,
                labels,
                groups=groups,
                cv=GroupKFold(n_splits=FOLDS),
                method="predict_proba",
            )[:, 1]
            model = _model(seed).fit(features, labels)
        threshold, f1 = best_threshold(held_out, matched, groups, n_gold)
        log.info(
            "ranker trained on %d candidates (%d positive); threshold %.2f gives "
            "out-of-fold F1 %.3f",
            len(labels),
            int(labels.sum()),
            threshold,
            f1,
        )
        return cls(model, priors, threshold, version)

    def score(self, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.zeros(0, dtype=np.float64)
        with threadpool_limits(limits=1):
            return self.model.predict_proba(features)[:, 1]


class HeuristicRanker:
    """Hand-set logistic weights over the same features; used only without training charts."""

    WEIGHTS: ClassVar[dict[str, float]] = {
        "log_mentions": 0.8,
        "max_groups": 0.35,
        "best_compactness": 1.0,
        "src_index": 0.6,
        "res_billable": 0.3,
        "res_supported": 0.4,
        "res_unresolved": -1.0,
        "all_subsumed": -1.5,
        "all_corrected": -0.8,
        "in_diagnosis_section": 0.8,
        "chapter_r": -0.4,
    }

    def __init__(self, version: str = "heuristic-v1") -> None:
        self.priors = CodePriors()
        self.threshold = 0.5
        self.version = version
        self.weights = np.array([self.WEIGHTS.get(n, 0.0) for n in FEATURE_NAMES])
        self.bias = -2.2

    def score(self, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.zeros(0, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-(features @ self.weights + self.bias)))
