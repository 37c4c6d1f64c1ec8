"""chartcoder's NLP engine: chart text in, ICD-10-CM codes with evidence out.

Knows nothing of Prefect or Ray. The entry point is :class:`nlp.coder.ChartCoder`.
"""

from nlp.records import Chart, ChartResult, CodedFinding, Evidence, Note

__all__ = ["Chart", "ChartResult", "CodedFinding", "Evidence", "Note"]
