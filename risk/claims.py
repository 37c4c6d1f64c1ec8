"""Claims: the diagnoses already billed for each member.

A claims file is either a CSV with a header, one diagnosis per row (`member_id`, `dx`, optional
`service_date` as `YYYY-MM-DD`), or an X12 837 professional or institutional file, read with
hccinfhir's 837 extractor (every diagnosis of a claim counts; the claim's patient id is the
member id). Without a service year every claim counts; with one (`Claims.in_year`), a diagnosis
whose `service_date` falls in another year does not (an undated one counts). Rows that cannot
count are reported as `ClaimsError`s, never dropped
silently; a file that cannot be read, or a CSV without its required columns, raises
`RiskInputError`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from risk import errors
from risk.errors import ClaimsError, RiskInputError
from risk.model import dotted, undot
from risk.sources import decode_text, iso_date, read_bytes

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("member_id", "dx")
X12_SUFFIXES = (".837", ".x12", ".edi")


@dataclass(frozen=True, slots=True)
class ClaimDx:
    """One billed diagnosis (dotted, upper case) of a member."""

    member_id: str
    dx: str
    source: str
    service_date: str | None = None
    line: int | None = None
    claim_id: str | None = None


@dataclass(frozen=True, slots=True)
class Claims:
    rows: tuple[ClaimDx, ...] = ()
    errors: tuple[ClaimsError, ...] = ()

    def codes_by_member(self) -> dict[str, frozenset[str]]:
        codes: dict[str, set[str]] = {}
        for row in self.rows:
            codes.setdefault(row.member_id, set()).add(row.dx)
        return {member: frozenset(dxs) for member, dxs in codes.items()}

    def in_year(self, year: int | None) -> Claims:
        """The diagnoses that count for `year`'s dates of service (all without a year)."""
        if year is None:
            return self
        rows = tuple(r for r in self.rows if _year(r.service_date) in (None, year))
        return Claims(rows, self.errors)

    def __add__(self, other: Claims) -> Claims:
        return Claims(self.rows + other.rows, self.errors + other.errors)


class Fy2026Codes:
    """Whether a diagnosis is a billable FY2026 ICD-10-CM code (`simple-icd-10-cm`, FY2026)."""

    def __init__(self) -> None:
        import simple_icd_10_cm as cm

        self._cm = cm
        self._seen: dict[str, str | None] = {}

    def problem(self, dx: str) -> str | None:
        """None for a billable code, else the reason it cannot count."""
        if dx not in self._seen:
            if not self._cm.is_valid_item(dx):
                self._seen[dx] = errors.CODE_NOT_IN_FY2026
            elif not self._cm.is_leaf(dx):
                self._seen[dx] = errors.CODE_NOT_BILLABLE
            else:
                self._seen[dx] = None
        return self._seen[dx]


def read_claims(
    uris: Sequence[str], s3_client: object = None, codes: Fy2026Codes | None = None
) -> Claims:
    """Read every claims file (local or s3://). Unreadable files raise `RiskInputError`."""
    codes = codes or Fy2026Codes()
    claims = Claims()
    for uri in uris:
        claims += parse_claims(decode_text(uri, read_bytes(uri, s3_client)), uri, codes)
    return claims


def parse_claims(text: str, source: str, codes: Fy2026Codes) -> Claims:
    """An X12 837 file (it starts with an ISA segment, or is named .837/.x12/.edi) or a CSV."""
    if text.lstrip().startswith("ISA") or PurePosixPath(source).suffix.lower() in X12_SUFFIXES:
        return _parse_837(text, source, codes)
    return _parse_csv(text, source, codes)


def _parse_csv(text: str, source: str, codes: Fy2026Codes) -> Claims:
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise RiskInputError(
            f"{source}: claims file lacks the column(s) {', '.join(missing)} (header: "
            f"{', '.join(columns) or 'none'}; required: member_id, dx; optional: service_date)"
        )
    try:
        raw_rows = list(reader)
    except csv.Error as exc:
        raise RiskInputError(f"{source}: not a readable CSV: {exc}") from exc
    rows: list[ClaimDx] = []
    problems: list[ClaimsError] = []
    for line, raw in enumerate(raw_rows, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        member_id, dx = row["member_id"], undot(row["dx"])
        if not member_id or not dx:
            problems.append(
                ClaimsError(errors.ROW_INCOMPLETE, source, member_id or None, line=line)
            )
            continue
        service_date = row.get("service_date") or None
        if service_date is not None and iso_date(service_date) is None:
            problems.append(
                ClaimsError(errors.BAD_SERVICE_DATE, source, member_id, dx=dotted(dx), line=line)
            )
            service_date = None
        reason = codes.problem(dx)
        if reason is not None:
            problems.append(ClaimsError(reason, source, member_id, dx=dotted(dx), line=line))
            continue
        rows.append(ClaimDx(member_id, dotted(dx), source, service_date, line))
    return Claims(tuple(rows), tuple(problems))


def _parse_837(text: str, source: str, codes: Fy2026Codes) -> Claims:
    from hccinfhir import extract_sld

    printed = io.StringIO()  # hccinfhir prints its warnings (unmatched ST/SE control numbers)
    try:
        with contextlib.redirect_stdout(printed):
            service_lines = extract_sld(text, format="837")
    except (ValueError, TypeError) as exc:
        return Claims(errors=(ClaimsError(errors.FILE_REJECTED, source, message=str(exc)),))
    for warning in printed.getvalue().splitlines():
        log.warning("%s: hccinfhir: %s", source, warning)
    rows: dict[tuple[str, str | None, str], ClaimDx] = {}
    problems: dict[tuple[str, str | None, str | None], ClaimsError] = {}
    for service in service_lines:
        if not service.patient_id:
            key = (errors.CLAIM_WITHOUT_PATIENT, service.claim_id, None)
            problems[key] = ClaimsError(key[0], source, claim_id=service.claim_id)
            continue
        for dx in _codes(service.claim_diagnosis_codes):
            reason = codes.problem(dx)
            if reason is not None:
                problems[(reason, service.claim_id, dx)] = ClaimsError(
                    reason, source, service.patient_id, dx=dotted(dx), claim_id=service.claim_id
                )
                continue
            rows.setdefault(
                (service.patient_id, service.claim_id, dx),
                ClaimDx(
                    service.patient_id,
                    dotted(dx),
                    source,
                    service.service_date,
                    claim_id=service.claim_id,
                ),
            )
    return Claims(tuple(rows.values()), tuple(problems.values()))


def _year(service_date: str | None) -> int | None:
    day = iso_date(service_date) if service_date else None
    return day.year if day is not None else None


def _codes(values: Iterable[str]) -> list[str]:
    return [undot(value) for value in dict.fromkeys(values) if value and value.strip()]
