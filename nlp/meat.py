"""MEAT evidence for risk-adjustment codes: where a chart Monitors, Evaluates, Assesses or Treats
the condition behind a code, as `{kind, start, end}` character offsets into the chart text.

A risk-adjustment coder accepts a diagnosis only with evidence the provider links to it; a
condition the chart only lists (a problem list, a past history, a drug in a medication list) is
`supported: false`. Rules as data (`resources/meat.json`). Evidence is read in the statements
that state the condition (the list item with its continuation lines, the line, or the sentence
of a long narrative line): the code's own evidence spans and the mentions of its condition
family's `names` ("CHF", "heart failure" for I50), in sections where a provider states what they
did (assessment, plan, diagnoses, hospital course, HPI). In such a statement:

- status words (`stable`, `worsening`) assess, plan words (`continue`, `start`) treat,
  `recheck`/`follow` monitor, `ordered`/`labs` evaluate, whatever the condition;
- the family's drugs and therapies treat, its labs, exams and imaging evaluate, its monitoring
  monitors (keyed by ICD-10-CM prefix: insulin or an A1c for diabetes, furosemide or a BNP for
  heart failure, inhalers or spirometry for COPD, eGFR or creatinine for CKD).

A drug after a negation or a mere consideration ("not on insulin", "consider an SGLT2
inhibitor") treats nothing; in the code's own statement it still shows the condition assessed.
A negated mention of the condition links nothing. Text in, spans out: no Prefect, no Ray, no
chart text in the results.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from nlp.rule_files import ResourceError
from nlp.sections import Section, SectionDetector, section_at

MEAT_KINDS = ("monitor", "evaluate", "assess", "treat")
_CODE_PREFIX = re.compile(r"[A-Z][0-9A-Z]{0,6}")
_LIST_ITEM = re.compile(r"[ \t]*(?:\(?\d{1,2}[.)]|[-*#\u2022])[ \t]*\S")
_CLAUSE_MARKS = (".", ",", ";", ":", "\n")
_SENTENCE_END = re.compile(r"[.!?](?=\s)|\n")
# a narrative line longer than this is read sentence by sentence around the mention
_LONG_STATEMENT = 300


@dataclass(frozen=True, slots=True)
class MeatSpan:
    kind: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": self.start, "end": self.end}


@dataclass(frozen=True, slots=True)
class CodeMentions:
    """A code and the character ranges where the chart states it (its record's evidence)."""

    code: str
    spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class MeatFinding:
    code: str
    supported: bool
    meat: tuple[MeatSpan, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "supported": self.supported,
            "meat": [span.to_dict() for span in self.meat],
        }


@dataclass(frozen=True, slots=True)
class MeatFamily:
    name: str
    prefixes: tuple[str, ...]
    patterns: dict[str, re.Pattern[str]]  # kind -> alternation of the family's phrases
    names: re.Pattern[str] | None  # how a chart names the condition

    def covers(self, code: str) -> bool:
        return undotted(code).startswith(self.prefixes)


@dataclass(frozen=True, slots=True)
class MeatRules:
    statement_sections: frozenset[str]
    excluded_sections: frozenset[str]
    statement_patterns: dict[str, re.Pattern[str]]
    families: tuple[MeatFamily, ...]
    not_current: re.Pattern[str]
    not_current_window: int
    max_spans_per_kind: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MeatRules:
        kinds = data.get("kinds")
        if list(kinds or []) != list(MEAT_KINDS):
            raise ResourceError(f"meat rules: 'kinds' must be {list(MEAT_KINDS)}, got {kinds!r}")
        statement_words = _mapping(data, "statement_words")
        families = []
        for entry in data.get("families") or []:
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                raise ResourceError(f"meat family needs a 'name', got {entry!r}")
            prefixes = tuple(undotted(p) for p in _strings(entry.get("prefixes"), name))
            for prefix in prefixes:
                if not _CODE_PREFIX.fullmatch(prefix):
                    raise ResourceError(f"meat family {name!r}: {prefix!r} is no ICD-10 prefix")
            unknown = set(entry) - {"name", "prefixes", "names", *MEAT_KINDS}
            if unknown:
                raise ResourceError(
                    f"meat family {name!r}: unknown keys {sorted(unknown)}; allowed: name, "
                    f"prefixes, names and the kinds {', '.join(MEAT_KINDS)}"
                )
            patterns = {
                kind: _phrases(_strings(entry[kind], f"{name}.{kind}"))
                for kind in MEAT_KINDS
                if kind in entry
            }
            names = (
                _phrases(_strings(entry["names"], f"{name}.names")) if "names" in entry else None
            )
            families.append(MeatFamily(name, prefixes, patterns, names))
        if not families:
            raise ResourceError("meat rules: 'families' is empty")
        not_current = _mapping(data, "not_current")
        window = not_current.get("window")
        if not isinstance(window, int) or window < 1:
            raise ResourceError(f"meat rules: not_current.window must be >= 1, got {window!r}")
        max_spans = data.get("max_spans_per_kind")
        if not isinstance(max_spans, int) or max_spans < 1:
            raise ResourceError(f"meat rules: max_spans_per_kind must be >= 1, got {max_spans!r}")
        return cls(
            statement_sections=frozenset(
                _strings(_mapping(data, "statement_sections").get("sections"), "sections")
            ),
            excluded_sections=frozenset(
                _strings(_mapping(data, "excluded_sections").get("sections"), "sections")
            ),
            statement_patterns={
                kind: _phrases(_strings(statement_words.get(kind), f"statement_words.{kind}"))
                for kind in MEAT_KINDS
            },
            families=tuple(families),
            not_current=_phrases(_strings(not_current.get("words"), "not_current.words")),
            not_current_window=window,
            max_spans_per_kind=max_spans,
        )

    def families_of(self, code: str) -> list[MeatFamily]:
        return [family for family in self.families if family.covers(code)]


def load_meat_rules() -> MeatRules:
    text = resources.files("nlp.resources").joinpath("meat.json").read_text(encoding="utf-8")
    return MeatRules.from_dict(json.loads(text))


class MeatFinder:
    """Finds MEAT spans for codes of one chart at a time. Load once (`MeatFinder()`), reuse."""

    def __init__(
        self, rules: MeatRules | None = None, sections: SectionDetector | None = None
    ) -> None:
        self.rules = rules if rules is not None else load_meat_rules()
        if sections is None:
            import spacy

            sections = SectionDetector(spacy.blank("en"), "chartcoder_sections")
        self.sections = sections

    def find(self, text: str, codes: Iterable[CodeMentions]) -> list[MeatFinding]:
        """One finding per code, in the order given."""
        chart = _ChartView(text, self.sections.find(text), self.rules)
        return [self._finding(chart, code) for code in codes]

    def for_record(self, text: str, record: Mapping[str, Any]) -> dict[str, MeatFinding]:
        """Findings for the HCC-bearing codes of a `chartcoder code` record, keyed by code."""
        codes = [mentions_of(code) for code in record.get("codes") or [] if code.get("hcc")]
        return {finding.code: finding for finding in self.find(text, codes)}

    def annotate(self, text: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of a `chartcoder code` record whose HCC-bearing codes carry `supported` and
        `meat` (`[{kind, start, end}]`): offsets only, never the text."""
        findings = self.for_record(text, record)
        codes = []
        for code in record.get("codes") or []:
            finding = findings.get(code["code"]) if code.get("hcc") else None
            if finding is not None:
                code = {**code, **finding.to_dict(), "code": code["code"]}
            codes.append(code)
        return {**record, "codes": codes}

    def _finding(self, chart: _ChartView, code: CodeMentions) -> MeatFinding:
        found: dict[str, dict[tuple[int, int], None]] = {kind: {} for kind in MEAT_KINDS}
        families = self.rules.families_of(code.code)
        patterns = [self.rules.statement_patterns] + [f.patterns for f in families]
        statements: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for start, end in [*code.spans, *chart.name_mentions(families)]:
            if chart.section(start).name in self.rules.statement_sections:
                statements.setdefault(chart.statement(start, end), []).append((start, end))
        for (low, high), anchors in sorted(statements.items()):
            for kind_patterns in patterns:
                for kind, pattern in kind_patterns.items():
                    for match in pattern.finditer(chart.text, low, high):
                        if any(s <= match.start() < e for s, e in anchors):
                            continue  # words of the diagnosis itself
                        if kind == "treat" and chart.not_current(match.start(), low):
                            found["assess"][match.span()] = None  # a treatment decision
                            continue
                        found[kind][match.span()] = None
        spans = sorted(
            (
                MeatSpan(kind, start, end)
                for kind in MEAT_KINDS
                for start, end in list(found[kind])[: self.rules.max_spans_per_kind]
            ),
            key=lambda span: (span.start, span.end, span.kind),
        )
        return MeatFinding(code.code, bool(spans), tuple(spans))


class _ChartView:
    """A chart's text with its sections, statements and negation scopes."""

    def __init__(self, text: str, sections: list[Section], rules: MeatRules) -> None:
        self.text = text
        self.sections = sections
        self.rules = rules
        self.section_starts = {section.start for section in sections}
        self._names: dict[str, list[tuple[int, int]]] = {}

    def name_mentions(self, families: Sequence[MeatFamily]) -> list[tuple[int, int]]:
        """Where the chart names a condition of these families, negations left out."""
        spans = []
        for family in families:
            if family.names is None:
                continue
            if family.name not in self._names:
                self._names[family.name] = [
                    match.span()
                    for match in family.names.finditer(self.text)
                    if not self.not_current(match.start())
                ]
            spans.extend(self._names[family.name])
        return spans

    def section(self, offset: int) -> Section:
        return section_at(self.sections, offset)

    def statement(self, start: int, end: int) -> tuple[int, int]:
        """The range of the statement holding a mention: its list item (the line and its
        continuation lines), its line, or the sentence of a long narrative line."""
        text = self.text
        line_start = text.rfind("\n", 0, start) + 1
        line_end = self._line_end(end)
        if _LIST_ITEM.match(text, line_start) is not None:
            while line_end < len(text):
                next_start = line_end + 1
                next_end = self._line_end(next_start)
                line = text[next_start:next_end]
                if (
                    not line.strip()
                    or _LIST_ITEM.match(line)
                    or any(next_start <= s < next_end for s in self.section_starts)
                ):
                    break
                line_end = next_end
            return line_start, line_end
        if line_end - line_start <= _LONG_STATEMENT:
            return line_start, line_end
        return self._sentence(line_start, line_end, start, end)

    def _line_end(self, offset: int) -> int:
        found = self.text.find("\n", offset)
        return len(self.text) if found < 0 else found

    def _sentence(self, low: int, high: int, start: int, end: int) -> tuple[int, int]:
        sentence_start = low
        for match in _SENTENCE_END.finditer(self.text, low, start):
            sentence_start = match.end()
        following = _SENTENCE_END.search(self.text, end, high)
        return sentence_start, following.end() if following else high

    def not_current(self, offset: int, floor: int = 0) -> bool:
        """A negation or a mere consideration before `offset` in its clause."""
        low = max(floor, offset - self.rules.not_current_window)
        clause_break = max(self.text.rfind(mark, low, offset) for mark in _CLAUSE_MARKS)
        low = max(low, clause_break + 1)
        return self.rules.not_current.search(self.text, low, offset) is not None


def mentions_of(code: Mapping[str, Any]) -> CodeMentions:
    """A record's code (`chartcoder code` JSON) as the code and its evidence ranges."""
    return CodeMentions(
        str(code["code"]),
        tuple((int(ev["start"]), int(ev["end"])) for ev in code.get("evidence") or []),
    )


def undotted(code: str) -> str:
    return code.replace(".", "").strip().upper()


def _phrases(phrases: Sequence[str]) -> re.Pattern[str]:
    """One case-insensitive pattern of whole-word phrases, factored as a trie (a plain
    alternation of hundreds of phrases is tried phrase by phrase at every word start)."""
    trie: dict[str, Any] = {}
    for phrase in set(phrases):
        node = trie
        for token in _tokens(phrase.strip().lower()):
            node = node.setdefault(token, {})
        node[""] = {}  # a phrase ends here
    return re.compile(r"(?<![\w-])" + _trie_regex(trie) + r"(?![\w-])", re.IGNORECASE)


def _tokens(phrase: str) -> list[str]:
    """Regex pieces of a phrase: characters, `\\s+` for spaces, `\\w*` for a final '*'."""
    tokens: list[str] = []
    for index, char in enumerate(phrase):
        if char.isspace():
            if tokens and tokens[-1] != r"\s+":
                tokens.append(r"\s+")
        elif char == "*" and index == len(phrase) - 1:
            tokens.append(r"\w*")
        else:
            tokens.append(re.escape(char))
    return tokens


def _trie_regex(node: dict[str, Any]) -> str:
    branches = [token + _trie_regex(child) for token, child in sorted(node.items()) if token]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if "" in node:  # a phrase may end here: the longer ones are tried first
        return f"(?:{body})?" if len(branches) == 1 else f"{body}?"
    return body


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise ResourceError(f"meat rules: {key!r} must be an object, got {value!r}")
    return value


def _strings(value: object, where: str) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise ResourceError(f"meat rules: {where} must be a non-empty list of strings")
    return value
