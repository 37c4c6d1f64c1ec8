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


def _model(seed: int) -> CalibratedClassifierCV:
    base = HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.08,
        max_leaf_nodes=31,
        l2_regularization=1.0,
        random_state=seed,
    )
    return CalibratedClassifierCV(base, method="isotonic", cv=3)


def best_threshold(scores: np.ndarray, labels: np.ndarray, n_gold: int) -> tuple[float, float]:
    """The score threshold with the best micro-F1, and that F1."""
    order = np.argsort(-scores)
    true_positives = np.cumsum(labels[order])
    predicted = np.arange(1, len(order) + 1)
    f1 = 2 * true_positives / (predicted + n_gold)
    best = int(np.argmax(f1))
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
        labels: np.ndarray,
        groups: np.ndarray,
        priors: CodePriors,
        version: str,
        n_gold: int,
        seed: int = 0,
    ) -> Ranker:
        """Fit on all candidates; pick the threshold for F1 on out-of-fold scores.

        `n_gold` counts every gold code of the training charts, found or not, so the threshold
        is chosen against the recall the engine really has.
        """
        # OpenMP threads thrash when other processes share the two cores: fit on one.
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
        threshold, f1 = best_threshold(held_out, labels, n_gold)
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
