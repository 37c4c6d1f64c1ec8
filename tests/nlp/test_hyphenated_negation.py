""" "non-" written with a hyphen is the word joined ("non-alcoholic" is "nonalcoholic") and never
the word alone: a chart's non-Hodgkin lymphoma is not Hodgkin's, its non-alcoholic fatty liver
not alcoholic (fixture index rows 25-28)."""

from __future__ import annotations

import pytest

from nlp.coder import ChartCoder
from nlp.records import Chart


def codes(coder: ChartCoder, text: str) -> set[str]:
    (result,) = coder.code([Chart("x", f"Assessment: {text}.")])
    return {f.code for f in result.codes}


@pytest.mark.parametrize(
    ("text", "found", "not_found"),
    [
        ("Non-Hodgkin lymphoma", "C85.90", "C81.90"),
        ("Hodgkin lymphoma", "C81.90", "C85.90"),
        ("Steatosis of liver, non-alcoholic", "K76.0", "K70.0"),
        ("Steatosis of liver, nonalcoholic", "K76.0", "K70.0"),
        ("Steatosis of liver, alcoholic", "K70.0", "K76.0"),
    ],
)
def test_a_hyphenated_non_reads_as_the_joined_word(coder, text, found, not_found):
    assert found in codes(coder, text) and not_found not in codes(coder, text)


def test_a_spaced_non_is_not_joined_to_the_next_word(coder):
    # "non - Hodgkin" written apart is not one word: only a "non-" glued to its word is joined
    assert "C85.90" not in codes(coder, "Lymphoma, non - Hodgkin")
