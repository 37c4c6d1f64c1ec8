"""`CandidateGenerator` on a two-term knowledge base: an abbreviation whose expansion negates a
word of its own slot (NSTEMI: non-ST elevation) finds the negating term only."""

from __future__ import annotations

import pytest

from nlp.candidate_generation import CandidateGenerator, SentenceWords, TermMatch
from nlp.knowledge_base import TermTokenizer
from nlp.rule_files import load_term_stopwords

# "NSTEMI" read as one slot holding the word and its expansion
NSTEMI = ("nstemi", "non", "st", "elevation", "myocardial", "infarction")
STEMI = ("stemi", "st", "elevation", "myocardial", "infarction")


@pytest.fixture(scope="module")
def generator() -> CandidateGenerator:
    tokenizer = TermTokenizer(load_term_stopwords())
    terms = [
        tokenizer.term("I21.4", "Non-ST elevation (NSTEMI) myocardial infarction", "tabular"),
        tokenizer.term("I21.3", "ST elevation (STEMI) myocardial infarction", "tabular"),
    ]
    assert terms[0].negated == {"st"} and not terms[1].negated
    return CandidateGenerator(terms)


def where(*slots: tuple[str, ...]) -> dict[str, list[int]]:
    positions: dict[str, list[int]] = {}
    for pos, forms in enumerate(slots):
        for form in forms:
            positions.setdefault(form, []).append(pos)
    return positions


def test_place_takes_the_negating_term_where_the_expansion_negates_its_word(generator):
    negated_forms = {0: frozenset({"st"})}
    assert generator._place(0, where(NSTEMI), frozenset(), negated_forms) == TermMatch(0, (0,), 1)
    assert generator._place(1, where(NSTEMI), frozenset(), negated_forms) is None


def test_place_refuses_the_negating_term_without_negated_forms(generator):
    assert generator._place(0, where(NSTEMI), frozenset()) is None
    assert generator._place(1, where(NSTEMI), frozenset()) == TermMatch(1, (0,), 0)


def test_negated_form_binds_to_its_own_slot_only(generator):
    # "STEMI ... NSTEMI": the second slot's expansion does not negate the first slot's ST
    negated_forms = {1: frozenset({"st"})}
    assert generator._place(1, where(STEMI, NSTEMI), frozenset(), negated_forms) == TermMatch(
        1, (0,), 1
    )
    assert generator._place(0, where(STEMI, NSTEMI), frozenset(), negated_forms) == TermMatch(
        0, (1,), 1
    )


def test_sentences_find_the_term_their_expansions_negate(generator):
    sentences = [
        SentenceWords([NSTEMI], frozenset(), {0: frozenset({"st"})}),
        SentenceWords([STEMI], frozenset()),
    ]
    found = generator(sentences)
    assert [[generator.terms[m.term_id].code for m in ms] for ms in found] == [["I21.4"], ["I21.3"]]
