"""Similar coded charts: how often the charts most like this one were coded with a code.

A TF-IDF index of the training charts' words, with each chart's gold codes. For a new chart and
its candidate codes, the `k` most similar training charts vote, weighted by cosine similarity:
the share that had the code (or a code it descends from), the share that had its category, and
the best similarity. These are ranking features only; a code still needs evidence in the chart.

The index holds word weights of the training charts (no text, but derived from it): the model
folder deserves the same care as the charts it was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from nlp.codeset import undot

K = 20
FEATURES = ("neighbors_code", "neighbors_category", "neighbors_best_similarity")


class ChartNeighbors:
    def __init__(self, vectorizer: TfidfVectorizer, matrix, gold: list[frozenset[str]]) -> None:
        self.vectorizer = vectorizer
        self.matrix = matrix  # sparse, one L2-normalised row per training chart
        self.gold = gold  # undotted gold codes per training chart
        self.categories = [frozenset(code[:3] for code in codes) for codes in gold]

    @classmethod
    def fit(cls, texts: Sequence[str], gold: Sequence[Sequence[str]]) -> ChartNeighbors:
        vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2, stop_words="english")
        matrix = vectorizer.fit_transform(texts)
        return cls(vectorizer, matrix, [frozenset(undot(c) for c in codes) for codes in gold])

    def support(self, text: str, codes: Sequence[str]) -> np.ndarray:
        """One row of `FEATURES` per code."""
        out = np.zeros((len(codes), len(FEATURES)), dtype=np.float32)
        if not codes or not self.gold:
            return out
        similarity = (self.matrix @ self.vectorizer.transform([text]).T).toarray().ravel()
        k = min(K, len(similarity))
        top = np.argpartition(-similarity, k - 1)[:k]
        weights = np.clip(similarity[top], 0.0, None)
        total = float(weights.sum())
        if total <= 0.0:
            return out
        best = float(similarity[top].max())
        gold = [self.gold[j] for j in top]
        categories = [self.categories[j] for j in top]
        for row, code in enumerate(codes):
            plain = undot(code)
            prefixes = {plain[:n] for n in range(3, len(plain) + 1)}
            code_weight = category_weight = 0.0
            for weight, codes_j, categories_j in zip(weights, gold, categories, strict=True):
                if plain[:3] in categories_j:
                    category_weight += weight
                    if not prefixes.isdisjoint(codes_j):
                        code_weight += weight
            out[row] = (code_weight / total, category_weight / total, best)
        return out
