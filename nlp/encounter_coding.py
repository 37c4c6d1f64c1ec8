"""A record of several encounters coded one encounter at a time, then listed as one chart.

Outpatient and professional coding reports each encounter from its own documentation (Official
Guidelines, Section IV): hypertension noted at a January visit and chronic kidney disease at a
March one are I10 on the first date and N18.x on the second, not the combination I12.9 of the
two. So an outpatient chart whose text holds several encounters (`nlp.encounters`: visits, signed
notes, dates of service) is cut into pieces, one per encounter, each coded on its own; the
chart's codes are then their union, each code with its best score and its evidence from every
encounter that supports it (so each evidence span keeps its own page and date of service).

An inpatient chart is one stay and is coded whole: its admission, progress and discharge notes
are one encounter for coding (UHDDS), whatever dates they carry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from nlp.encounters import ChartLayout
from nlp.records import Chart, CodedFinding


@dataclass(frozen=True, slots=True)
class Piece:
    """The part of a chart coded on its own: its text as a chart (the chart's id and setting)
    and where it starts in the chart's text."""

    chart: Chart
    start: int


def pieces(chart: Chart, layout: ChartLayout, setting: str) -> list[Piece]:
    """One piece per encounter of an outpatient chart; the whole chart otherwise."""
    if setting == "inpatient" or len(layout.encounters) < 2:
        return [Piece(chart, 0)]
    return [
        Piece(replace(chart, text=chart.text[e.start : e.end], pages=()), e.start)
        for e in layout.encounters
    ]


def union(findings: list[list[CodedFinding]], max_evidence: int) -> list[CodedFinding]:
    """The codes of a chart's pieces as one list: a code found in several pieces keeps its best
    score, assertion and description, every piece's notes once each, and up to `max_evidence`
    spans in text order, the first span of each piece that found it before any other."""
    found: dict[str, list[CodedFinding]] = {}
    for piece_findings in findings:
        for finding in piece_findings:
            found.setdefault(finding.code, []).append(finding)
    merged = []
    for group in found.values():
        best = max(group, key=lambda f: f.score)
        firsts = [f.evidence[0] for f in group if f.evidence]
        rest = [e for f in group for e in f.evidence[1:]]
        evidence = list(dict.fromkeys(firsts + rest))[:max_evidence]
        notes = tuple(dict.fromkeys(note for f in group for note in f.notes))
        merged.append(
            replace(
                best,
                evidence=tuple(sorted(evidence, key=lambda e: (e.start, e.end))),
                notes=notes,
            )
        )
    merged.sort(key=lambda f: (-f.score, f.code))
    return merged
