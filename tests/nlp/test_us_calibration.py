"""`nlp.us_calibration`: the monotone score maps and threshold fitted on US charts."""

from __future__ import annotations

import pytest

from nlp.us_calibration import (
    MIN_STRATUM,
    SCORE_MAX,
    SCORE_MIN,
    TARGET_PRECISION,
    ChartPairs,
    cross_validated,
    expected_calibration_error,
    fit,
)


def chart(*pairs: tuple[float, bool], n_gold: int, stratum: str = "statement") -> ChartPairs:
    return ChartPairs(tuple((score, right, stratum) for score, right in pairs), n_gold)


def separable_charts() -> list[ChartPairs]:
    """20 charts whose right codes score 0.6-0.95 and wrong ones 0.05-0.4; the odd charts miss
    a gold code (30 of 50 gold codes found)."""
    return [
        chart((0.95 - 0.01 * i, True), (0.6 + 0.01 * i, True), (0.05 + 0.01 * i, False), n_gold=3)
        if i % 2
        else chart((0.9 - 0.01 * i, True), (0.4 - 0.01 * i, False), (0.2, False), n_gold=2)
        for i in range(20)
    ]


@pytest.fixture(scope="module")
def fitted():
    return fit({0.0: separable_charts()})


def test_threshold_separates_right_from_wrong_codes(fitted):
    pairs = [p for c in separable_charts() for p in c.pairs]
    calibrated = fitted([s for s, _, _ in pairs], [k for _, _, k in pairs])
    right = [c for c, (_, hit, _) in zip(calibrated, pairs, strict=True) if hit]
    wrong = [c for c, (_, hit, _) in zip(calibrated, pairs, strict=True) if not hit]
    assert min(right) >= fitted.threshold > max(wrong)


def test_maps_are_monotone(fitted):
    assert set(fitted.maps) == {"all", "statement"}  # 60 statement codes: a map of their own
    for knots_x, knots_y in fitted.maps.values():
        assert list(knots_x) == sorted(knots_x)
        assert list(knots_y) == sorted(knots_y)
        assert (knots_y[0], knots_y[-1]) == (SCORE_MIN, SCORE_MAX)  # never certain


def test_cross_validated_precision_reaches_the_target(fitted):
    figures = fitted.report["cross_validated"]
    assert figures["precision"] >= TARGET_PRECISION
    assert figures["recall"] == 0.6  # every right code kept: 30 of the 50 gold codes
    assert (fitted.report["charts"], fitted.report["floor"]) == (20, 0.0)
    assert fitted.report["codes_by_stratum"] == {"statement": 60, "elaboration": 0, "rule": 0}


def test_floor_with_the_better_figures_is_chosen():
    right_low = [chart((0.9, True), (0.1, True), (0.5, False), n_gold=2)] * 10
    assert fit({0.0: right_low, 0.1: separable_charts()}).floor == 0.1


def test_each_stratum_with_enough_codes_has_its_own_map():
    # at 0.9 statement codes are right and rule codes wrong; nothing is an elaboration
    charts = [
        ChartPairs(((0.9, True, "statement"), (0.1, False, "statement"), (0.9, False, "rule")), 1)
        for _ in range(MIN_STRATUM)
    ]
    calibration = fit({0.0: charts})
    assert set(calibration.maps) == {"all", "statement", "rule"}
    scores = calibration([0.9, 0.9, 0.9], ["statement", "rule", "elaboration"])
    assert scores == [SCORE_MAX, SCORE_MIN, 0.5]  # an elaboration takes the pooled map: 15 of 30


def test_cross_validation_never_scores_a_chart_with_its_own_map():
    # chart 0 alone is wrong at 0.9: fitted on itself, its 0.9 would map below 1
    charts = [chart((0.9, i != 0), (0.1, False), n_gold=1) for i in range(5)]
    scored = cross_validated(charts, folds=5)
    assert scored[:2] == [(SCORE_MAX, False), (SCORE_MIN, False)]  # chart 0, fitted on charts 1-4
    assert scored[2:] == [(0.75, True), (SCORE_MIN, False)] * 4  # chart 0 among the other four


def test_perfectly_calibrated_scores_have_no_calibration_error():
    scored = [(0.25, True)] + [(0.25, False)] * 3 + [(0.75, True)] * 3 + [(0.75, False)]
    assert expected_calibration_error(scored) == pytest.approx(0.0, abs=1e-12)


def test_overconfident_scores_have_their_gap_as_error():
    scored = [(0.9, False)] * 4 + [(1.0, True)] * 4
    assert expected_calibration_error(scored) == pytest.approx(0.45)
