"""A one-screen view of `chartcoder code` results: each chart's codes with their evidence.

python -m stack.show out/examples.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MAX_CODES = 12


def render(records: list[dict]) -> str:
    lines = []
    for record in records:
        header = f"{record['chart_id']}"
        if record.get("error"):
            lines.append(f"{header}: not coded ({record['error']})")
            continue
        lines.append(f"{header}: {len(record['codes'])} codes")
        for code in record["codes"][:MAX_CODES]:
            hcc = f" HCC {code['hcc']}" if code["hcc"] else ""
            notes = ", ".join(sorted({n["kind"] for n in code["notes"]}))
            lines.append(
                f"  {code['code']:<9} {code['score']:.2f} {code['assertion']:<10}"
                f" {code['description'][:58]:<58}{hcc}" + (f"  [{notes}]" if notes else "")
            )
        if len(record["codes"]) > MAX_CODES:
            lines.append(f"  ... {len(record['codes']) - MAX_CODES} more")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m stack.show RESULTS.jsonl", file=sys.stderr)
        return 2
    path = Path(args[0])
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    print(render(records))
    print(f"\n{len(records)} charts; full records with evidence offsets and notes in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
