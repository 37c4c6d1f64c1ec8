"""The site's front page: every chart of the run in a sortable, filterable table."""

from __future__ import annotations

from typing import Any

from review.markup import attr, page, site_link, text
from review.risk import ChartRisk, opportunity_counts

COLUMNS = (  # (label, sort kind)
    ("chart", "text"),
    ("setting", "text"),
    ("codes", "number"),
    ("HCCs", "text"),
    ("RAF", "number"),
    ("opportunities", "text"),
    ("reviewed", "number"),
    ("status", "text"),
)


def index_page(
    rows: list[tuple[dict[str, Any], str, ChartRisk]],
    manifest: dict[str, Any],
    site: dict[str, Any],
) -> str:
    """`rows`: each chart's record, its page's file name and its risk adjustment."""
    errors = sum(1 for record, _, _ in rows if record.get("error"))
    head = "".join(
        f'<th data-sort="{kind}"><button type="button">{text(label)}</button></th>'
        for label, kind in COLUMNS
    )
    body = "".join(_row(record, link, risk) for record, link, risk in rows)
    facts = [
        ("results", site.get("where")),
        ("run", manifest.get("run_id")),
        ("model", manifest.get("model_version")),
        ("charts", len(rows)),
        ("in error", errors),
    ]
    shown = "".join(
        f"<span><b>{text(name)}</b> {text(value)}</span>"
        for name, value in facts
        if value is not None
    )
    content = (
        f'<header class="top"><h1>chartcoder review</h1><div class="facts">{shown}</div></header>'
        '<main class="index"><div class="controls">'
        '<input type="search" id="filter" placeholder="filter: chart id, code, HCC, error..." '
        'aria-label="filter charts">'
        '<label><input type="checkbox" id="errors-only"> errors only</label>'
        '<span id="shown-count"></span>'
        '<button type="button" id="export-all">Export all decisions (CSV)</button></div>'
        f'<table id="charts"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></main>'
    )
    return page("chartcoder review", content, ("review.js", "index.js"), site)


def _row(record: dict[str, Any], link: str, risk: ChartRisk) -> str:
    chart_id = record["chart_id"]
    codes = record.get("codes") or []
    hccs = [str(h["hcc"]) for h in risk.hccs if h.get("hcc") and not h.get("dropped")]
    if not hccs and not risk.hccs:  # no risk adjustment: the codes' own V28 HCCs
        hccs = sorted({str(c["hcc"]) for c in codes if c.get("hcc")}, key=_hcc_key)
    raf = record.get("raf")
    counts = opportunity_counts(risk)
    opportunities = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    error = record.get("error")
    status = f"error: {error}" if error else "coded"
    search = " ".join([chart_id, *(str(c.get("code")) for c in codes), *hccs, status])
    cells = [
        (chart_id, f'<a href="{site_link(link)}">{text(chart_id)}</a>'),
        (record.get("setting") or "", text(record.get("setting") or "")),
        (len(codes), text(len(codes))),
        (" ".join(hccs), text(" ".join(hccs))),
        ("" if raf is None else raf, text(_raf(raf))),
        (opportunities, text(opportunities)),
        (0, f'<span class="reviewed" data-total="{len(codes)}">0/{len(codes)}</span>'),
        (status, f'<span class="{"error" if error else "ok"}">{text(status)}</span>'),
    ]
    tds = "".join(f'<td data-value="{attr(value)}">{html}</td>' for value, html in cells)
    return (
        f'<tr data-chart="{attr(chart_id)}" data-error="{"1" if error else "0"}" '
        f'data-search="{attr(search.lower())}">{tds}</tr>'
    )


def _raf(raf: Any) -> str:
    if isinstance(raf, int | float) and not isinstance(raf, bool):
        return f"{raf:.3f}"
    return "" if raf is None else str(raf)


def _hcc_key(hcc: str) -> tuple[int, str]:
    return (int(hcc), hcc) if hcc.isdigit() else (10**6, hcc)
