"""One chart's page: the text with every code's evidence highlighted, the codes with their notes
and the coder's accept/reject controls, and the HCCs with MEAT spans and claim status."""

from __future__ import annotations

from typing import Any

from review import highlight
from review.markup import attr, page, site_link, text
from review.risk import ChartRisk

# Distinct colours for codes (the Tableau 10 palette, then darker variants).
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
)  # fmt: skip
MEAT_COLOURS = {
    "monitor": "#0b7a75",
    "evaluate": "#6a3d9a",
    "assess": "#b15928",
    "treat": "#33a02c",
}
MEAT_DEFAULT = "#555555"


def chart_page(
    record: dict[str, Any],
    chart_text: str | None,
    risk: ChartRisk,
    site: dict[str, Any],
) -> str:
    codes = record.get("codes") or []
    spans, colours = _code_spans(codes)
    meat_spans = _meat_spans(risk.hccs, colours)
    spans += meat_spans
    if chart_text is None:
        body_text = '<p class="missing">The chart text is not in the results (no texts.jsonl).</p>'
        length = -1
    else:
        names = {f"c{i}": str(c.get("code")) for i, c in enumerate(codes)}
        names.update({f"m{h}": f"MEAT HCC {hcc.get('hcc')}" for h, hcc in enumerate(risk.hccs)})
        body_text = f'<pre id="text">{highlight.render(chart_text, spans, colours, names)}</pre>'
        length = len(chart_text)
    chart_id = record["chart_id"]
    data = {
        **site,
        "chart_id": chart_id,
        "model_version": record.get("model_version"),
        "codes": [
            {
                "layer": f"c{i}",
                "code": c.get("code"),
                "description": c.get("description"),
                "score": c.get("score"),
                "assertion": c.get("assertion"),
                "colour": colours[f"c{i}"],
            }
            for i, c in enumerate(codes)
        ],
    }
    body = (
        _header(record, site)
        + '<main class="chart"><section class="text-pane" id="text-pane">'
        + body_text
        + '</section><aside class="side-pane">'
        + _decision_bar()
        + _code_list(codes, colours, length)
        + _hcc_table(risk, colours, length)
        + _opportunity_table(risk)
        + _chart_notes(record)
        + "</aside></main>"
    )
    return page(f"{chart_id} · chartcoder review", body, ("review.js", "chart.js"), data)


def _code_spans(codes: list[dict[str, Any]]) -> tuple[list[highlight.Span], dict[str, str]]:
    spans, colours = [], {}
    for i, code in enumerate(codes):
        layer = f"c{i}"
        colours[layer] = PALETTE[i % len(PALETTE)]
        for k, ev in enumerate(code.get("evidence") or []):
            spans.append(_span(layer, k, ev, str(i + 1)))
    return spans, colours


def _meat_spans(hccs: list[dict[str, Any]], colours: dict[str, str]) -> list[highlight.Span]:
    spans = []
    for h, hcc in enumerate(hccs):
        layer = f"m{h}"
        meat = hcc.get("meat") or []
        colours[layer] = MEAT_COLOURS.get(str(meat[0].get("kind")) if meat else "", MEAT_DEFAULT)
        for k, item in enumerate(meat):
            spans.append(_span(layer, k, item, str(item.get("kind") or "?")[:1].upper()))
    return spans


def _span(layer: str, index: int, item: dict[str, Any], label: str) -> highlight.Span:
    start, end = item.get("start"), item.get("end")
    if not isinstance(start, int) or not isinstance(end, int):
        start, end = -1, -1
    return highlight.Span(layer, index, start, end, label)


def _header(record: dict[str, Any], site: dict[str, Any]) -> str:
    facts = [
        ("setting", record.get("setting")),
        ("convention", record.get("convention")),
        ("model", record.get("model_version")),
        ("codes", len(record.get("codes") or [])),
        ("RAF", _number(record.get("raf"))),
    ]
    shown = "".join(
        f"<span><b>{text(name)}</b> {text(value)}</span>"
        for name, value in facts
        if value is not None
    )
    error = (
        f'<p class="error" role="alert">Not coded: {text(record["error"])}</p>'
        if record.get("error")
        else ""
    )
    return (
        f'<header class="top"><a class="back" href="{site_link("index.html")}">'
        "&larr; all charts</a>"
        f'<h1>{text(record["chart_id"])}</h1><div class="facts">{shown}</div>{error}</header>'
    )


def _decision_bar() -> str:
    return (
        '<div class="decision-bar"><span id="decision-count">0 accepted, 0 rejected</span>'
        '<button type="button" id="export-chart">Export decisions (CSV)</button></div>'
    )


def _code_list(codes: list[dict[str, Any]], colours: dict[str, str], length: int) -> str:
    if not codes:
        return '<p class="empty">No codes for this chart.</p>'
    items = []
    for i, code in enumerate(codes):
        layer = f"c{i}"
        items.append(
            f'<li class="code" id="code-{layer}" data-layer="{layer}" '
            f'style="--c:{attr(colours[layer])}">'
            f'<div class="code-head"><button type="button" class="show" data-layer="{layer}" '
            f'title="Show the evidence in the text"><span class="rank">{i + 1}</span>'
            f"<b>{text(code.get('code'))}</b></button>"
            f'<span class="score" title="score">{_score(code.get("score"))}</span>'
            f'<span class="assertion a-{attr(code.get("assertion"))}">'
            f"{text(code.get('assertion'))}</span>"
            f"{_badges(code)}</div>"
            f'<div class="description">{text(code.get("description"))}</div>'
            f"{_evidence_links(layer, code.get('evidence') or [], length)}"
            f"{_notes(code.get('notes') or [])}"
            f'<div class="decide"><button type="button" class="accept" data-layer="{layer}">'
            f'Accept</button><button type="button" class="reject" data-layer="{layer}">Reject'
            f'</button><textarea class="comment" data-layer="{layer}" rows="1" '
            f'placeholder="comment" aria-label="comment on {attr(code.get("code"))}"></textarea>'
            "</div></li>"
        )
    return f'<ol class="codes">{"".join(items)}</ol>'


def _score(score: Any) -> str:
    return f"{score:.2f}" if isinstance(score, int | float) else text(score)


def _badges(code: dict[str, Any]) -> str:
    badges = []
    if code.get("billable") is False:
        badges.append('<span class="badge warn">not billable</span>')
    if code.get("hcc"):
        badges.append(f'<span class="badge hcc">HCC {text(code["hcc"])}</span>')
    return "".join(badges)


def _evidence_links(layer: str, evidence: list[dict[str, Any]], length: int) -> str:
    links = []
    for k, ev in enumerate(evidence):
        start, end = ev.get("start"), ev.get("end")
        where = f"{text(ev.get('section') or '')} {text(start)}-{text(end)}".strip()
        ok = isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= length
        if ok:
            links.append(
                f'<button type="button" class="ev-link" data-layer="{layer}" data-index="{k}" '
                f'title="{attr(where)}">{k + 1}</button>'
            )
        else:
            links.append(
                f'<span class="ev-bad" title="{attr(where)}">{k + 1}: not in the text</span>'
            )
    if not links:
        return ""
    return f'<div class="evidence">evidence {"".join(links)}</div>'


def _notes(notes: list[dict[str, Any]]) -> str:
    if not notes:
        return ""
    items = "".join(
        f'<li class="note n-{attr(n.get("kind"))}"><b>{text(n.get("kind"))}</b> '
        f"{text(n.get('text'))}</li>"
        for n in notes
    )
    return f'<ul class="notes">{items}</ul>'


def _hcc_table(risk: ChartRisk, colours: dict[str, str], length: int) -> str:
    if not risk.hccs:
        return ""
    rows = []
    for h, hcc in enumerate(risk.hccs):
        layer = f"m{h}"
        meat = []
        for k, item in enumerate(hcc.get("meat") or []):
            start, end = item.get("start"), item.get("end")
            kind = text(item.get("kind"))
            if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= length:
                meat.append(
                    f'<button type="button" class="ev-link meat" data-layer="{layer}" '
                    f'data-index="{k}" style="--c:{attr(colours[layer])}">{kind}</button>'
                )
            else:
                meat.append(f'<span class="ev-bad">{kind}: not in the text</span>')
        codes = hcc.get("codes") or []
        rows.append(
            "<tr>"
            f"<td>{text(hcc.get('hcc'))}</td><td>{text(hcc.get('label'))}</td>"
            f"<td>{text(_number(hcc.get('coefficient')))}</td>"
            f"<td>{text(', '.join(map(str, codes)))}</td>"
            f"<td>{_yes_no(hcc.get('supported'))}</td>"
            f"<td>{text(hcc.get('dropped') or '')}</td>"
            f"<td>{''.join(meat) or 'none'}</td>"
            f"<td>{text(risk.claim_status.get(str(hcc.get('hcc')), ''))}</td>"
            "</tr>"
        )
    return (
        '<section class="hccs"><h2>HCCs</h2><table><thead><tr><th>HCC</th><th>label</th>'
        "<th>coef.</th><th>codes</th><th>MEAT-supported</th><th>dropped by</th><th>MEAT</th>"
        f"<th>claims</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _opportunity_table(risk: ChartRisk) -> str:
    if not risk.opportunities:
        return ""
    rows = "".join(
        f"<tr><td>{text(o.get('hcc'))}</td><td>{text(o.get('label'))}</td>"
        f'<td class="s-{attr(o.get("status"))}">{text(o.get("status"))}</td>'
        f"<td>{text(_number(o.get('raf_effect'), signed=True))}</td></tr>"
        for o in risk.opportunities
    )
    return (
        f'<section class="opportunities"><h2>Opportunities (member {text(risk.member_id)})</h2>'
        "<table><thead><tr><th>HCC</th><th>label</th><th>status</th><th>RAF effect</th></tr>"
        f"</thead><tbody>{rows}</tbody></table></section>"
    )


def _chart_notes(record: dict[str, Any]) -> str:
    notes = record.get("notes") or []
    if not notes:
        return ""
    return (
        "<section><h2>Chart notes</h2><ul>"
        + "".join(f"<li>{text(n)}</li>" for n in notes)
        + "</ul></section>"
    )


def _number(value: Any, signed: bool = False) -> Any:
    if not isinstance(value, float):
        return value
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _yes_no(value: Any) -> str:
    return {True: "yes", False: '<span class="warn">no</span>'}.get(value, "")
