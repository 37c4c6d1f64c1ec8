"""MEAT coverage on gold-coded charts: the share of gold HCC codes with at least one MEAT span.

Two readings of where a gold code is stated:
- `predicted`: gold items a predicted code hits (the code or one of its alternatives), with MEAT
  found over the predicted code's evidence spans (what `chartcoder code` + MEAT give in use);
- `gold_evidence`: every gold item located by its `evidence` text in the chart (first exact
  occurrence, else case-insensitive), MEAT found over that span for the gold code.

    python bench/meat_coverage.py PRED.jsonl [--gold us-charts/dev.jsonl]

PRED.jsonl is `chartcoder code GOLD.jsonl --output PRED.jsonl`. Prints counts, shares and MEAT
kinds as JSON (codes and counts only, no chart text).
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from pathlib import Path

from nlp.meat import CodeMentions, MeatFinder, MeatFinding
from risk.model import RiskModel, dotted


def main() -> None:
    data = Path(os.environ.get("CHARTCODER_DATA", "../shared/data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("predictions", type=Path)
    parser.add_argument("--gold", type=Path, default=data / "us-charts" / "dev.jsonl")
    args = parser.parse_args()
    gold = [json.loads(line) for line in args.gold.open(encoding="utf-8") if line.strip()]
    predicted = {
        record["chart_id"]: record
        for record in map(json.loads, args.predictions.open(encoding="utf-8"))
    }
    print(json.dumps(coverage(gold, predicted, MeatFinder(), RiskModel()), indent=2))


def coverage(
    gold: list[dict], predicted: dict[str, dict], finder: MeatFinder, model: RiskModel
) -> dict:
    tallies: dict[str, Counter[str]] = {name: Counter() for name in ("predicted", "gold_evidence")}
    kinds: dict[str, Counter[str]] = {name: Counter() for name in tallies}
    unsupported: dict[str, Counter[str]] = {name: Counter() for name in tallies}
    items = 0

    def count(finding: MeatFinding, name: str) -> None:
        tallies[name]["codes"] += 1
        tallies[name]["with_meat"] += finding.supported
        kinds[name].update({span.kind for span in finding.meat})
        if not finding.supported:
            unsupported[name][finding.code[:3]] += 1

    for chart in gold:
        text = chart["text"]
        codes = {dotted(c["code"]): c for c in predicted.get(chart["id"], {}).get("codes", [])}
        for item in chart["gold"]:
            main = dotted(item["code"])
            if not model.has_hcc(main):
                continue
            items += 1
            names = [main, *(dotted(a) for a in item.get("alt", []))]
            hit = next((codes[n] for n in names if n in codes), None)
            if hit is not None:
                spans = tuple((e["start"], e["end"]) for e in hit["evidence"])
                count(finder.find(text, [CodeMentions(hit["code"], spans)])[0], "predicted")
            start = _locate(text, item.get("evidence", ""))
            if start is not None:
                span = ((start, start + len(item["evidence"])),)
                count(finder.find(text, [CodeMentions(main, span)])[0], "gold_evidence")

    return {
        "gold_hcc_codes": items,
        **{
            name: {
                "codes": tallies[name]["codes"],
                "with_meat": tallies[name]["with_meat"],
                "share_with_meat": round(tallies[name]["with_meat"] / tallies[name]["codes"], 3)
                if tallies[name]["codes"]
                else None,
                "codes_with_kind": dict(kinds[name]),
                "unsupported_by_category": dict(unsupported[name].most_common()),
            }
            for name in tallies
        },
    }


def _locate(text: str, evidence: str) -> int | None:
    if not evidence:
        return None
    start = text.find(evidence)
    if start < 0:
        start = text.lower().find(evidence.lower())
    return start if start >= 0 else None


if __name__ == "__main__":
    main()
