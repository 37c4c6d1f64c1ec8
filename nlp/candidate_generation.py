"""Finds terms of the knowledge base in a sentence: the candidate generator.

A term matches when every required group has a word in the sentence and the matched words lie
within a window that grows with the term's length; word order is free, as in chart language
("type 2 diabetes with CKD" and "CKD due to diabetes type 2" both find E11.22). Misspellings and
variants are mapped to the knowledge base's vocabulary by character 3-gram TF-IDF similarity
(scispaCy's candidate generator, applied to words), with a cache shared across charts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from nlp.knowledge_base import Term

MIN_FUZZY_LENGTH = 6
FUZZY_THRESHOLD = 0.8


def window_limit(n_groups: int) -> int:
    """Widest span (in words) that a term of n groups may cover in a sentence."""
    return max(2 * n_groups, n_groups + 4)


class SentenceWords(NamedTuple):
    """A sentence as word slots (each the forms a word may take) and the negated slots; an
    abbreviation's expansion may negate a word of its own slot (NSTEMI: non-ST elevation)."""

    slots: list[tuple[str, ...]]
    negated: frozenset[int]
    negated_forms: Mapping[int, frozenset[str]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class TermMatch:
    term_id: int
    positions: tuple[int, ...]
    optional_hits: int


class SpellingCorrector:
    """Maps a word outside the vocabulary to its nearest vocabulary word, if close enough.

    Close enough: cosine of character 3-gram TF-IDF vectors >= threshold, same first letter,
    length within one (a typo, not another word: `splint` is not `splinter`)."""

    def __init__(self, vocabulary: Sequence[str], threshold: float = FUZZY_THRESHOLD) -> None:
        self.words = [w for w in vocabulary if len(w) >= MIN_FUZZY_LENGTH - 1 and w.isalpha()]
        self.threshold = threshold
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 3), dtype=np.float32)
        self.matrix = self.vectorizer.fit_transform(self.words).T.tocsr()
        self.cache: dict[str, str | None] = {}

    def correct(self, words: Sequence[str]) -> dict[str, str]:
        """Corrections for the given out-of-vocabulary words (batch; results are cached)."""
        todo = [w for w in dict.fromkeys(words) if w not in self.cache]
        if todo:
            sims = (self.vectorizer.transform(todo) @ self.matrix).tocsr()
            for row, word in enumerate(todo):
                start, end = sims.indptr[row], sims.indptr[row + 1]
                best: str | None = None
                if end > start:
                    k = int(np.argmax(sims.data[start:end]))
                    candidate = self.words[sims.indices[start + k]]
                    if (
                        sims.data[start + k] >= self.threshold
                        and candidate[0] == word[0]
                        and abs(len(candidate) - len(word)) <= 1
                    ):
                        best = candidate
                self.cache[word] = best
        return {w: c for w in words if (c := self.cache[w]) is not None}


class CandidateGenerator:
    """Term lookup over sentences of normalised words."""

    def __init__(
        self,
        terms: list[Term],
        text_frequency: Mapping[str, int] | None = None,
    ) -> None:
        """`text_frequency`: how common each word is in charts (from training charts, if any).

        Each term is looked up under its anchor, the group of words rarest in chart text (or,
        without chart text, rarest among the terms), so that few terms are tried per word.
        """
        self.terms = terms
        frequency: dict[str, int] = defaultdict(int)
        for term in terms:
            for group in term.groups:
                for word in group:
                    frequency[word] += 1
        text = text_frequency or {}

        def cost(group: tuple[str, ...]) -> tuple[int, int]:
            return sum(text.get(w, 0) for w in group), sum(frequency[w] for w in group)

        anchors: dict[str, list[int]] = defaultdict(list)
        self.required: list[frozenset[str] | None] = []
        for term_id, term in enumerate(terms):
            for word in min(term.groups, key=cost):
                anchors[word].append(term_id)
            simple = all(len(g) == 1 for g in term.groups)
            self.required.append(frozenset(g[0] for g in term.groups) if simple else None)
        self.anchors = dict(anchors)
        self.vocabulary = frozenset(frequency)
        self.corrector = SpellingCorrector(sorted(self.vocabulary))

    def __getstate__(self) -> dict:
        # terms as columns of plain values: unpickling 185k NamedTuples one by one costs
        # each actor about a second; rebuilding them from columns is several times faster
        state = dict(self.__dict__)
        terms = state.pop("terms")
        state["term_columns"] = tuple(zip(*terms, strict=True)) if terms else ()
        return state

    def __setstate__(self, state: dict) -> None:
        columns = state.pop("term_columns")
        self.__dict__.update(state)
        self.terms = list(map(Term._make, zip(*columns, strict=True))) if columns else []

    def correct(self, words: Sequence[str]) -> dict[str, str]:
        unknown = [
            w
            for w in words
            if w not in self.vocabulary and len(w) >= MIN_FUZZY_LENGTH and w.isalpha()
        ]
        return self.corrector.correct(unknown) if unknown else {}

    def __call__(self, sentences: list[SentenceWords]) -> list[list[TermMatch]]:
        """Each sentence's matches."""
        return [self._match(sentence) for sentence in sentences]

    def _match(self, sentence: SentenceWords) -> list[TermMatch]:
        where: dict[str, list[int]] = defaultdict(list)
        for pos, forms in enumerate(sentence.slots):
            for form in forms:
                where[form].append(pos)
        present = where.keys()
        required = self.required
        tried: set[int] = set()
        for word in present:
            tried.update(self.anchors.get(word, ()))
        matches: list[TermMatch] = []
        for term_id in tried:
            words = required[term_id]
            if words is not None and not words <= present:
                continue
            match = self._place(term_id, where, sentence.negated, sentence.negated_forms)
            if match is not None:
                matches.append(match)
        return matches

    def _place(
        self,
        term_id: int,
        where: dict[str, list[int]],
        negated: frozenset[int],
        negated_forms: Mapping[int, frozenset[str]] | None = None,
    ) -> TermMatch | None:
        """Where the term sits in the sentence, or None.

        Rejected when a number of the term is not right next to another of its words (`stage 3a`,
        `type 2`), or when the chart negates a word the term does not (`migraine without aura`
        is not `migraine with aura`) or the reverse.
        """
        term = self.terms[term_id]
        group_positions = [[p for w in g for p in where.get(w, ())] for g in term.groups]
        if not all(group_positions):
            return None
        if len(group_positions) == 1:
            chosen: tuple[int, ...] = (min(group_positions[0]),)
        else:
            tightest = _tightest(group_positions, window_limit(len(term.groups)))
            if tightest is None:
                return None
            chosen = tightest
            for group, pos in zip(term.groups, chosen, strict=True):
                if group[0][:1].isdigit() and not any(abs(pos - other) == 1 for other in chosen):
                    return None
        inside = negated_forms or {}
        for group, pos in zip(term.groups, chosen, strict=True):
            chart_negates = pos in negated or any(w in inside.get(pos, ()) for w in group)
            if chart_negates != any(w in term.negated for w in group):
                return None
        lo, hi = min(chosen), max(chosen)
        optional_hits = sum(
            1 for w in term.optional if any(lo - 3 <= p <= hi + 3 for p in where.get(w, ()))
        )
        return TermMatch(term_id, tuple(sorted(set(chosen))), optional_hits)


def _tightest(group_positions: list[list[int]], limit: int) -> tuple[int, ...] | None:
    """One position per group so that the span is smallest; None if wider than `limit`."""
    best: tuple[int, ...] | None = None
    best_span = limit + 1
    for anchor in group_positions[0]:
        chosen = [anchor]
        for positions in group_positions[1:]:
            chosen.append(min(positions, key=lambda p: abs(p - anchor)))
        span = max(chosen) - min(chosen) + 1
        if span < best_span:
            best, best_span = tuple(chosen), span
    return best
