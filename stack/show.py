"""A one-screen view of `chartcoder code` results: each chart's codes with their evidence, its
HCCs and RAF, and for a PDF chart how each page was read and its encounters' dates of service;
and of a run's opportunities (`opportunities.parquet`).

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
        lines += [f"  {line}" for line in page_lines(record)]
        for code in record["codes"][:MAX_CODES]:
            hcc = f" HCC {code['hcc']}" if code["hcc"] else ""
            notes = ", ".join(sorted({n["kind"] for n in code["notes"]}))
            lines.append(
                f"  {code['code']:<9} {code['score']:.2f} {code['assertion']:<10}"
                f" {code['description'][:58]:<58}{hcc}" + (f"  [{notes}]" if notes else "")
            )
        if len(record["codes"]) > MAX_CODES:
            lines.append(f"  ... {len(record['codes']) - MAX_CODES} more")
        if "hccs" in record:
            lines.append("  " + hcc_line(record))
    return "\n".join(lines)


def page_lines(record: dict) -> list[str]:
    """A PDF chart's pages (number, text layer or OCR, OCR confidence, a page's error) and its
    encounters (date of service, pages, note type); nothing for a text chart (no `pages`)."""
    pages = record.get("pages") or []
    if not pages:
        return []
    lines = []
    for page in pages:
        confidence = page.get("ocr_confidence")
        shown = f"page {page['page']}: {page['source']}"
        if confidence is not None:
            shown += f", ocr_confidence {confidence:.2f}"
        if page.get("error"):
            shown += f", not read ({page['error']})"
        lines.append(shown)
    for encounter in record.get("encounters") or []:
        first, last = encounter["first_page"], encounter["last_page"]
        where = f"page {first}" if first == last else f"pages {first}-{last}"
        note = f", {encounter['note_type']}" if encounter.get("note_type") else ""
        lines.append(
            f"encounter: date of service {encounter['date_of_service'] or 'unknown'}, {where}{note}"
        )
    return lines


def hcc_line(record: dict) -> str:
    """The chart's HCCs (those without MEAT marked "listed only", dropped ones "dropped by")
    and its RAF."""
    shown = []
    for hcc in record["hccs"]:
        marks = [] if hcc["supported"] else ["listed only"]
        marks += [f"dropped by {h}" for h in hcc["dropped_by"]]
        shown.append(f"{hcc['hcc']}" + (f" ({', '.join(marks)})" if marks else ""))
    member = f"member {record['member_id']}, " if record.get("member_id") else ""
    return f"{member}HCCs: {', '.join(shown) or 'none'}; RAF {record['raf']:.3f}"


def render_opportunities(rows: list[dict], risk: dict | None) -> str:
    """A short table of the opportunities (member, HCC, status, RAF effect) and the totals."""
    lines = [f"{'member':<12} {'hcc':>4}  {'status':<9} {'raf_effect':>10}  label"]
    for row in rows:
        lines.append(
            f"{row['member_id']:<12} {row['hcc']:>4}  {row['status']:<9} "
            f"{row['raf_effect']:>+10.3f}  {(row['label'] or '')[:50]}"
        )
    if not rows:
        lines.append("(none: no claims to compare with)")
    if risk:
        lines.append(
            f"RAF from charts {risk['raf_from_charts']:.3f}"
            + (f", from claims {risk['raf_from_claims']:.3f}" if risk["claims"] else "")
            + f"; {risk['adds']} adds ({risk['add_raf']:+.3f}), {risk['deletes']} deletes "
            f"({risk['delete_raf']:+.3f}), net RAF delta {risk['net_raf_delta']:+.3f}; "
            f"{risk['claims_errors']} claims errors in the manifest"
        )
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
