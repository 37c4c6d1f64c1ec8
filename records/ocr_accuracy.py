"""How close recognised text is to the text a page was made from: character and word accuracy,
1 - edit distance / length of the truth (whitespace runs count as one space), floored at 0."""

from __future__ import annotations

from collections.abc import Sequence


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance between two sequences (characters or words)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, item in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (item != other))
            )
        previous = current
    return previous[-1]


def _accuracy(recognised: Sequence[str], truth: Sequence[str]) -> float:
    if not truth:
        return 1.0 if not recognised else 0.0
    return max(0.0, 1.0 - edit_distance(recognised, truth) / len(truth))


def character_accuracy(recognised: str, truth: str) -> float:
    return _accuracy(" ".join(recognised.split()), " ".join(truth.split()))


def word_accuracy(recognised: str, truth: str) -> float:
    return _accuracy(recognised.split(), truth.split())
