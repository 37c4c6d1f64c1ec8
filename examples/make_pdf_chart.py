"""Writes examples/pdf/two_visits_scan.pdf: a fictional two-visit chart as a
provider's office sends it, page 1 with a text layer, page 2 a scan (an image, no text layer).

    .venv/bin/python examples/make_pdf_chart.py

Uses the test PDF builders (fpdf2 and Pillow, installed with the dev dependencies).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.records.pdf_builders import mixed_pdf  # noqa: E402

TARGET = ROOT / "examples" / "pdf" / "two_visits_scan.pdf"

OFFICE_VISIT = """OFFICE VISIT - FAMILY MEDICINE
Date of Service: 01/12/2026

CHIEF COMPLAINT:
Follow-up of COPD and blood pressure.

HISTORY OF PRESENT ILLNESS:
Ms. B. is a 68-year-old woman with COPD and hypertension. Breathing is at baseline on
tiotropium; no exacerbation this winter. She denies chest pain.

ASSESSMENT AND PLAN:
1. Chronic obstructive pulmonary disease, stable. Continue tiotropium.
2. Essential hypertension, controlled. Continue amlodipine 5 mg daily.

Electronically signed by C. Rivera, MD on 01/12/2026"""

PROGRESS_NOTE = """PROGRESS NOTE
Date of Service: 03/09/2026

CHIEF COMPLAINT:
Diabetes follow-up.

HISTORY OF PRESENT ILLNESS:
Home glucose readings 120-150. eGFR 51, stable. Mood improved on sertraline.

ASSESSMENT AND PLAN:
1. Type 2 diabetes mellitus with diabetic chronic kidney disease,
   stage 3a. Continue metformin.
2. Major depressive disorder, single episode, moderate.
   Continue sertraline 50 mg daily.

Electronically signed by C. Rivera, MD on 03/10/2026"""


def main() -> None:
    TARGET.write_bytes(mixed_pdf([("text", OFFICE_VISIT), ("scan", PROGRESS_NOTE)]))
    print(f"wrote {TARGET.relative_to(ROOT)} ({TARGET.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
