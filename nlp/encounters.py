"""A chart's encounters and pages, and the page and date of service of any offset in it.

A chart holds one or more encounters (visits, stays, signed notes). Reading its lines in order
(rules in `resources/encounters.json`, see `nlp.encounter_rules`):
- a labelled date (`Date of Service:`, `DOS`, `Admission Date:`, `Discharge Date:` ...) gives the
  current encounter a date of that kind, or starts a new encounter when the current one already
  has another date of that kind, or, after body text (`body_lines` lines or more since the last
  header line; fewer are header lines such as `Patient:` or `Provider:`), a date that may not
  follow its own (a discharge date may follow an admission date);
- a note title (`PROGRESS NOTE`, `Office Visit`, `DISCHARGE SUMMARY` ...) names the current
  encounter's note type, or starts a new encounter after body text of a titled or dated one;
- a signature line (`Electronically signed by ... on 02/11/2026`) closes the encounter: what
  comes next belongs to a new encounter from its first line on, once a title or a date opens
  it (lines right after a signature, such as a co-signature, stay with it otherwise).
A continuation (an unsigned encounter followed by one of the same note type with the same or no
date) is one encounter. Every offset belongs to exactly one encounter; a chart without any of
these marks is one encounter with no date. Pages are counted by form feeds (`\\f`), 1-based.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from nlp.encounter_rules import SIGNED, DateEvent, EncounterRules

PAGE_BREAK = "\f"
_LINE = re.compile(r"[^\n\f]*(?:\n|\f|$)")


@dataclass(frozen=True, slots=True)
class Encounter:
    """One encounter: its date of service (ISO, or None), the pages it spans, its note type
    (None when untitled) and its character range in the chart text."""

    date_of_service: str | None
    first_page: int
    last_page: int
    note_type: str | None
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "date_of_service": self.date_of_service,
            "first_page": self.first_page,
            "last_page": self.last_page,
            "note_type": self.note_type,
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True, slots=True)
class ChartLayout:
    """Where a chart's pages start and its encounters."""

    page_starts: tuple[int, ...]
    encounters: tuple[Encounter, ...]

    @property
    def pages(self) -> int:
        return len(self.page_starts)

    def page_at(self, offset: int) -> int:
        """The 1-based page of a character offset (a form feed ends its page)."""
        return max(1, bisect_right(self.page_starts, offset))

    def encounter_at(self, offset: int) -> Encounter:
        starts = [e.start for e in self.encounters]
        return self.encounters[max(0, bisect_right(starts, offset) - 1)]

    def locate(self, offset: int) -> tuple[int, str | None]:
        """(page, date of service) of a character offset."""
        return self.page_at(offset), self.encounter_at(offset).date_of_service


@dataclass
class _Open:
    """The encounter being read."""

    start: int
    note_type: str | None = None
    dates: dict[str, str] = field(default_factory=dict)
    body: int = 0  # lines of body text since the last header line
    closed: bool = False  # a signature was read
    after_close: int | None = None  # offset of the first line after the signature block

    def may_follow(self, kind: str, rules: EncounterRules) -> bool:
        allowed = rules.may_follow.get(kind, frozenset())
        return all(k in (kind, SIGNED) or k in allowed for k in self.dates)


def page_starts(text: str) -> tuple[int, ...]:
    return (0, *(m.end() for m in re.finditer(PAGE_BREAK, text)))


def chart_layout(text: str, rules: EncounterRules | None = None) -> ChartLayout:
    """The chart's pages and encounters."""
    rules = rules or EncounterRules.load()
    starts = page_starts(text)
    opened = _split(text, rules)
    bounds = [o.start for o in opened[1:]] + [len(text)]
    layout = ChartLayout(starts, ())
    encounters = []
    for item, end in zip(opened, bounds, strict=True):
        last = len(text[item.start : end].rstrip()) + item.start - 1
        encounters.append(
            Encounter(
                rules.date_of_service(item.dates),
                layout.page_at(item.start),
                layout.page_at(max(item.start, last)),
                item.note_type,
                item.start,
                end,
            )
        )
    return ChartLayout(starts, tuple(encounters))


def _split(text: str, rules: EncounterRules) -> list[_Open]:
    opened = [_Open(0)]
    for match in _LINE.finditer(text):
        line, offset = match.group(0), match.start()
        if not line.strip():
            if match.end() == len(text):
                break
            continue
        current = opened[-1]
        if current.closed and current.after_close is None and not rules.is_signature(line):
            current.after_close = offset
        dates = rules.line_dates(line)
        note_type = rules.note_type(line)
        if note_type is not None and not any(d.kind == "service" for d in dates):
            title_date = rules.first_date(line)
            if title_date is not None:
                dates.append(DateEvent("service", title_date))
        if rules.is_signature(line):
            current = _signature(opened, current, offset, line, rules)
        elif note_type is not None or dates:
            current = _header(opened, current, offset, note_type, dates, rules)
        else:
            current.body += 1
    return _merge_continuations(opened, rules)


def _new(opened: list[_Open], current: _Open, offset: int) -> _Open:
    start = current.after_close if current.closed and current.after_close is not None else offset
    item = _Open(start)
    opened.append(item)
    return item


def _signature(opened, current: _Open, offset: int, line: str, rules: EncounterRules) -> _Open:
    if current.closed and current.after_close is not None:
        current = _new(opened, current, offset)  # a note with no header, then its signature
    date = rules.first_date(line)
    if date is not None:
        current.dates.setdefault(SIGNED, date)
    current.closed = True
    current.body = 0
    return current


def _header(opened, current: _Open, offset: int, note_type, dates, rules) -> _Open:
    has_marks = current.note_type is not None or any(k != SIGNED for k in current.dates)
    in_body = current.body >= rules.body_lines
    if current.closed or (note_type is not None and in_body and has_marks):
        current = _new(opened, current, offset)
    for event in dates:
        known = current.dates.get(event.kind)
        conflict = known is not None and known != event.date
        out_of_order = in_body and not current.may_follow(event.kind, rules)
        if conflict or (out_of_order and event.date not in current.dates.values()):
            current = _new(opened, current, offset)
            in_body = False
        current.dates.setdefault(event.kind, event.date)
    if note_type is not None and current.note_type is None:
        current.note_type = note_type
    current.body = 0
    return current


def _merge_continuations(opened: list[_Open], rules: EncounterRules) -> list[_Open]:
    merged = [opened[0]]
    for item in opened[1:]:
        previous = merged[-1]
        same_date = all(previous.dates.get(k, v) == v for k, v in item.dates.items())
        if (
            not previous.closed
            and previous.note_type is not None
            and item.note_type == previous.note_type
            and same_date
        ):
            previous.dates.update({k: v for k, v in item.dates.items()})
            previous.closed = item.closed
            previous.after_close = item.after_close
            continue
        merged.append(item)
    return merged
