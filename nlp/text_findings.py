"""Codes read from the chart's words by a guideline rather than from a diagnosis: long-term
drug use (Z79, I.C.4.a.3 and the Z79 notes), body mass index (Z68, I.B.14) and weeks of
gestation (Z3A, chapter 15), each coded only beside the condition that asks for it. The rules
are the `long_term_drugs`, `bmi` and `weeks_of_gestation` entries of
`resources/us_guidelines.json`."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from nlp.codeset import CodeSet, has_prefix, undotted
from nlp.records import Note
from nlp.rule_files import ResourceError
from nlp.sections import Section, section_at

_BMI = re.compile(r"\b(?:BMI|body mass index)\b[^0-9\n]{0,12}(\d{2,3}(?:\.\d+)?)", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z-]*")
_BMI_BAND = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?)|or less|or greater)", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class DrugRule:
    code: str
    with_codes: tuple[str, ...]
    words: frozenset[str]


@dataclass(frozen=True, slots=True)
class TextFinding:
    """A code read from the text by a guideline rule (a drug, a BMI value), with its span."""

    code: str
    start: int
    end: int
    section: str
    sentence: int


@dataclass(frozen=True, slots=True)
class TextFindings:
    drugs: tuple[DrugRule, ...]
    excluded_sections: frozenset[str]
    negation_words: frozenset[str]
    not_long_term: frozenset[str]
    bmi_requires: tuple[str, ...]
    bmi_bands: tuple[tuple[float, float, str], ...]
    gestation_patterns: tuple[re.Pattern[str], ...] = ()
    gestation_requires: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict, codeset: CodeSet, source: str) -> TextFindings:
        drugs = data["long_term_drugs"]
        rules = cls(
            drugs=tuple(
                DrugRule(d["code"], undotted(d["with"]), frozenset(w.lower() for w in d["words"]))
                for d in drugs["drugs"]
            ),
            excluded_sections=frozenset(drugs["excluded_sections"]),
            negation_words=frozenset(drugs["negation_words"]),
            not_long_term=frozenset(drugs["not_long_term"]["words"]),
            bmi_requires=undotted(data["bmi"]["requires_any"]),
            bmi_bands=_bmi_bands(codeset),
            gestation_patterns=tuple(
                re.compile(p, re.IGNORECASE) for p in data["weeks_of_gestation"]["patterns"]
            ),
            gestation_requires=undotted(data["weeks_of_gestation"]["requires_any"]),
        )
        for weeks in range(0, 50):
            if weeks_code(weeks) not in codeset:
                raise ResourceError(f"{source}: {weeks_code(weeks)} is not a FY2026 code")
        for rule in rules.drugs:
            if rule.code not in codeset or not codeset[rule.code].billable:
                raise ResourceError(f"{source}: {rule.code} is not a billable FY2026 code")
        return rules

    def find(
        self, text: str, sections: list[Section], sentence_starts: list[int]
    ) -> list[TextFinding]:
        """Drug words and BMI values in the chart, outside the excluded sections."""
        found: list[TextFinding] = []

        def section_name(offset: int) -> str:
            return section_at(sections, offset).name if sections else ""

        def finding(code: str, start: int, end: int) -> TextFinding:
            sentence = max(bisect_right(sentence_starts, start) - 1, 0)
            return TextFinding(code, start, end, section_name(start), sentence)

        for match in _WORD.finditer(text):
            word = match.group().lower()
            rule = next((d for d in self.drugs if word in d.words), None)
            if rule is None or section_name(match.start()) in self.excluded_sections:
                continue
            if self._negated(text, match.start()) or self._short_term(text, match):
                continue
            found.append(finding(rule.code, match.start(), match.end()))
        for match in _BMI.finditer(text):
            code = self.bmi_code(float(match.group(1)))
            if code is not None:
                found.append(finding(code, match.start(), match.end()))
        gestation = self.gestational_age(text, section_name)
        if gestation is not None:
            found.append(finding(weeks_code(int(gestation.group(1))), *gestation.span()))
        return found

    def gestational_age(self, text: str, section_name) -> re.Match[str] | None:
        """The chart's first stated gestational age ("G2P1 at 24w3d", "GA 31 weeks", "28
        weeks gestation"), outside the excluded sections."""
        matches = [
            m
            for pattern in self.gestation_patterns
            for m in pattern.finditer(text)
            if section_name(m.start()) not in self.excluded_sections
        ]
        return min(matches, key=lambda m: m.start(), default=None)

    def _short_term(self, text: str, match: re.Match[str]) -> bool:
        """A drug on a line that says sliding scale, drip, once, or that it was stopped: not
        long-term use."""
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", match.end())
        line = text[line_start : line_end if line_end >= 0 else len(text)].lower()
        clause = re.split(r"[\n,.;]", text[match.end() : match.end() + 30], maxsplit=1)[0]
        after = _WORD.findall(clause.lower())[:3]
        return any(w in self.not_long_term for w in _WORD.findall(line)) or any(
            w in self.negation_words for w in after
        )

    def _negated(self, text: str, start: int) -> bool:
        line_start = text.rfind("\n", 0, start) + 1
        before = _WORD.findall(text[max(line_start, start - 40) : start].lower())
        return any(w in self.negation_words for w in before[-3:])

    def bmi_code(self, value: float) -> str | None:
        return next((code for lo, hi, code in self.bmi_bands if lo <= value <= hi), None)

    def add_codes(self, kept, score_of, support, findings) -> None:
        """Code the findings whose reason the chart codes: Z79 beside the condition the drug
        treats, Z68 beside a weight diagnosis (the current BMI, one of them)."""
        bmis = [f for f in findings if f.code.startswith("Z68")]
        current = [f for f in bmis if f.section in ("vital_signs", "physical_examination")]
        chosen = (current or bmis)[-1:]
        findings = [f for f in findings if not f.code.startswith("Z68")] + chosen
        for finding in findings:
            if finding.code.startswith("Z68"):
                needed = self.bmi_requires
            elif finding.code.startswith("Z3A"):
                needed = self.gestation_requires
            else:
                rule = next(d for d in self.drugs if d.code == finding.code)
                needed = rule.with_codes
            if needed:
                reasons = [c for c in kept if has_prefix(c, needed)]
                if not reasons:
                    continue
                score = max(score_of[c] for c in reasons)
            else:
                reasons, score = [], max(score_of.values(), default=0.0)
            if finding.code in kept and finding.code in support:
                support[finding.code].append(finding)
                continue
            if finding.code.startswith("Z68") and any(c.startswith("Z68") for c in kept):
                continue
            score_of[finding.code] = max(score_of.get(finding.code, 0.0), score)
            support[finding.code] = [finding]
            kept[finding.code] = (
                [Note("guideline", f"Reported with {', '.join(reasons)}.", tuple(reasons))]
                if reasons
                else []
            )


def weeks_code(weeks: int) -> str:
    """The Z3A code of a gestational age in whole weeks."""
    if weeks < 8:
        return "Z3A.01"
    return f"Z3A.{weeks:02d}" if weeks <= 42 else "Z3A.49"


def _bmi_bands(codeset: CodeSet) -> tuple[tuple[float, float, str], ...]:
    """Adult BMI bands from the Z68 descriptions ("... 35.0-35.9, adult", "19.9 or less")."""
    bands = []
    for code in codeset.billable_descendants("Z68"):
        description = codeset[code].description
        if "adult" not in description.lower():
            continue
        match = _BMI_BAND.search(description.split("]")[-1])
        if match is None:
            continue
        low = float(match.group(1))
        if match.group(2):
            bands.append((low, float(match.group(2)) + 0.09, code))
        elif "less" in match.group(0).lower():
            bands.append((0.0, low + 0.09, code))
        else:
            bands.append((low, 1000.0, code))
    return tuple(sorted(bands))
