"""Records that cross a boundary: plain, frozen and picklable (no spaCy objects)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from nlp.encounters import Encounter
from records.pages import PageRecord

Assertion = Literal["present", "historical", "uncertain", "family"]


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart to code. `error` is set when the chart could not be read; it is then not coded.
    `setting` (`outpatient` | `inpatient`), when the source gives one, overrides the coder's.
    `pages`: how each page of a PDF chart was read (empty for a text chart)."""

    chart_id: str
    text: str
    error: str | None = None
    notes: tuple[str, ...] = ()
    setting: str | None = None
    pages: tuple[PageRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a code is supported: character offsets into the text as read, the 1-based page
    they are on (form feeds separate pages) and the date of service of their encounter."""

    start: int
    end: int
    section: str
    sentence: int
    page: int = 1
    date_of_service: str | None = None


@dataclass(frozen=True, slots=True)
class Note:
    """Coder guidance attached to a code: companion codes, conflicts, specificity hints."""

    kind: str
    text: str
    codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CodedFinding:
    code: str
    description: str
    score: float
    billable: bool
    hcc: str | None
    assertion: Assertion
    evidence: tuple[Evidence, ...]
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True, slots=True)
class ChartResult:
    chart_id: str
    model_version: str
    codes: tuple[CodedFinding, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = field(default=())
    pages: tuple[PageRecord, ...] = ()
    encounters: tuple[Encounter, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON record `chartcoder code` writes (one line per chart)."""
        return {
            "chart_id": self.chart_id,
            "model_version": self.model_version,
            "codes": [_finding_dict(finding) for finding in self.codes],
            "error": self.error,
            "notes": list(self.notes),
            "pages": [page.to_dict() for page in self.pages],
            "encounters": [encounter.to_dict() for encounter in self.encounters],
        }


def _finding_dict(finding: CodedFinding) -> dict[str, Any]:
    return {
        "code": finding.code,
        "description": finding.description,
        "score": round(finding.score, 4),
        "billable": finding.billable,
        "hcc": finding.hcc,
        "assertion": finding.assertion,
        "evidence": [asdict(ev) for ev in finding.evidence],
        "notes": [
            {"kind": note.kind, "text": note.text, "codes": list(note.codes)}
            for note in finding.notes
        ],
    }
