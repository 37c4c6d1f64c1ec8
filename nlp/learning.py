"""Term-to-code associations learned from coded charts.

Coders' language in a corpus differs from the index: CodiEsp codes "adenopathy" as R59.9 and
"HIV infection" as B20, and follows habits of its own. For every n-gram of content words (1-3
words in a row within a sentence) and every gold code of the same chart, we count the charts
holding both; a pair seen in at least `min_charts` charts with precision P(code | n-gram) of at
least `min_precision` becomes a `learned` term, with that precision as its weight.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

import spacy

from nlp.codeset import CodeSet
from nlp.corpus import CodedChart
from nlp.knowledge_base import Term
from nlp.sentences import add_sentence_pipes
from nlp.text import is_word, normalize

log = logging.getLogger(__name__)

MAX_NGRAM = 3
MIN_CHARTS = 3
MIN_PRECISION = 0.5
# A learned term needs a word found in at most this share of the charts: "old woman with a
# history" co-occurs with hypertension but names nothing.
MAX_COMMON_SHARE = 0.1


class NgramReader:
    """A chart's set of content-word n-grams (normalised, stopwords out, within sentences)."""

    def __init__(self, stopwords: frozenset[str]) -> None:
        self.nlp = spacy.blank("en")
        add_sentence_pipes(self.nlp)
        self.stopwords = stopwords

    def __call__(self, texts: Iterable[str]) -> list[frozenset[tuple[str, ...]]]:
        out = []
        for doc in self.nlp.pipe(texts, batch_size=32):
            grams: set[tuple[str, ...]] = set()
            for sent in doc.sents:
                words = [normalize(t.text) for t in sent if is_word(t.text)]
                words = [w for w in words if w not in self.stopwords]
                for n in range(1, MAX_NGRAM + 1):
                    for i in range(len(words) - n + 1):
                        grams.add(tuple(words[i : i + n]))
            out.append(frozenset(grams))
        return out


def learn_terms(
    charts: list[CodedChart],
    grams: list[frozenset[tuple[str, ...]]],
    codeset: CodeSet,
    *,
    min_charts: int = MIN_CHARTS,
    min_precision: float = MIN_PRECISION,
    max_common_share: float = MAX_COMMON_SHARE,
) -> list[Term]:
    """Learned terms from charts and their n-gram sets (aligned lists)."""
    df: Counter[tuple[str, ...]] = Counter()
    for chart_grams in grams:
        df.update(chart_grams)
    common = max_common_share * len(charts)
    frequent = {
        g for g, n in df.items() if n >= min_charts and any(df[(word,)] <= common for word in g)
    }
    together: Counter[tuple[tuple[str, ...], str]] = Counter()
    for chart, chart_grams in zip(charts, grams, strict=True):
        codes = {c for c in (codeset.canonical(g) for g in chart.gold) if c is not None}
        if not codes:
            continue
        kept = chart_grams & frequent
        together.update((g, c) for g in kept for c in codes)
    terms = []
    for (gram, code), n in together.items():
        if n < min_charts or (len(gram) == 1 and (len(gram[0]) < 3 or gram[0].isdigit())):
            continue
        precision = n / (df[gram] + 1)
        if precision >= min_precision:
            groups = tuple(dict.fromkeys((w,) for w in gram))
            terms.append(Term(code, groups, (), "learned", " ".join(gram), precision))
    log.info("learned %d term-code pairs from %d charts", len(terms), len(charts))
    return terms


def word_frequency(grams: list[frozenset[tuple[str, ...]]]) -> Counter[str]:
    """In how many charts each (normalised) word occurs."""
    return Counter(gram[0] for chart_grams in grams for gram in chart_grams if len(gram) == 1)
