"""Resolves a category or partial code (`G57.6-`) to the billable code the text supports.

For each non-billable code, its children are told apart by the words their descriptions add to
the parent's (`G57.61 Lesion of plantar nerve, right lower limb` adds right, lower, limb). The
child whose added words the sentence holds wins; with no support, the `unspecified` child (or the
initial-encounter 7th character) is the coder's default, flagged with a more-specific-code hint.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import NamedTuple

from nlp.codeset import CodeSet
from nlp.knowledge_base import TermTokenizer

# What the coder picks when the text says no more, best first.
# "without": of "with status migrainosus" and "without status migrainosus", the one that adds
# no complication.
_DEFAULT_WORDS = (
    "without complications",
    "uncomplicated",
    "unspecified",
    "initial encounter",
    "without",
)


@dataclass(frozen=True, slots=True)
class Resolution:
    code: str
    how: str  # "billable", "supported", "default" or "unresolved"


class ChildWords(NamedTuple):
    code: str
    words: frozenset[str]
    default_rank: int  # position in _DEFAULT_WORDS, len(_DEFAULT_WORDS) when not a default


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


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
                # what the child adds to its parent's description decides a default: G43.009
                # adds "without status migrainosus"; its sibling's "without aura" is the parent's
                added = description[_shared_prefix(description, info.description.lower()) :]
                rank = next(
                    (i for i, w in enumerate(_DEFAULT_WORDS) if w in added),
                    len(_DEFAULT_WORDS),
                )
                entries.append(ChildWords(child, words, rank))
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

    def refine(
        self, code: str, words: Collection[str], parent_words: Collection[str] = ()
    ) -> Resolution | None:
        """A sibling that `words` document better than `code`, when `code` is its parent's
        default (unspecified) child: "oropharyngeal dysphagia" is R13.12, not the R13.10 that
        the index gives "dysphagia"; "chemotherapy-induced neuropathy" is G62.0, not G62.9.
        Words that only restate the parent (`parent_words`, and forms sharing their first five
        letters: "laryngeal" for "larynx") document no sibling."""
        stems = {w[:5] for w in parent_words if len(w) >= 5}
        own = [w for w in words if not (len(w) >= 5 and w[:5] in stems)]
        # up through default children: F17.200 is the default of F17.20, itself the default
        # ("unspecified") of F17.2, so "tobacco dependence, cigarettes" reaches F17.210
        node = code
        while (parent := self._parents().get(node)) is not None:
            child = next(c for c in self.children[parent] if c.code == node)
            if child.default_rank >= len(_DEFAULT_WORDS):
                return None
            if node == code:  # siblings: the words must support the whole way down
                better = self.resolve(parent, own)
                if better.how == "supported" and better.code != code:
                    return better
            else:  # an uncle's branch: a word only it names chooses it, its default may finish
                best, support = self._best_child(parent, own)
                if best is not None and support > 0 and best != node:
                    kids = self.children[parent]
                    others = {w for c in kids if c.code != best for w in c.words}
                    mine = next(c.words for c in kids if c.code == best)
                    rest = self.resolve(best, own)
                    if (mine & set(own)) - others and rest.how != "unresolved":
                        return Resolution(rest.code, "supported")
            node = parent
        return None

    def _parents(self) -> dict[str, str]:
        parents = getattr(self, "_parent_of", None)
        if parents is None:
            parents = {c.code: p for p, kids in self.children.items() for c in kids}
            self._parent_of = parents
        return parents

    def _best_child(self, code: str, words: Collection[str]) -> tuple[str | None, float]:
        best: str | None = None
        best_key: tuple[float, int, int] = (0.0, 0, 0)
        default: ChildWords | None = None
        for child in self.children[code]:
            if child.default_rank < len(_DEFAULT_WORDS) and (
                default is None or child.default_rank < default.default_rank
            ):
                default = child
            if not child.words:
                continue
            hit_words = [w for w in child.words if w in words]
            # a number alone ("2" of "type 2") does not tell children apart, and a child
            # named by a number (CKD stage 1) needs that number
            if not any(not w[:1].isdigit() for w in hit_words) or any(
                w[:1].isdigit() and w not in words for w in child.words
            ):
                continue
            hits = len(hit_words)
            key = (hits / len(child.words), hits, -len(child.words))
            if key > best_key:
                best, best_key = child.code, key
        if best is not None:
            return best, best_key[0]
        return (default.code if default else None), 0.0
