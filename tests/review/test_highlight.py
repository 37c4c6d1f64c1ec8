"""Evidence spans over the chart text: cut at every boundary, layers stacked, text escaped."""

from __future__ import annotations

from review.highlight import Span, render
from review.markup import script_json

COLOURS = {"c0": "#111111", "c1": "#222222", "m0": "#333333"}


def test_overlapping_spans_keep_both_layers_and_their_markers() -> None:
    text = "CKD due to <DM2> today"
    spans = [Span("c0", 0, 0, 16, "1"), Span("c1", 0, 11, 16, "2"), Span("m0", 0, 11, 22, "T")]
    assert render(text, spans, COLOURS) == (
        '<sup class="tag" id="ev-c0-0" data-k="c0" style="--c:#111111">1</sup>'
        '<span class="ev" data-k="c0" style="box-shadow:inset 0 -3px 0 #111111">CKD due to </span>'
        '<sup class="tag" id="ev-c1-0" data-k="c1" style="--c:#222222">2</sup>'
        '<sup class="tag" id="ev-m0-0" data-k="m0" style="--c:#333333">T</sup>'
        '<span class="ev" data-k="c0 c1 m0" style="box-shadow:inset 0 -3px 0 #111111,'
        'inset 0 -6px 0 #222222,inset 0 -9px 0 #333333">&lt;DM2&gt;</span>'
        '<span class="ev" data-k="m0" style="box-shadow:inset 0 -3px 0 #333333"> today</span>'
    )


def test_spans_outside_the_text_are_left_out() -> None:
    spans = [Span("c0", 0, 2, 99, "1"), Span("c1", 0, 3, 3, "2")]
    assert render("a<b>", spans, COLOURS) == "a&lt;b&gt;"


def test_script_json_cannot_close_its_block() -> None:
    dumped = script_json({"id": "</script><!-- & \u2028"})
    assert dumped == '{"id":"\\u003c/script\\u003e\\u003c!-- \\u0026 \\u2028"}'


def test_segments_name_their_codes_on_hover() -> None:
    spans = [Span("c0", 0, 0, 3, "1"), Span("c1", 0, 0, 3, "2")]
    html = render("CKD", spans, COLOURS, {"c0": "E11.22", "c1": "N18.31"})
    assert '<span class="ev" data-k="c0 c1" title="E11.22, N18.31" ' in html
