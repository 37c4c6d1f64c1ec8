"""The whole site as files: `index.html`, one page per chart, and the shared CSS and JS.

The site is flat (every file in one folder) so that every link is a bare relative file name,
and it is built in memory (`name -> bytes`) so that the same pages can be written to a local
folder (`chartcoder review`) or under a run's destination (the flow's `review_site`).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from importlib import resources
from pathlib import Path

from review.chart_page import chart_page
from review.index_page import index_page
from review.results import Results
from review.risk import RiskIndex

ASSETS = ("review.css", "review.js", "chart.js", "index.js")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def page_name(chart_id: str) -> str:
    """A chart page's file name: readable, safe on any file system, unique per chart id."""
    readable = _UNSAFE_NAME.sub("_", chart_id).strip("._")[:60] or "chart"
    digest = hashlib.sha256(chart_id.encode("utf-8")).hexdigest()[:10]
    return f"chart-{readable}-{digest}.html"


def build(results: Results) -> dict[str, bytes]:
    manifest = results.manifest
    site = {
        # decisions are kept per results location, so a rebuilt site finds them again
        "site_key": str(manifest.get("destination") or results.where),
        "where": results.where,
        "run_id": manifest.get("run_id"),
    }
    risk = RiskIndex(results.hcc_rows, results.opportunity_rows)
    files: dict[str, bytes] = {}
    rows = []
    for number, record in enumerate(results.records):
        name = page_name(record["chart_id"])
        if name in files:  # a second record of one id (a duplicate's error record)
            name = page_name(f"{record['chart_id']}#{number}")
        chart_risk = risk.for_chart(record)
        text = results.texts.get(record["chart_id"])
        files[name] = chart_page(record, text, chart_risk, site).encode("utf-8")
        rows.append((record, name, chart_risk))
    files["index.html"] = index_page(rows, manifest, site).encode("utf-8")
    assets = resources.files("review") / "assets"
    for asset in ASSETS:
        files[asset] = (assets / asset).read_bytes()
    return files


def write_folder(files: dict[str, bytes], folder: Path) -> Path:
    """Write the site into `folder` (each file replaced whole); returns its index.html."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, folder / name)
        except BaseException:
            os.unlink(temp)
            raise
    return folder / "index.html"
