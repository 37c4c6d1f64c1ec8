"""Helpers of the linker: which of a sentence's matches is the specific one, and the words an
abbreviation's expansion negates."""

from __future__ import annotations

import pytest

from nlp.candidate_generation import TermMatch
from nlp.linking import _negated_in, _specific_first


def match(term_id: int, *positions: int) -> TermMatch:
    return TermMatch(term_id, positions, 0)


def subsumed(matches: list[TermMatch], groups=None) -> list[bool]:
    return [flag for _, flag in _specific_first(matches, groups)]


def test_match_inside_a_wider_match_is_subsumed():
    # "artery disease" inside "coronary artery disease"
    assert subsumed([match(0, 1, 2), match(1, 0, 1, 2)]) == [True, False]


def test_same_words_with_a_strict_superset_of_groups_are_subsumed():
    # "CAD" read as coronary artery disease: one slot, two terms of different breadth
    groups = [
        frozenset({("artery",), ("disease",)}),
        frozenset({("coronary",), ("artery",), ("disease",)}),
    ]
    assert subsumed([match(0, 0), match(1, 0)], groups) == [True, False]


@pytest.mark.parametrize(
    "groups",
    [
        [frozenset({("artery",)}), frozenset({("artery",)})],
        [frozenset({("artery",)}), frozenset({("disease",)})],
        None,
    ],
    ids=["same-groups", "disjoint-groups", "no-groups"],
)
def test_same_words_without_a_strict_superset_of_groups_both_stand(groups):
    assert subsumed([match(0, 0), match(1, 0)], groups) == [False, False]


def test_overlapping_matches_both_stand():
    assert subsumed([match(0, 0, 1), match(1, 1, 2)]) == [False, False]


@pytest.mark.parametrize(
    ("words", "negated"),
    [
        (("non", "st", "elevation"), {"st"}),
        (("migraine", "without", "aura"), {"aura"}),
        (("st", "elevation", "myocardial", "infarction"), set()),
        (("not",), set()),
        ((), set()),
    ],
)
def test_negated_in_gives_the_words_after_a_negator(words, negated):
    assert _negated_in(words) == negated


def test_hyphenated_abbreviations_stay_one_token_and_expand():
    import spacy

    from nlp.knowledge_base import TermTokenizer
    from nlp.linking import AbbreviationExpander
    from nlp.rule_files import Abbreviation, load_term_stopwords

    expander = AbbreviationExpander(
        [Abbreviation("e-cigarettes", "other tobacco product", False)],
        TermTokenizer(load_term_stopwords()),
    )
    nlp = spacy.blank("en")
    expander.keep_whole(nlp.tokenizer)
    tokens = [t.text for t in nlp("Nicotine dependence, E-cigarettes (vaping).")]
    assert "E-cigarettes" in tokens and "cigarettes" not in tokens
    assert set(expander("E-cigarettes")) == {"other", "tobacco", "product"}
