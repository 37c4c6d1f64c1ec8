"""Micro P/R/F1 and CodiEsp's MAP on hand-computed cases."""

from __future__ import annotations

import pytest

from nlp.evaluation import matches, score


def test_descendant_matching_is_optional():
    assert matches("R51.9", "R51", descendants=True)
    assert not matches("R51.9", "R51", descendants=False)
    assert not matches("R51", "R51.9", descendants=True)


def test_map_follows_codiesp_definition():
    gold = {"a": ["A01", "B02"], "b": ["C03"]}
    predictions = {"a": ["A01", "X99", "B02"], "b": ["Y00"]}
    result = score(predictions, gold)
    # chart a: hits at ranks 1 and 3 -> (1/1 + 2/3) / 2; chart b: 0
    assert result.map == pytest.approx(((1 + 2 / 3) / 2 + 0) / 2)
    assert result.precision == pytest.approx(2 / 4)
    assert result.recall == pytest.approx(2 / 3)
    assert result.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))


def test_each_gold_code_is_matched_once():
    result = score({"a": ["R51.0", "R51.9"]}, {"a": ["R51"]})
    assert result.precision == pytest.approx(0.5)
    assert result.recall == pytest.approx(1.0)


def test_category_level_scores():
    result = score({"a": ["E11.22"]}, {"a": ["E11.9"]}, descendants=False, category=True)
    assert result.f1 == pytest.approx(1.0)


def test_calibration_bins_scores_against_hits():
    from nlp.evaluation import calibration

    scored = {"a": [("A01", 0.95), ("X99", 0.85), ("B02", 0.15)], "b": [("Y00", 0.05)]}
    result = calibration(scored, {"a": ["A01", "B02"], "b": ["C03"]})
    assert result.codes == 4
    assert result.brier == pytest.approx((0.05**2 + 0.85**2 + 0.85**2 + 0.05**2) / 4)
    # bins: [0.0, 0.1) 0.05 miss; [0.1, 0.2) 0.15 hit; [0.8, 0.9) 0.85 miss; [0.9, 1] 0.95 hit
    assert result.ece == pytest.approx((0.05 + 0.85 + 0.85 + 0.05) / 4)
