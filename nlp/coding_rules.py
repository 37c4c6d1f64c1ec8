"""ICD-10-CM coding rules applied to a chart's linked mentions.

- negated and hypothetical mentions never yield a code;
- a family-history mention codes to Z80-Z84, not to the disease;
- a history-of mention codes to the personal-history code where ICD-10-CM has one (Z85-Z87,
  I25.2 for an old infarction), otherwise the condition keeps its code marked historical;
- an uncertain diagnosis is not coded as established under the outpatient guideline (the
  default); the inpatient rule codes it as if established, marked uncertain;
- "use additional code" companions documented in the chart are recommended together (the best
  supported code of each referenced range), and Excludes1 pairs keep the better supported code;
- an unspecified code gives way to a more specific code of the same category (I50.9 to I50.23);
- external causes (V00-Y99) are not diagnoses: they are not recommended by this coder.
"""

from __future__ import annotations

from dataclasses import dataclass

from nlp.codeset import CodeSet, in_range, undot
from nlp.conventions import SETTINGS, Setting
from nlp.linking import Mention
from nlp.records import Note
from nlp.rule_files import load_prefix_map

# `us`: the ICD-10-CM Official Guidelines (the default); `codiesp`: the CodiEsp benchmark's habits.
_FAMILY_CODES = ("Z80", "Z81", "Z82", "Z83", "Z84")
_PERSONAL_CODES = ("Z85", "Z86", "Z87", "I252")
EXTERNAL_CAUSES = ("V", "W", "X", "Y")
_UNSPECIFIED = ("unspecified", "without complications")
# Words that say "no more detail" in a description; an unspecified code whose other words are
# all its parent's is that parent's not-otherwise-specified form.
_NOS_WORDS = frozenset(
    {"unspecified", "uncomplicated", "without", "complications", "not", "elsewhere", "classified"}
)
_FILLER_WORDS = frozenset({"and", "of", "the", "or", "in", "other", "type", "site"})


def _description_words(description: str) -> frozenset[str]:
    words = "".join(ch if ch.isalnum() else " " for ch in description.lower()).split()
    return frozenset(
        w.removesuffix("s") for w in words if w not in _NOS_WORDS and w not in _FILLER_WORDS
    )


def longest_prefix(code: str, mapping: dict[str, str]) -> str | None:
    plain = undot(code)
    for length in range(len(plain), 0, -1):
        target = mapping.get(plain[:length])
        if target is not None:
            return target
    return None


@dataclass(frozen=True, slots=True)
class CodedMention:
    code: str
    assertion: str
    mention: Mention


class CodingRules:
    def __init__(
        self,
        codeset: CodeSet,
        *,
        setting: Setting = "outpatient",
        family: dict[str, str] | None = None,
        personal: dict[str, str] | None = None,
    ) -> None:
        if setting not in SETTINGS:
            raise ValueError(f"setting {setting!r} is not one of {', '.join(SETTINGS)}")
        self.codeset = codeset
        self.setting = setting
        self._scopes: dict[str, str | None] = {}
        self.family = family if family is not None else load_prefix_map("family_history.tsv")
        self.personal = (
            personal if personal is not None else load_prefix_map("personal_history.tsv")
        )

    def code_mention(self, mention: Mention) -> CodedMention | None:
        """The code a mention yields under its context, or None."""
        if mention.negated or mention.hypothetical:
            return None
        code, assertion = mention.code, mention.assertion
        plain = undot(code)
        if plain.startswith(EXTERNAL_CAUSES):
            return None
        if assertion == "family":
            if plain.startswith(_FAMILY_CODES):
                return CodedMention(code, "family", mention)
            target = longest_prefix(code, self.family)
            return CodedMention(target, "family", mention) if target else None
        if assertion == "historical":
            if plain.startswith(_PERSONAL_CODES):
                return CodedMention(code, "historical", mention)
            target = longest_prefix(code, self.personal)
            return CodedMention(target or code, "historical", mention)
        if assertion == "uncertain" and self.setting == "outpatient":
            return None
        if plain.startswith(_FAMILY_CODES):
            assertion = "family"
        return CodedMention(code, assertion, mention)

    def companion_notes(self, code: str, score_of: dict[str, float]) -> tuple[list[Note], set[str]]:
        """Notes for "use additional code" and "code first", and the companions documented:
        of the candidates in each referenced range, the best scored."""
        info = self.codeset[code]
        notes: list[Note] = []
        companions: set[str] = set()
        if info.use_additional:
            found = self._best_in_ranges(code, info.use_additional, score_of)
            companions.update(found)
            if found:
                notes.append(
                    Note(
                        "companion",
                        f"Use additional code: {', '.join(found)} documented in the chart.",
                        tuple(found),
                    )
                )
            else:
                notes.append(
                    Note(
                        "use-additional",
                        f"Use additional {info.use_additional_text}",
                        _range_codes(info.use_additional),
                    )
                )
        if info.code_first:
            found = self._best_in_ranges(code, info.code_first, score_of)
            companions.update(found)
            kind = "code-first" if found else "code-first-hint"
            text = (
                f"Code first {', '.join(found)}." if found else f"Code first {info.code_first_text}"
            )
            notes.append(Note(kind, text, tuple(found) or _range_codes(info.code_first)))
        return notes, companions

    def _best_in_ranges(
        self, code: str, ranges: tuple[tuple[str, str], ...], score_of: dict[str, float]
    ) -> list[str]:
        best: dict[tuple[str, str], str] = {}
        for other, score in score_of.items():
            if other == code or undot(other)[:3] == undot(code)[:3]:
                continue
            for code_range in ranges:
                if in_range(other, (code_range,)):
                    current = best.get(code_range)
                    if current is None or score > score_of[current]:
                        best[code_range] = other
        return sorted(set(best.values()))

    def is_unspecified(self, code: str) -> bool:
        description = self.codeset[code].description.lower()
        return any(word in description for word in _UNSPECIFIED)

    def unspecified_scope(self, code: str) -> str | None:
        """The concept an unspecified code is the NOS form of, or None.

        The concept is the parent when the parent's description holds every word of the code's
        head (its description before the first comma, less "unspecified" and the like), and
        then each further ancestor whose description has exactly those words.
        R59.9 (enlarged lymph nodes, unspecified) is R59 unspecified, so R59.0 (localized)
        replaces it; G43.909 (migraine, unspecified, ...) is G43 unspecified, so G43.009
        replaces it. R11.2 (nausea with vomiting, unspecified) is not R11 (nausea and vomiting)
        unspecified, and R11.10 (vomiting, unspecified) is R11.1 unspecified: R11.0 (nausea)
        replaces neither.
        """
        if code in self._scopes:
            return self._scopes[code]
        scope = self._unspecified_scope(code)
        self._scopes[code] = scope
        return scope

    def _unspecified_scope(self, code: str) -> str | None:
        if not self.is_unspecified(code):
            return None
        head = _description_words(self.codeset[code].description.split(",")[0])
        scope = None
        parent = self.codeset[code].parent
        while parent is not None and parent in self.codeset:
            words = _description_words(self.codeset[parent].description)
            if not (head <= words if scope is None else head == words):
                break
            scope = parent
            parent = self.codeset[parent].parent
        return scope

    def excludes1(self, a: str, b: str) -> bool:
        """Whether a and b form an Excludes1 pair (either direction)."""
        if a == b or undot(a).startswith(undot(b)) or undot(b).startswith(undot(a)):
            return False
        return in_range(b, self.codeset[a].excludes1) or in_range(a, self.codeset[b].excludes1)

    def specificity_note(self, code: str, resolution: str) -> Note | None:
        if resolution not in ("default", "unresolved"):
            return None
        info = self.codeset[code]
        parent = info.parent if resolution == "default" else code
        siblings = self.codeset[parent].children if parent and parent in self.codeset else ()
        options = tuple(c for c in siblings if c != code)[:12]
        text = (
            "The chart does not say which; a more specific code may apply."
            if options
            else "Not billable: a more specific code is required."
        )
        return Note("more-specific", text, options)


def _range_codes(ranges: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    return tuple(lo if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)
