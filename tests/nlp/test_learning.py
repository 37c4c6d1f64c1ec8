"""Term-code pairs learned from coded charts: what is learned and what is not."""

from __future__ import annotations

from nlp.corpus import CodedChart
from nlp.learning import learn_terms


def chart(i: int, words: str, gold: tuple[str, ...]) -> CodedChart:
    return CodedChart(f"c{i}", words, gold)


def test_a_term_needs_a_word_that_is_not_in_every_chart(coder):
    # 50 charts all say "old woman history"; 4 of them also say "enolism" and are coded F10.20,
    # and those 4 are also the ones coded I10
    charts, grams = [], []
    for i in range(50):
        drinker = i < 4
        words = {("old",), ("woman",), ("history",), ("old", "woman")}
        if drinker:
            words.add(("enolism",))
        charts.append(chart(i, "", ("F10.20", "I10") if drinker else ("J18.9",)))
        grams.append(frozenset(words))
    terms = {(t.text, t.code) for t in learn_terms(charts, grams, coder.codeset)}
    assert ("enolism", "F10.20") in terms and ("enolism", "I10") in terms
    # "old woman" is in every chart: it names nothing, whatever it co-occurs with
    assert not any(text in ("old", "woman", "old woman", "history") for text, _ in terms)
