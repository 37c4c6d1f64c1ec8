"""Test charts: the examples, a canary planted in one, and three unreadable ones."""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "charts"
CANARY = "ZEBRA-CANARY-7f3a9c"
SMALL_LIMIT = 20_000  # bytes: the "huge" chart of the tests is over it


def write_charts(folder: Path) -> dict[str, str]:
    """The example charts, one with the canary, and three bad ones; returns expected errors."""
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("*.md"))
    planted = folder / "outpatient" / "copd_osa_visit.txt"
    planted.write_text(
        planted.read_text(encoding="utf-8") + f"\nPatient code word {CANARY}.\n", encoding="utf-8"
    )
    bad = folder / "bad"
    bad.mkdir()
    (bad / "binary.txt").write_bytes(b"%PDF-1.4\x00\x01\x02 not text")
    (bad / "empty.txt").write_bytes(b"  \n\n")
    (bad / "huge.txt").write_bytes(b"Hypertension. " * 2000)
    return {
        "bad/binary": "binary content (NUL bytes): not a text chart",
        "bad/empty": "empty chart: no text to code",
        "bad/huge": f"too large: 28000 bytes, the limit is {SMALL_LIMIT}",
    }
