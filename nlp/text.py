"""Token normalisation shared by the knowledge-base build and the matcher.

Both sides must agree exactly, so every term and every chart token goes through `normalize`.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

_KEEP_SHORT = frozenset({"s", "ss", "us", "is", "os", "as"})
# Words that negate the word after them inside a term or a phrase: "migraine without aura",
# "not intractable", "non-intractable", "no complications".
NEGATORS = frozenset({"no", "non", "not", "without", "w/o"})


@lru_cache(maxsize=200_000)
def normalize(token: str) -> str:
    """Lower-case, strip accents and possessives, and fold simple plurals.

    `Diseases` -> `disease`, `kidneys` -> `kidney`, `arteries` -> `artery`, `Crohn's` -> `crohn`.
    Deliberately light: the index's own comma-separated variants cover adjectival forms.
    """
    word = token.lower()
    if not word.isascii():
        word = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode("ascii")
    if word.endswith("'s") or word.endswith("’s"):
        word = word[:-2]
    if len(word) > 4 and word.isalpha():
        if word.endswith("ies"):
            return word[:-3] + "y"
        if word.endswith(("sses", "xes", "ches", "shes")):
            return word[:-2]
        if word.endswith("s") and word[-2:] not in _KEEP_SHORT:
            return word[:-1]
    return word


@lru_cache(maxsize=200_000)
def is_word(token: str) -> bool:
    """True for tokens that carry meaning for matching (letters or digits)."""
    return any(ch.isalnum() for ch in token)
