"""Set-up shared by the `nlp` tests: the FY2026 code set, read once per session."""

from __future__ import annotations

import pytest

from nlp.codeset import CodeSet


@pytest.fixture(scope="session")
def codeset() -> CodeSet:
    """The real tabular list (a few seconds to read)."""
    return CodeSet.build()
