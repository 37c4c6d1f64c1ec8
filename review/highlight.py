"""The chart text as HTML with its evidence spans marked, several layers per character allowed.

A layer is one code (`c3`: the fourth code) or one HCC's MEAT evidence (`m1`). The text is cut at
every span boundary into segments; each segment names the layers covering it (`data-k`) and
draws one underline per layer, stacked, in the layer's colour, so codes sharing words stay
distinguishable. Each span also opens with a small numbered marker (`id="ev-c3-0"`), the anchor
a click scrolls to. Offsets are character offsets into the text as read (Python code points),
which is why the cutting happens here and not in the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from review.markup import attr, text

MAX_UNDERLINES = 4  # more layers on one segment are listed in its title, not drawn
UNDERLINE_PX = 3


@dataclass(frozen=True, slots=True)
class Span:
    layer: str
    index: int  # which span of its layer (its marker's id: ev-<layer>-<index>)
    start: int
    end: int
    label: str  # the marker's text: the code's rank, or the MEAT kind's letter


def valid(span: Span, length: int) -> bool:
    return 0 <= span.start < span.end <= length


def render(
    chart_text: str,
    spans: list[Span],
    colours: dict[str, str],
    names: dict[str, str] | None = None,
) -> str:
    """The text's HTML: escaped, with the valid spans marked (the others are left out; the
    caller lists them); `names` (layer -> code) become each segment's hover title."""
    kept = [s for s in spans if valid(s, len(chart_text))]
    cuts = sorted({0, len(chart_text), *(s.start for s in kept), *(s.end for s in kept)})
    opening: dict[int, list[Span]] = {}
    for span in kept:
        opening.setdefault(span.start, []).append(span)
    starts = sorted(kept, key=lambda s: s.start)
    active: list[Span] = []
    parts: list[str] = []
    next_start = 0
    for left, right in pairwise(cuts):
        active = [s for s in active if s.end > left]
        while next_start < len(starts) and starts[next_start].start == left:
            active.append(starts[next_start])
            next_start += 1
        for span in sorted(opening.get(left, []), key=lambda s: _order(s.layer)):
            parts.append(_marker(span, colours))
        piece = text(chart_text[left:right])
        if not active:
            parts.append(piece)
            continue
        layers = sorted({s.layer for s in active}, key=_order)
        title = f' title="{attr(", ".join(names[k] for k in layers))}"' if names else ""
        parts.append(
            f'<span class="ev" data-k="{attr(" ".join(layers))}"{title} '
            f'style="{attr(_underlines(layers, colours))}">{piece}</span>'
        )
    return "".join(parts)


def _order(layer: str) -> tuple[str, int]:
    return layer[0], int(layer[1:])


def _marker(span: Span, colours: dict[str, str]) -> str:
    return (
        f'<sup class="tag" id="ev-{attr(span.layer)}-{span.index}" data-k="{attr(span.layer)}" '
        f'style="--c:{attr(colours[span.layer])}">{text(span.label)}</sup>'
    )


def _underlines(layers: list[str], colours: dict[str, str]) -> str:
    shadows = [
        f"inset 0 -{UNDERLINE_PX * (depth + 1)}px 0 {colours[layer]}"
        for depth, layer in enumerate(layers[:MAX_UNDERLINES])
    ]
    return "box-shadow:" + ",".join(shadows)
