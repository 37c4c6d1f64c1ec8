"""Resolves a category or partial code (`G57.6-`) to the billable code the text supports.

For each non-billable code, its children are told apart by the words their descriptions add to
the parent's (`G57.61 Lesion of plantar nerve, right lower limb` adds right, lower, limb). The
child whose added words the sentence holds wins; with no support, the `unspecified` child (or the
initial-encounter 7th character) is the coder's default, flagged with a more-specific-code hint.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from nlp.codeset import CodeSet
from nlp.knowledge_base import TermTokenizer

_DEFAULT_WORDS = ("unspecified", "initial encounter")


@dataclass(frozen=True, slots=True)
class Resolution:
    code: str
    how: str  # "billable", "supported", "default" or "unresolved"


@dataclass(frozen=True, slots=True)
class ChildWords:
    code: str
    words: frozenset[str]
    is_default: bool


class SpecificityResolver:
    def __init__(self, children: dict[str, tuple[ChildWords, ...]]) -> None:
        self.children = children

    @classmethod
    def build(cls, codeset: CodeSet, tokenizer: TermTokenizer) -> SpecificityResolver:
        children: dict[str, tuple[ChildWords, ...]] = {}
        for code, info in codeset.codes.items():
            if info.billable or not info.children:
                continue
            parent_words = set(tokenizer.words(info.description))
            entries = []
            for child in info.children:
                description = codeset[child].description.lower()
                words = frozenset(tokenizer.words(description)) - parent_words
                is_default = any(w in description for w in _DEFAULT_WORDS)
                entries.append(ChildWords(child, words, is_default))
            children[code] = tuple(entries)
        return cls(children)

    def resolve(self, code: str, words: Collection[str]) -> Resolution:
        """The most specific billable descendant of `code` that `words` support."""
        how = "billable"
        while code in self.children:
            best, support = self._best_child(code, words)
            if best is None:
                return Resolution(code, "unresolved")
            if support == 0:
                how = "default"
            elif how == "billable":
                how = "supported"
            code = best
        return Resolution(code, how)

    def _best_child(self, code: str, words: Collection[str]) -> tuple[str | None, float]:
        best: str | None = None
        best_key: tuple[float, int, int] = (0.0, 0, 0)
        default: str | None = None
        for child in self.children[code]:
            if child.is_default and default is None:
                default = child.code
            if not child.words:
                continue
            hits = sum(1 for w in child.words if w in words)
            if hits == 0:
                continue
            key = (hits / len(child.words), hits, -len(child.words))
            if key > best_key:
                best, best_key = child.code, key
        if best is not None:
            return best, best_key[0]
        return default, 0.0
