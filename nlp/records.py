"""Records that cross a boundary: plain, frozen and picklable (no spaCy objects)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Assertion = Literal["present", "historical", "uncertain", "family"]


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart to code. `error` is set when the chart could not be read; it is then not coded.
    `setting` (`outpatient` | `inpatient`), when the source gives one, overrides the coder's."""

    chart_id: str
    text: str
    error: str | None = None
    notes: tuple[str, ...] = ()
    setting: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a code is supported: character offsets into the text as read."""

    start: int
    end: int
    section: str
    sentence: int


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

    def to_dict(self) -> dict[str, Any]:
        """The JSON record `chartcoder code` writes (one line per chart)."""
        record = asdict(self)
        record["codes"] = [_finding_dict(finding) for finding in self.codes]
        record["notes"] = list(self.notes)
        return {
            "chart_id": record["chart_id"],
            "model_version": record["model_version"],
            "codes": record["codes"],
            "error": record["error"],
            "notes": record["notes"],
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
