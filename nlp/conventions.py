"""The coder's two choices, named once: the care setting of a chart and the coding convention.

- setting: `outpatient` (uncertain diagnoses are not coded, their symptoms are) or `inpatient`
  (uncertain diagnoses at discharge are coded as established, Section II.H);
- convention: `us` (the ICD-10-CM Official Guidelines, the default) or `codiesp` (the CodiEsp
  benchmark's own habits).

No imports beyond typing, so the flow and the command line can show and check them without
loading the engine.
"""

from __future__ import annotations

from typing import Literal, get_args

Setting = Literal["outpatient", "inpatient"]
Convention = Literal["us", "codiesp"]
SETTINGS: tuple[str, ...] = get_args(Setting)
CONVENTIONS: tuple[str, ...] = get_args(Convention)
