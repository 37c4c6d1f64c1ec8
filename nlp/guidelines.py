"""US coding conventions: the ICD-10-CM Official Guidelines (FY2026) on a chart's coded findings.

The rules are data (`resources/us_guidelines.json`); this module reads them and applies them in
two places of the coder:

- which mentions may be coded (`admits`): where a chart has a diagnostic statement (assessment,
  plan, diagnoses, problem list), only the conditions stated there are coded (Section IV.J: code
  the conditions that require or affect care; risk adjustment asks the same); words inside a
  section header or form label ("HISTORY OF PRESENT ILLNESS", "ESTIMATED BLOOD LOSS:") are not
  diagnoses; term-code pairs learned from CodiEsp are not used;
- what the chart's codes become (`apply`): combination codes by the classification's presumptions
  (I.A.15, I.C.9.a), one code per condition, no symptom integral to a coded diagnosis (I.B.4-5),
  Z79 long-term drug codes (I.C.4.a.3) and Z68 BMI codes only with a weight diagnosis.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nlp.codeset import CodeSet, has_prefix, undot, undotted
from nlp.linking import Mention
from nlp.records import Note
from nlp.rule_files import ResourceError, read_text
from nlp.sections import Section
from nlp.statements import (
    form_labels,
    item_end,
    item_groups,
    item_sentence,
    item_start,
)
from nlp.text_findings import TextFinding, TextFindings

GUIDELINES_FILE = "us_guidelines.json"
_BMI = re.compile(r"\b(?:BMI|body mass index)\b[^0-9\n]{0,12}(\d{2,3}(?:\.\d+)?)", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z-]*")
_RULED_OUT = r"\W+(?:(?:was|is|has been|were|have been)\s+)?(?:ruled out|excluded)\b"
_BMI_BAND = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?)|or less|or greater)", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Combination:
    name: str
    guideline: str
    all_of: tuple[tuple[str, ...], ...]
    none_of: tuple[str, ...]
    add: str
    drop: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Guidelines:
    diagnostic_tiers: tuple[frozenset[str], ...]
    fallback_excluded: frozenset[str]
    excluded_sources: frozenset[str]
    integral: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]
    one_per_condition: tuple[tuple[str, ...], ...]
    combinations: tuple[Combination, ...]
    text_rules: TextFindings
    resolved: re.Pattern[str]
    sequela: re.Pattern[str]
    sequela_codes: tuple[str, ...]
    not_encounter: tuple[str, ...]
    not_diagnoses: tuple[re.Pattern[str], ...] = ()
    gives_way: tuple[tuple[str, tuple[str, ...]], ...] = ()
    statement_symptoms: tuple[str, ...] = ()

    @classmethod
    def load(cls, codeset: CodeSet) -> Guidelines:
        return cls.from_dict(json.loads(read_text(GUIDELINES_FILE)), codeset)

    @classmethod
    def from_dict(cls, data: dict, codeset: CodeSet) -> Guidelines:
        try:
            combos = tuple(
                Combination(
                    r["name"],
                    r["guideline"],
                    tuple(undotted(group) for group in r["all_of"]),
                    undotted(r.get("none_of", ())),
                    r["add"],
                    undotted(r.get("drop", ())),
                )
                for r in data["combinations"]["rules"]
            )
            guidelines = cls(
                diagnostic_tiers=tuple(
                    frozenset(tier) for tier in data["diagnostic_sections"]["tiers"]
                ),
                fallback_excluded=frozenset(data["diagnostic_sections"]["fallback_excluded"]),
                excluded_sources=frozenset(data["excluded_sources"]["sources"]),
                integral=tuple(
                    (undotted(f["diagnoses"]), undotted(f["symptoms"]))
                    for f in data["integral_symptoms"]["families"]
                ),
                one_per_condition=tuple(
                    undotted(f["prefixes"]) for f in data["one_code_per_condition"]["families"]
                ),
                combinations=combos,
                text_rules=TextFindings.from_dict(data, codeset, GUIDELINES_FILE),
                resolved=re.compile(data["resolved_outpatient"]["pattern"], re.IGNORECASE),
                sequela=re.compile(data["sequelae"]["pattern"], re.IGNORECASE),
                sequela_codes=undotted(data["sequelae"]["codes"]),
                not_encounter=undotted(
                    data["not_encounter_codes"]["prefixes"] + data["query_instead"]["prefixes"]
                ),
                not_diagnoses=tuple(
                    re.compile(p, re.IGNORECASE) for p in data["not_diagnoses"]["patterns"]
                ),
                gives_way=tuple(
                    (undot(r["code"]), undotted(r["to"]))
                    for r in data["unspecified_gives_way"]["rules"]
                ),
                statement_symptoms=undotted(
                    data["symptom_in_diagnosis_statement"]["symptom_prefixes"]
                ),
            )
        except re.error as exc:
            raise ResourceError(f"{GUIDELINES_FILE}: bad pattern: {exc}") from exc
        except (KeyError, TypeError) as exc:
            raise ResourceError(f"{GUIDELINES_FILE}: missing or malformed entry {exc}") from exc
        for diagnoses, symptoms in guidelines.integral:
            overlap = [s for s in symptoms if s.startswith(diagnoses)]
            overlap += [d for d in diagnoses if d.startswith(symptoms)]
            if overlap:
                raise ResourceError(f"{GUIDELINES_FILE}: {overlap} are both symptom and diagnosis")
        for code in [c.add for c in combos]:
            if code not in codeset or not codeset[code].billable:
                raise ResourceError(f"{GUIDELINES_FILE}: {code} is not a billable FY2026 code")
        return guidelines

    # -- which mentions may be coded -------------------------------------------------------

    def not_diagnosis_spans(
        self, text: str, header_starts: Iterable[int], codable: frozenset[str] | None
    ) -> list[range]:
        """Where words state no diagnosis: section headers, the `not_diagnoses` patterns, and,
        in a chart read whole (no diagnostic statement), capitalised form labels (in an
        assessment, "ATRIAL FIBRILLATION:" names a problem)."""
        spans = form_labels(text, header_starts, capitalised=codable is None)
        for pattern in self.not_diagnoses:
            spans.extend(range(m.start(), m.end()) for m in pattern.finditer(text))
        return spans

    def codable_sections(self, sections: Iterable[str]) -> frozenset[str] | None:
        """The sections whose mentions are coded: the chart's diagnostic sections of the first
        tier it has, or None (every section but the excluded ones) when it has none."""
        names = set(sections)
        for tier in self.diagnostic_tiers:
            present = tier & names
            if present:
                return frozenset(present)
        return None

    def admits(self, mention: Mention, codable: frozenset[str] | None, labels: list[range]) -> bool:
        if mention.source in self.excluded_sources or mention.subsumed:
            return False
        if has_prefix(mention.code, self.not_encounter):
            return False
        if codable is None:
            if mention.section in self.fallback_excluded:
                return False
        elif mention.section not in codable:
            return False
        return not any(mention.start in span and mention.end - 1 in span for span in labels)

    def not_current(self, text: str, mention: Mention, setting: str) -> bool:
        """Whether the mention's line makes it no current condition: resolved (outpatient), or
        the cerebrovascular cause of a sequela (I.C.9.d)."""
        line_start = text.rfind("\n", 0, mention.start) + 1
        line_end = text.find("\n", mention.end)
        if line_end < 0:
            line_end = len(text)
        if (
            setting == "outpatient"
            and not undot(mention.code).startswith("Z")
            and self.resolved.match(text, mention.end, min(line_end, mention.end + 80)) is not None
        ):
            return True
        return (
            has_prefix(mention.code, self.sequela_codes)
            and self.sequela.search(text, line_start, line_end) is not None
        )

    def ruled_out_later(self, text: str, mention: Mention) -> bool:
        """Whether the mention's words are ruled out further on its line ("Rule out UTI:
        urinalysis negative; UTI ruled out"): the linker reads a term once a sentence."""
        line_end = text.find("\n", mention.end)
        rest = text[mention.end : line_end if line_end >= 0 else len(text)]
        words = re.escape(text[mention.start : mention.end])
        return re.search(words + _RULED_OUT, rest, re.IGNORECASE) is not None

    # -- what the chart's codes become ------------------------------------------------------

    def text_findings(
        self, text: str, sections: list[Section], sentence_starts: list[int]
    ) -> list[TextFinding]:
        """Drug words and BMI values in the chart, outside the excluded sections."""
        return self.text_rules.find(text, sections, sentence_starts)

    def bmi_code(self, value: float) -> str | None:
        return self.text_rules.bmi_code(value)

    # -- what the chart's codes become ------------------------------------------------------

    def apply(
        self,
        kept: dict[str, list[Note]],
        score_of: dict[str, float],
        support: dict[str, list],
        findings: list[TextFinding],
        specificity: dict[str, tuple[bool, int, bool]],
        asks_for: Callable[[str, str], bool],
    ) -> dict[str, list[Note]]:
        """The chart's kept codes (code -> notes) under the guidelines. `score_of` and
        `support` (code -> supporting items) gain the codes added; `specificity` ranks codes
        of one condition (not unspecified first, then words matched); `asks_for(a, b)` says
        whether code a's notes ask for code b (use additional code)."""
        kept = {code: list(notes) for code, notes in kept.items()}
        replaced = self._combine(kept, score_of, support)
        self._one_per_condition(
            kept, score_of, {c: v for c, v in specificity.items() if c not in replaced}
        )
        self._drop_integral_symptoms(kept)
        self._drop_nos(kept)
        self._drop_contained(kept, support, specificity, asks_for)
        self._drop_symptoms_in_statements(kept, support, asks_for)
        self.text_rules.add_codes(kept, score_of, support, findings)
        return kept

    def yields(self, code: str, other: str) -> bool:
        """Whether `code` is a NOS code that gives way to `other` (`unspecified_gives_way`)."""
        return any(
            undot(code).startswith(prefix) and has_prefix(other, systems) and other != code
            for prefix, systems in self.gives_way
        )

    def _drop_nos(self, kept) -> None:
        for prefix, systems in self.gives_way:
            for code in [c for c in kept if undot(c).startswith(prefix)]:
                specific = next((c for c in kept if c != code and has_prefix(c, systems)), None)
                if specific is None:
                    continue
                kept[specific].extend(kept.pop(code))
                kept[specific].append(
                    Note(
                        "more-specific-documented",
                        f"{specific} is documented, so {code} is not coded.",
                        (code,),
                    )
                )

    def _drop_contained(self, kept, support, specificity, asks_for) -> None:
        """A code whose every mention lies inside another kept code's mention, and which is
        the less specific reading of those words (an unspecified code, or fewer words of a code
        of the same block), is not a second code ("chronic cholecystitis" inside "cholelithiasis
        with chronic cholecystitis"), unless one of the two asks for the other (use additional
        code: "type 2 DM with CKD stage 3a" keeps N18.31)."""
        spans = {
            code: [(item_start(i), item_end(i), item_groups(i)) for i in support.get(code, ())]
            for code in kept
        }
        for code in list(kept):
            mine = spans[code]
            if not mine or code not in kept:
                continue
            unspecified = not specificity.get(code, (True, 0, True))[0]
            for other in list(kept):
                if other == code or asks_for(other, code) or asks_for(code, other):
                    continue
                theirs = spans[other]
                related = unspecified or undot(code)[:2] == undot(other)[:2]
                inside = related and all(
                    any(s <= a and b <= e and (unspecified or g < h) for s, e, h in theirs)
                    for a, b, g in mine
                )
                if inside:
                    kept[other].extend(kept.pop(code))
                    kept[other].append(
                        Note("one-code", f"{code} reads the same words as {other}.", (code,))
                    )
                    break

    def _drop_symptoms_in_statements(self, kept, support, asks_for) -> None:
        def sentences(code: str) -> set[int]:
            return {item_sentence(item) for item in support.get(code, ())}

        diagnoses = {c: sentences(c) for c in kept if not has_prefix(c, self.statement_symptoms)}
        for code in [c for c in kept if has_prefix(c, self.statement_symptoms)]:
            mine = sentences(code)
            beside = [d for d, theirs in diagnoses.items() if mine & theirs]
            covered = set().union(*(diagnoses[d] for d in beside)) if beside else set()
            if not mine or not mine <= covered or any(asks_for(d, code) for d in beside):
                continue
            kept[beside[0]].extend(kept.pop(code))
            kept[beside[0]].append(
                Note("integral", f"{code} describes {beside[0]} in its statement (I.B.5).", (code,))
            )

    def _combine(self, kept, score_of, support) -> set[str]:
        """Apply the combination rules; the codes they replaced."""
        replaced: set[str] = set()
        for rule in self.combinations:
            members = []
            for group in rule.all_of:
                match = [c for c in kept if has_prefix(c, group) and c != rule.add]
                if not match:
                    break
                members.append(max(match, key=lambda c: score_of[c]))
            else:
                if any(has_prefix(c, rule.none_of) for c in kept):
                    continue
                dropped = [c for c in kept if has_prefix(c, rule.drop) and c != rule.add]
                replaced.update(dropped)
                notes = [n for c in dropped for n in kept.pop(c)]
                notes.append(
                    Note(
                        "combination",
                        f"{rule.add}: {rule.name} ({rule.guideline})"
                        + (f"; replaces {', '.join(dropped)}." if dropped else "."),
                        tuple(dropped),
                    )
                )
                if rule.add in kept:
                    kept[rule.add].extend(notes)
                    continue
                score_of[rule.add] = min(score_of[c] for c in members)
                support[rule.add] = [item for c in members for item in support[c]]
                kept[rule.add] = notes
        return replaced

    def _one_per_condition(self, kept, score_of, specificity) -> None:
        """Of a condition's codes, the best documented stays: among the kept ones and the
        candidates under the threshold (a chart that says "chronic systolic CHF" is I50.22,
        however the ranker scored it), not unspecified first, then words matched, then score."""
        for family in self.one_per_condition:
            members = [c for c in kept if has_prefix(c, family)]
            if not members:
                continue
            rivals = [
                c
                for c in specificity
                if c not in kept and has_prefix(c, family) and specificity[c][2]
            ]
            if all(specificity.get(c, (True, 0, True))[0] for c in members):
                rivals = []  # a specific code is kept: the ranker's choice stands
            best = max(
                members + rivals,
                key=lambda c: (*specificity.get(c, (True, 0, True))[:2], score_of[c]),
            )
            if best not in kept:
                score_of[best] = max(score_of[c] for c in members)
                kept[best] = []
            for code in members:
                if code != best:
                    kept[best].extend(kept.pop(code))
                    kept[best].append(
                        Note("one-code", f"{code} is the same condition as {best}.", (code,))
                    )

    def _drop_integral_symptoms(self, kept) -> None:
        for diagnoses, symptoms in self.integral:
            confirmed = [c for c in kept if has_prefix(c, diagnoses)]
            if not confirmed:
                continue
            for code in [c for c in kept if has_prefix(c, symptoms)]:
                cause = confirmed[0]
                if cause in kept:
                    kept.pop(code)
                    kept[cause].append(
                        Note("integral", f"{code} is integral to {cause} (I.B.5).", (code,))
                    )
