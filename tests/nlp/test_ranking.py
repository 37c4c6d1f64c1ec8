"""The ranker's threshold choice and the leak-free training features."""

from __future__ import annotations

import numpy as np
import pytest

from nlp.neighbors import ChartNeighbors
from nlp.ranking import F1_TOLERANCE, best_threshold
from nlp.training import FOLDS, _set_hit_rates


def test_a_gold_code_matched_twice_counts_once():
    # chart 0 has 2 gold codes; rows 0 and 1 both match gold 0 (R51.0 and R51.9 for R51)
    scores = np.array([0.9, 0.8, 0.7])
    matched = np.array([0, 0, 1])
    charts = np.array([0, 0, 0])
    threshold, f1 = best_threshold(scores, matched, charts, n_gold=2)
    # best F1 is all three rows: 2 true positives, 3 predicted, 2 gold -> 4/5
    assert f1 == pytest.approx(0.8)
    assert threshold == pytest.approx(0.7)


def test_threshold_is_the_lowest_within_the_tolerance():
    # F1 by cut-off: 1 row 2/4=0.5, 2 rows 2/5=0.4 -> only the best counts at this tolerance
    assert F1_TOLERANCE < 0.1
    threshold, f1 = best_threshold(
        np.array([0.9, 0.5]), np.array([0, -1]), np.array([0, 0]), n_gold=3
    )
    assert (threshold, f1) == (pytest.approx(0.9), pytest.approx(0.5))
    # 100 gold codes: one more wrong row costs less than the tolerance, so it is included
    threshold, _ = best_threshold(
        np.array([0.9, 0.5]), np.array([0, -1]), np.array([0, 0]), n_gold=100
    )
    assert threshold == pytest.approx(0.5)


def test_hit_rates_of_a_row_never_count_its_own_fold():
    codes = ["I10"] * FOLDS
    positive = np.array([True] + [False] * (FOLDS - 1))
    folds = np.arange(FOLDS)
    features = np.zeros((FOLDS, 64), dtype=np.float32)
    from nlp.features import FEATURE_NAMES, hit_rate

    _set_hit_rates(features, codes, positive, folds)
    rate = FEATURE_NAMES.index("code_hit_rate")
    # the positive row sees 0 hits in 4 others; the negative rows see 1 hit in 4 others
    assert features[0, rate] == pytest.approx(hit_rate(0, FOLDS - 1))
    assert all(features[i, rate] == pytest.approx(hit_rate(1, FOLDS - 1)) for i in range(1, FOLDS))


def test_similar_charts_vote_for_their_codes():
    neighbors = ChartNeighbors.fit(
        [
            "renal colic with hematuria and a ureteral stone",
            "ureteral stone causing renal colic",
            "pneumonia with fever and cough",
        ],
        [["N20.1", "N23"], ["N20.1"], ["J18.9"]],
    )
    support = neighbors.support("renal colic from a ureteral stone", ["N20.1", "J18.9", "N20.0"])
    code, category, best = support.T
    assert code[0] == pytest.approx(1.0)  # both similar charts had N20.1
    assert code[1] == pytest.approx(0.0)
    assert code[2] == pytest.approx(0.0) and category[2] == pytest.approx(1.0)  # N20 shared
    assert 0.0 < best[0] <= 1.0
