"""Members: who each chart belongs to and the demographics the risk score needs.

A members file is a CSV with a header: `member_id`, `chart_id` (the id `chartcoder run` gives a
chart: its path relative to the source without extension), `age` or `date_of_birth` (age as of
1 February 2026), `sex` (M/F), and optionally `dual_status` (default `00`, non-dual), `orec`
(default `0`) and `institutional` (default false; hccinfhir's `lti`). A member may have several
rows, one per chart, with the same demographics. Without a file each chart is its own member
(`member_id` = `chart_id`) with hccinfhir's default demographics.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from risk.errors import RiskInputError
from risk.model import AGE_AS_OF, DEFAULT_DEMOGRAPHICS, DUAL_STATUSES, ORECS, SEXES, Demographics
from risk.sources import decode_text, iso_date, read_bytes

REQUIRED_COLUMNS = ("member_id", "chart_id", "sex")
OPTIONAL_COLUMNS = ("age", "date_of_birth", "dual_status", "orec", "institutional")
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0", ""})


@dataclass(frozen=True, slots=True)
class Member:
    member_id: str
    demographics: Demographics
    chart_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Members:
    """The batch's members; `from_file` says whether a members file gave them."""

    members: dict[str, Member]
    from_file: bool
    source: str = "members"  # the file they came from, for claims_errors

    def of_chart(self, chart_id: str) -> Member | None:
        for member in self.members.values():
            if chart_id in member.chart_ids:
                return member
        return None

    def chart_members(self) -> dict[str, str]:
        """chart_id -> member_id."""
        return {cid: m.member_id for m in self.members.values() for cid in m.chart_ids}


def one_member_per_chart(chart_ids: Iterable[str]) -> Members:
    """No members file: each chart is its own member with the default demographics."""
    return Members(
        {cid: Member(cid, DEFAULT_DEMOGRAPHICS, (cid,)) for cid in chart_ids}, from_file=False
    )


def read_members(uri: str, s3_client: object = None) -> Members:
    """Read and validate a members CSV (local or s3://); any problem is a `RiskInputError`."""
    return parse_members(decode_text(uri, read_bytes(uri, s3_client)), uri)


def parse_members(text: str, source: str) -> Members:
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if "age" not in columns and "date_of_birth" not in columns:
        missing.append("age or date_of_birth")
    if missing:
        raise RiskInputError(
            f"{source}: members file lacks the column(s) {', '.join(missing)} (header: "
            f"{', '.join(columns) or 'none'}; required: {', '.join(REQUIRED_COLUMNS)} and age "
            f"or date_of_birth; optional: dual_status, orec, institutional)"
        )
    demographics: dict[str, Demographics] = {}
    charts: dict[str, list[str]] = {}
    owner: dict[str, str] = {}
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise RiskInputError(f"{source}: not a readable CSV: {exc}") from exc
    for line, raw in enumerate(rows, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        member_id, chart_id = row["member_id"], row["chart_id"]
        if not member_id:
            raise RiskInputError(f"{source}:{line}: empty member_id")
        demo = _demographics(row, f"{source}:{line}")
        if demographics.setdefault(member_id, demo) != demo:
            raise RiskInputError(
                f"{source}:{line}: member {member_id} has other demographics on an earlier row"
            )
        charts.setdefault(member_id, [])
        if chart_id:
            if owner.setdefault(chart_id, member_id) != member_id:
                raise RiskInputError(
                    f"{source}:{line}: chart {chart_id} belongs to member {owner[chart_id]} "
                    f"and to {member_id}"
                )
            if chart_id not in charts[member_id]:
                charts[member_id].append(chart_id)
    return Members(
        {mid: Member(mid, demographics[mid], tuple(charts[mid])) for mid in demographics},
        from_file=True,
        source=source,
    )


def age_on(birth: date, when: date = AGE_AS_OF) -> int:
    return when.year - birth.year - ((when.month, when.day) < (birth.month, birth.day))


def _demographics(row: dict[str, str], where: str) -> Demographics:
    sex = row["sex"].upper()
    if sex not in SEXES:
        raise RiskInputError(f"{where}: sex {row['sex']!r} is not one of {', '.join(SEXES)}")
    age = _age(row, where)
    dual = row.get("dual_status") or "00"
    if dual not in DUAL_STATUSES:
        raise RiskInputError(
            f"{where}: dual_status {dual!r} is not one of {', '.join(DUAL_STATUSES)}"
        )
    orec = row.get("orec") or "0"
    if orec not in ORECS:
        raise RiskInputError(f"{where}: orec {orec!r} is not one of {', '.join(ORECS)}")
    flag = (row.get("institutional") or "").lower()
    if flag not in _TRUE | _FALSE:
        raise RiskInputError(f"{where}: institutional {row['institutional']!r} is not true/false")
    return Demographics(age, sex, dual, orec, flag in _TRUE)


def _age(row: dict[str, str], where: str) -> int:
    if row.get("age"):
        try:
            age = int(row["age"])
        except ValueError:
            raise RiskInputError(f"{where}: age {row['age']!r} is not a whole number") from None
        if not 0 <= age <= 130:
            raise RiskInputError(f"{where}: age {age} is out of range (0-130)")
        return age
    if row.get("date_of_birth"):
        birth = iso_date(row["date_of_birth"])
        if birth is None:
            raise RiskInputError(
                f"{where}: date_of_birth {row['date_of_birth']!r} is not a YYYY-MM-DD date"
            )
        if birth > AGE_AS_OF:
            raise RiskInputError(f"{where}: date_of_birth {birth} is after {AGE_AS_OF}")
        return age_on(birth)
    raise RiskInputError(f"{where}: neither age nor date_of_birth is given")
