"""What bad risk-adjustment input raises or reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class RiskInputError(ValueError):
    """A members or claims file that cannot be used at all (unreadable, a required column
    missing, an invalid member row): a usage error, raised before anything runs."""


# reasons a claims error carries (the manifest's `claims_errors[].reason`)
CODE_NOT_IN_FY2026 = "code not in FY2026 ICD-10-CM"
CODE_NOT_BILLABLE = "FY2026 ICD-10-CM category, not a billable code"
MEMBER_WITHOUT_CHARTS = "claims for a member without charts in this batch"
CHART_WITHOUT_MEMBER = "chart without a member in the members file"
MEMBER_CHART_MISSING = "members file names a chart that is not in this batch"
CLAIM_WITHOUT_PATIENT = "837 claim without a patient id"
FILE_REJECTED = "claims file rejected by hccinfhir"
ROW_INCOMPLETE = "claims row without member_id or dx"
BAD_SERVICE_DATE = "service_date is not YYYY-MM-DD (kept, without a date)"


@dataclass(frozen=True, slots=True)
class ClaimsError:
    """One reported problem: its reason and where it is (ids, codes and positions only)."""

    reason: str
    source: str
    member_id: str | None = None
    chart_id: str | None = None
    dx: str | None = None
    line: int | None = None
    claim_id: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"reason": self.reason, "source": self.source}
        for name in ("member_id", "chart_id", "dx", "line", "claim_id", "message"):
            value = getattr(self, name)
            if value is not None:
                record[name] = value
        return record
