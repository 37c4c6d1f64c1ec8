"""Escaping for every place chart-derived text lands in a page, and the page skeleton.

Everything that is not literal markup of ours goes through `text()` (element content, including
`<textarea>`) or `attr()` (attribute values); data for scripts goes through `script_json()`,
which also escapes `<`, `>` and `&` so that no `</script>` or `<!--` can end the block.
Pages link only to files of the site, by relative path: no absolute or protocol-relative URL.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

_SCRIPT_UNSAFE = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_SCRIPT_UNSAFE_RE = re.compile("[<>&\u2028\u2029]")
# Defence in depth: only the site's own scripts and styles run, nothing is fetched, no form posts.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'"
)
_SITE_LINK_RE = re.compile(r"^[A-Za-z0-9._-]+(#[A-Za-z0-9._-]*)?$")


def text(value: object) -> str:
    """Element content: `<`, `>` and `&` escaped (safe in `<textarea>` too; quotes need no
    escaping outside attributes, so a chart id with an apostrophe reads as written)."""
    return html.escape("" if value is None else str(value), quote=False)


def attr(value: object) -> str:
    """A double-quoted attribute value."""
    return html.escape("" if value is None else str(value), quote=True)


def script_json(data: Any) -> str:
    """JSON for a `<script type="application/json">` block."""
    dumped = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return _SCRIPT_UNSAFE_RE.sub(lambda m: _SCRIPT_UNSAFE[m.group()], dumped)


def site_link(name: str) -> str:
    """A link to a file of the site: a bare file name (relative), never a URL."""
    if not _SITE_LINK_RE.match(name):
        raise ValueError(f"{name!r}: a site link must be a bare file name")
    return attr(name)


def page(title: str, body: str, scripts: tuple[str, ...], data: Any) -> str:
    """A whole page: the stylesheet, the page's data as JSON, then its scripts (all local)."""
    script_tags = "".join(f'<script src="{site_link(s)}"></script>' for s in scripts)
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f'<meta http-equiv="Content-Security-Policy" content="{attr(POLICY)}">'
        f"<title>{text(title)}</title>"
        f'<link rel="stylesheet" href="{site_link("review.css")}">'
        "</head><body>\n"
        f"{body}\n"
        f'<script type="application/json" id="page-data">{script_json(data)}</script>'
        f"{script_tags}</body></html>\n"
    )
