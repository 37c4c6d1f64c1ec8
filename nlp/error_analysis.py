"""Why codes are missed or wrong: every error of a predictions file, given its cause.

For each chart the engine is run again to see what it saw (`trace`): the codes its mentions
named before context, the candidates after context with their scores, and the codes it kept
after the coding rules. Each error then gets one cause, the first that applies:

missed gold code (false negative)
- `no candidate`: no mention names the code or any code of its category;
- `wrong specificity`: a mention names a code of the same category, not this one;
- `context`: a mention names the code, but context removed it (negated, hypothetical,
  uncertain outpatient, family or history turned it into another code);
- `ranked low`: a candidate matches, scored under the threshold;
- `coding rule`: a candidate matches, scored over the threshold, dropped by a coding rule
  (Excludes1, a more specific code of its category, top-k).

wrong code (false positive)
- `duplicate`: it matches a gold code that a better ranked code already matched;
- `wrong specificity`: a gold code of its category is there, not matched by it;
- `not present`: coded as history, family or uncertain;
- `learned term only`: only terms learned from training charts support it;
- `not in gold`: a dictionary term supports it, and the gold does not have it.

Errors are also counted by ICD-10-CM chapter and by the section the evidence is in.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from nlp.coder import ChartCoder
from nlp.encounters import chart_layout
from nlp.evaluation import matches
from nlp.records import Chart
from nlp.rule_files import load_chapters

MAX_EXAMPLES = 3
SNIPPET = 70


@dataclass(frozen=True, slots=True)
class Trace:
    """What the engine saw in one chart, as plain data."""

    named: dict[str, str]  # code a mention named before context -> why it was not coded ("")
    scores: dict[str, float]  # candidate code after context -> score
    kept: dict[str, str]  # code kept -> its assertion
    sources: dict[str, frozenset[str]]  # candidate code -> term sources
    sections: dict[str, str]  # candidate code -> section of its first evidence
    snippets: dict[str, str]  # named or candidate code -> the words of its first mention


def trace(coder: ChartCoder, chart: Chart) -> Trace:
    doc = coder.nlp(chart.text)
    setting = chart.setting or coder.setting
    named: dict[str, str] = {}
    snippets: dict[str, str] = {}
    for mention in sorted(doc._.mentions, key=lambda m: m.start):
        coded = coder.rules_by_setting[setting].code_mention(mention)
        why = _why_not(mention, coded.code if coded else None)
        if named.get(mention.code, "x") != "":
            named[mention.code] = why
        snippets.setdefault(mention.code, chart.text[mention.start : mention.end][:SNIPPET])
    cands = coder._candidates(doc, setting)
    scores = coder.scorer.score(cands.features) if cands.codes else np.zeros(0)
    findings = coder._findings(chart, cands, scores, (0, 0, chart_layout(chart.text)))
    sources, sections = {}, {}
    for code, group in zip(cands.codes, cands.groups, strict=True):
        mentions = sorted((cm.mention for cm in group), key=lambda m: m.start)
        sources[code] = frozenset(m.source for m in mentions)
        sections[code] = mentions[0].section
        snippets.setdefault(code, chart.text[mentions[0].start : mentions[0].end][:SNIPPET])
    return Trace(
        named,
        {c: float(s) for c, s in zip(cands.codes, scores, strict=True)},
        {f.code: f.assertion for f in findings},
        sources,
        sections,
        snippets,
    )


def _why_not(mention, coded: str | None) -> str:
    if coded == mention.code:
        return ""
    if mention.negated:
        return "negated"
    if mention.hypothetical:
        return "hypothetical"
    if coded is None:
        return mention.assertion if mention.assertion != "present" else "excluded"
    return f"{mention.assertion} (coded {coded})"


@dataclass(frozen=True, slots=True)
class Error:
    kind: str  # "missed" or "wrong"
    cause: str
    chart_id: str
    code: str
    chapter: str
    section: str
    detail: str


@dataclass
class ErrorReport:
    errors: list[Error] = field(default_factory=list)

    def counts(self, key: str) -> Counter[tuple[str, str]]:
        return Counter((e.kind, getattr(e, key)) for e in self.errors)

    def largest(self, n: int = 5) -> list[tuple[tuple[str, str], int, list[Error]]]:
        by_class: dict[tuple[str, str], list[Error]] = defaultdict(list)
        for error in self.errors:
            by_class[(error.kind, error.cause)].append(error)
        ranked = sorted(by_class.items(), key=lambda item: -len(item[1]))[:n]
        return [(name, len(items), items[:MAX_EXAMPLES]) for name, items in ranked]

    def as_dict(self) -> dict:
        return {
            "by_cause": _nested(self.counts("cause")),
            "by_chapter": _nested(self.counts("chapter")),
            "by_section": _nested(self.counts("section")),
            "largest": [
                {
                    "kind": kind,
                    "cause": cause,
                    "count": count,
                    "examples": [
                        {"chart_id": e.chart_id, "code": e.code, "detail": e.detail}
                        for e in examples
                    ],
                }
                for (kind, cause), count, examples in self.largest()
            ],
        }


def _nested(counts: Counter[tuple[str, str]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for (kind, name), count in counts.most_common():
        out[kind][name] = count
    return dict(out)


class ErrorAnalysis:
    def __init__(self, coder: ChartCoder, descendants: bool = True) -> None:
        self.coder = coder
        self.descendants = descendants
        self.chapters = load_chapters()

    def chapter(self, code: str) -> str:
        category = code.replace(".", "").upper()[:3]
        for chapter in self.chapters:
            if chapter.first <= category <= chapter.last:
                return chapter.name
        return "unknown"

    def __call__(
        self,
        charts: Sequence[Chart],
        predictions: Mapping[str, Sequence[str]],
        gold: Mapping[str, Sequence[str]],
    ) -> ErrorReport:
        report = ErrorReport()
        for chart in charts:
            if chart.chart_id not in gold or chart.error is not None:
                continue
            ranked = list(dict.fromkeys(predictions.get(chart.chart_id, ())))
            report.errors.extend(
                self.chart_errors(
                    chart.chart_id, trace(self.coder, chart), ranked, gold[chart.chart_id]
                )
            )
        return report

    def chart_errors(
        self, chart_id: str, seen: Trace, ranked: list[str], gold_codes: Sequence[str]
    ) -> list[Error]:
        unmatched = list(dict.fromkeys(gold_codes))
        matched: list[str] = []
        errors = []
        for code in ranked:
            hit = next((g for g in unmatched if matches(code, g, self.descendants)), None)
            if hit is not None:
                unmatched.remove(hit)
                matched.append(hit)
                continue
            cause = self._wrong_cause(code, seen, matched, gold_codes)
            errors.append(
                self._error("wrong", cause, chart_id, code, seen, seen.snippets.get(code, ""))
            )
        for code in unmatched:
            cause, detail = self._missed_cause(code, seen)
            errors.append(self._error("missed", cause, chart_id, code, seen, detail))
        return errors

    def _error(self, kind, cause, chart_id, code, seen: Trace, detail: str) -> Error:
        return Error(
            kind, cause, chart_id, code, self.chapter(code), seen.sections.get(code, "-"), detail
        )

    def _wrong_cause(self, code: str, seen: Trace, matched: list[str], gold: Sequence[str]) -> str:
        if any(matches(code, g, self.descendants) for g in matched):
            return "duplicate"
        if any(g.replace(".", "")[:3] == code.replace(".", "")[:3] for g in gold):
            return "wrong specificity"
        if seen.kept.get(code, "present") != "present":
            return "not present"
        if seen.sources.get(code) == frozenset({"learned"}):
            return "learned term only"
        return "not in gold"

    def _missed_cause(self, code: str, seen: Trace) -> tuple[str, str]:
        def hit(candidate: str) -> bool:
            return matches(candidate, code, self.descendants)

        scored = [c for c in seen.scores if hit(c)]
        if scored:
            best = max(scored, key=seen.scores.__getitem__)
            score = seen.scores[best]
            cause = "ranked low" if score < self.coder.threshold else "coding rule"
            return cause, f"{best} scored {score:.2f}: {seen.snippets.get(best, '')}"
        removed = [c for c, why in seen.named.items() if hit(c) and why]
        if removed:
            return "context", f"{seen.named[removed[0]]}: {seen.snippets.get(removed[0], '')}"
        category = code.replace(".", "")[:3]
        relatives = [c for c in [*seen.scores, *seen.named] if c.replace(".", "")[:3] == category]
        if relatives:
            return "wrong specificity", f"found {', '.join(sorted(set(relatives))[:3])}"
        return "no candidate", ""
