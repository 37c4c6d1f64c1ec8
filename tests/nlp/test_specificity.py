"""`SpecificityResolver` on the FY2026 tabular list: the billable code a sentence's words
support."""

from __future__ import annotations

import pytest

from nlp.codeset import CodeSet
from nlp.knowledge_base import TermTokenizer
from nlp.rule_files import load_term_stopwords
from nlp.specificity import Resolution, SpecificityResolver


@pytest.fixture(scope="module")
def resolver(codeset: CodeSet) -> SpecificityResolver:
    return SpecificityResolver.build(codeset, TermTokenizer(load_term_stopwords()))


@pytest.mark.parametrize(
    ("code", "words", "better"),
    [
        ("R13.10", {"oropharyngeal", "dysphagia"}, "R13.12"),
        ("R13.10", {"pharyngoesophageal", "dysphagia"}, "R13.14"),
        ("G62.9", {"induced", "chemotherapy", "polyneuropathy"}, "G62.0"),
    ],
)
def test_refine_moves_a_default_child_to_the_sibling_the_words_name(resolver, code, words, better):
    assert resolver.refine(code, words) == Resolution(better, "supported")


def test_refine_climbs_through_default_children_to_the_branch_the_words_name(resolver):
    # F17.200 is the default of F17.20, itself the unspecified product of F17.2
    words = {"tobacco", "dependence", "cigarette"}
    assert resolver.refine("F17.200", words, {"tobacco", "dependence"}) == Resolution(
        "F17.210", "supported"
    )
    assert resolver.refine("F17.200", {"tobacco", "dependence"}) is None


def test_refine_keeps_a_default_child_the_words_add_nothing_to(resolver):
    assert resolver.refine("R13.10", {"dysphagia"}) is None


@pytest.mark.parametrize("code", ["R13.12", "G62.0"])
def test_refine_leaves_a_code_that_is_not_a_default_child(resolver, code):
    assert resolver.refine(code, {"oropharyngeal", "induced", "dysphagia"}) is None


@pytest.mark.parametrize("code", ["I10", "NOT-A-CODE"])
def test_refine_leaves_a_code_without_a_non_billable_parent(resolver, code):
    assert resolver.refine(code, {"hypertension"}) is None


def test_resolve_takes_the_uncomplicated_child_by_default(resolver):
    words = {"nicotine", "dependence", "cigarettes"}
    assert resolver.resolve("F17.21", words) == Resolution("F17.210", "default")


def test_resolve_takes_the_child_the_words_name(resolver):
    words = {"nicotine", "dependence", "cigarettes", "remission"}
    assert resolver.resolve("F17.21", words) == Resolution("F17.211", "supported")


def test_resolve_leaves_a_billable_code(resolver):
    assert resolver.resolve("I10", {"hypertension"}) == Resolution("I10", "billable")
