"""CodiEsp (English) coded charts from the data folder: `codiesp/<split>/<split>_en.jsonl`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "dev")


@dataclass(frozen=True, slots=True)
class CodedChart:
    chart_id: str
    text: str
    gold: tuple[str, ...]


def codiesp_path(data_dir: Path, split: str) -> Path:
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    return data_dir / "codiesp" / split / f"{split}_en.jsonl"


def read_codiesp(data_dir: Path, split: str) -> list[CodedChart]:
    charts = []
    with codiesp_path(data_dir, split).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                gold = tuple(dict.fromkeys(c.strip().upper() for c in record["icd10cm"]))
                charts.append(CodedChart(record["id"], record["text"], gold))
    return charts


def has_codiesp(data_dir: Path | None) -> bool:
    return data_dir is not None and codiesp_path(data_dir, "train").is_file()
