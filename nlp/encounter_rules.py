"""The rules that split a chart into encounters (`resources/encounters.json`), validated and
compiled on load, and the dates they read (US order: `02/10/2026` is 2026-02-10)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from nlp.rule_files import ResourceError, read_text

RESOURCE = "encounters.json"
SIGNED = "signed"  # the kind of a signature line's date
# The separators allowed between a label or a title and what follows it.
_SEPARATOR = r"[ \t]*[:#\-\u2013\u2014|]?[ \t]*"


@dataclass(frozen=True, slots=True)
class DateEvent:
    """A labelled date found in a line: its kind (`service`, `admission`, `discharge`) and the
    ISO date."""

    kind: str
    date: str


@dataclass(frozen=True)
class EncounterRules:
    date_kinds: tuple[str, ...]
    label_kind: dict[str, str]  # lower-cased label -> kind
    may_follow: dict[str, frozenset[str]]
    title_type: dict[str, str]  # lower-cased title -> note type
    title_max_chars: int
    body_lines: int
    signature_starts: tuple[str, ...]
    date_of_service_from: tuple[str, ...]
    months: dict[str, int]
    two_digit_year_pivot: int

    @classmethod
    def load(cls) -> EncounterRules:
        return _load()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncounterRules:
        try:
            label_kind: dict[str, str] = {}
            for group in data["date_labels"]:
                for label in group["labels"]:
                    label_kind[" ".join(label.lower().split())] = str(group["kind"])
            kinds = tuple(dict.fromkeys(label_kind.values()))
            title_type = {
                " ".join(title.lower().split()): str(group["note_type"])
                for group in data["note_titles"]
                for title in group["titles"]
            }
            rules = cls(
                date_kinds=kinds,
                label_kind=label_kind,
                may_follow={k: frozenset(v) for k, v in data["may_follow"].items()},
                title_type=title_type,
                title_max_chars=int(data["title_max_chars"]),
                body_lines=int(data["body_lines"]),
                signature_starts=tuple(s.lower() for s in data["signature_starts"]),
                date_of_service_from=tuple(data["date_of_service_from"]),
                months={k.lower(): int(v) for k, v in data["months"].items()},
                two_digit_year_pivot=int(data["two_digit_year_pivot"]),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ResourceError(f"{RESOURCE}: malformed ({exc!r})") from exc
        rules._validate()
        return rules

    def _validate(self) -> None:
        known = (*self.date_kinds, SIGNED)
        for kind, before in self.may_follow.items():
            unknown = sorted({kind, *before} - set(known))
            if unknown:
                raise ResourceError(f"{RESOURCE}: may_follow names unknown kinds {unknown}")
        unknown = sorted(set(self.date_of_service_from) - set(known))
        if unknown:
            allowed = ", ".join(known)
            raise ResourceError(
                f"{RESOURCE}: date_of_service_from names {unknown}; allowed: {allowed}"
            )
        bad = sorted(m for m, n in self.months.items() if not 1 <= n <= 12)
        if bad:
            raise ResourceError(f"{RESOURCE}: months out of 1-12: {bad}")
        if self.body_lines < 1:
            raise ResourceError(f"{RESOURCE}: body_lines must be at least 1")
        if not 0 <= self.two_digit_year_pivot <= 100:
            raise ResourceError(f"{RESOURCE}: two_digit_year_pivot must be 0-100")

    # --- compiled patterns -----------------------------------------------------------------

    @cached_property
    def date_pattern(self) -> re.Pattern[str]:
        return _date_pattern(tuple(sorted(self.months, key=len, reverse=True)))

    @cached_property
    def label_pattern(self) -> re.Pattern[str]:
        """A label, its separator, then a date (group `date`)."""
        return _label_pattern(tuple(self.label_kind), self.date_pattern.pattern)

    @cached_property
    def title_pattern(self) -> re.Pattern[str]:
        return _phrase_pattern(tuple(self.title_type))

    # --- reading ---------------------------------------------------------------------------

    def parse_date(self, text: str) -> str | None:
        """The ISO date a date string means, or None when it is not a real date."""
        match = self.date_pattern.fullmatch(text.strip())
        if match is None:
            return None
        parts = match.groupdict()
        if parts["iso_y"]:
            year, month, day = int(parts["iso_y"]), int(parts["iso_m"]), int(parts["iso_d"])
        elif parts["us_y"]:
            year, month, day = self._year(parts["us_y"]), int(parts["us_m"]), int(parts["us_d"])
        elif parts["mdy_y"]:
            year, day = int(parts["mdy_y"]), int(parts["mdy_d"])
            month = self.months[parts["mdy_m"].lower()]
        else:
            year, day = int(parts["dmy_y"]), int(parts["dmy_d"])
            month = self.months[parts["dmy_m"].lower()]
        try:
            return dt.date(year, month, day).isoformat()
        except ValueError:
            return None

    def _year(self, text: str) -> int:
        year = int(text)
        if len(text) == 2:
            return year + (2000 if year < self.two_digit_year_pivot else 1900)
        return year

    def line_dates(self, line: str) -> list[DateEvent]:
        """Labelled dates in a line, in order."""
        events = []
        for match in self.label_pattern.finditer(line):
            kind = self.label_kind[" ".join(match.group("label").lower().split())]
            date = self.parse_date(match.group("date"))
            if date is not None:
                events.append(DateEvent(kind, date))
        return events

    def first_date(self, line: str) -> str | None:
        for match in self.date_pattern.finditer(line):
            date = self.parse_date(match.group(0))
            if date is not None:
                return date
        return None

    def note_type(self, line: str) -> str | None:
        """The note type a title line opens, or None."""
        stripped = line.strip()
        match = self.title_pattern.match(stripped)
        if match is not None:
            rest = stripped[match.end() :].lstrip()
            if rest.startswith(":"):
                # "PROGRESS NOTE:" or "Office visit: 02/10/2026", not "Consultation: cardiology"
                titled = self._date_or_nothing(rest[1:].strip())
            else:
                titled = not rest or re.match(r"[\-\u2013\u2014|,(/]|\d", rest) is not None
            if titled:
                return self.title_type[" ".join(match.group(0).lower().split())]
        letters = [c for c in stripped if c.isalpha()]
        if letters and len(stripped) <= self.title_max_chars and stripped.upper() == stripped:
            match = self.title_pattern.search(stripped)
            if match is not None:
                return self.title_type[" ".join(match.group(0).lower().split())]
        return None

    def _date_or_nothing(self, text: str) -> bool:
        match = self.date_pattern.match(text)
        return not text or (match is not None and not text[match.end() :].strip())

    def is_signature(self, line: str) -> bool:
        return line.strip().lower().startswith(self.signature_starts)

    def date_of_service(self, dates: dict[str, str]) -> str | None:
        return next((dates[k] for k in self.date_of_service_from if k in dates), None)


@lru_cache(maxsize=1)
def _load() -> EncounterRules:
    return EncounterRules.from_dict(json.loads(read_text(RESOURCE)))


def _phrase(text: str) -> str:
    return r"[ \t]+".join(re.escape(word) for word in text.split())


def _date_pattern(months: tuple[str, ...]) -> re.Pattern[str]:
    month = "|".join(re.escape(m) for m in months)
    return re.compile(
        r"(?<![\w/.-])(?:"
        r"(?P<iso_y>\d{4})-(?P<iso_m>\d{1,2})-(?P<iso_d>\d{1,2})"
        r"|(?P<us_m>\d{1,2})(?P<sep>[/.-])(?P<us_d>\d{1,2})(?P=sep)(?P<us_y>\d{4}|\d{2})"
        rf"|(?P<mdy_m>{month})\.?[ \t]+(?P<mdy_d>\d{{1,2}})(?:st|nd|rd|th)?,?"
        r"[ \t]+(?P<mdy_y>\d{4})"
        rf"|(?P<dmy_d>\d{{1,2}})[ \t]+(?P<dmy_m>{month})\.?,?[ \t]+(?P<dmy_y>\d{{4}})"
        r")(?![\w/-])",
        re.IGNORECASE,
    )


def _label_pattern(labels: tuple[str, ...], date: str) -> re.Pattern[str]:
    alternatives = "|".join(_phrase(label) for label in sorted(labels, key=len, reverse=True))
    return re.compile(
        rf"(?<![\w])(?P<label>{alternatives}){_SEPARATOR}(?:on[ \t]+)?(?P<date>{date})",
        re.IGNORECASE,
    )


def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(_phrase(p) for p in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?<![\w])(?:{alternatives})(?![\w&])", re.IGNORECASE)
