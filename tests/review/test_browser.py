"""The site in a real browser: Debian's Chromium, headless, driven by Playwright.

`make setup` installs Chromium when it is missing (never `playwright install`: the browser is
the system's). Each page must load without a console error; a click on a code scrolls its
evidence into view and lights it; chart markup stays text (no dialog fires); decisions survive a
reload and export as CSV.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from review.site import page_name
from tests.review.conftest import BIG_ID, MARKUP

CHROMIUM = Path(os.environ.get("CHARTCODER_CHROMIUM", "/usr/bin/chromium"))
LOAD_BUDGET_SECONDS = 3.0  # the 200-page chart, load event included


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM}: no Chromium (`make setup` installs Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield launched
        launched.close()


class Watched:
    """A page with every console error, page error and dialog it produced."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 800}, accept_downloads=True
        )
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(m.text))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("dialog", self._dialog)
        self.requests: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))

    def _dialog(self, dialog: Any) -> None:
        self.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def open(self, path: Path) -> Any:
        self.page.goto(path.as_uri())
        return self.page


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    found = Watched(browser)
    yield found
    found.context.close()


def test_every_page_loads_without_errors_or_requests_outside(site: Path, watched: Watched) -> None:
    for path in sorted(site.glob("*.html")):
        watched.open(path)
        assert watched.page.locator("h1").count() == 1
    assert watched.problems == []
    assert all(url.startswith("file://") for url in watched.requests), watched.requests


def in_view(page: Any, selector: str) -> bool:
    """Whether the element is inside the text pane's visible area."""
    return page.evaluate(
        """(selector) => {
            const el = document.querySelector(selector);
            const pane = document.getElementById('text-pane').getBoundingClientRect();
            const box = el.getBoundingClientRect();
            return box.top >= pane.top && box.bottom <= pane.bottom && box.height > 0;
        }""",
        selector,
    )


def test_clicking_a_code_scrolls_to_its_evidence_and_lights_it(
    site: Path, results, watched: Watched
) -> None:
    _, records = results
    codes = records[BIG_ID]["codes"]
    furthest = max(range(len(codes)), key=lambda i: codes[i]["evidence"][0]["start"])
    assert codes[furthest]["evidence"][0]["start"] > 400_000  # on the last pages
    page = watched.open(site / page_name(BIG_ID))
    anchor = f"#ev-c{furthest}-0"
    assert not in_view(page, anchor)
    page.click(f"#code-c{furthest} button.show")
    assert in_view(page, anchor)
    lit = page.locator(f'.ev.on[data-k~="c{furthest}"]')
    assert lit.count() >= 1
    assert page.locator(".ev.on").count() == page.locator(f'.ev[data-k~="c{furthest}"]').count()
    assert "selected" in (page.get_attribute(f"#code-c{furthest}", "class") or "")
    assert page.evaluate("document.getElementById('text-pane').scrollTop") > 100_000
    # another code's later evidence span, by its link: back up the text
    spans = len(codes[0]["evidence"])
    page.click(f'#code-c0 .ev-link[data-index="{spans - 1}"]')
    assert in_view(page, f"#ev-c0-{spans - 1}")
    assert watched.problems == []


def test_chart_markup_is_shown_as_text_and_never_runs(site: Path, watched: Watched) -> None:
    page = watched.open(site / page_name("clinic/markup"))
    page.click("#code-c0 button.show")
    time.sleep(0.3)
    assert MARKUP in page.inner_text("#text")
    assert "</textarea>" in page.inner_text("#text")
    assert page.locator("#text img, #text script, main img").count() == 0
    assert watched.problems == []  # no dialog, no error


def read_download(download: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))


def test_decisions_are_kept_and_exported_as_csv(site: Path, results, watched: Watched) -> None:
    _, records = results
    codes = records["clinic/markup"]["codes"]
    assert len(codes) >= 2
    page = watched.open(site / page_name("clinic/markup"))
    page.click("#code-c0 button.accept")
    page.click("#code-c1 button.reject")
    page.fill("#code-c1 textarea.comment", '=not "documented", see note')
    page.locator("#code-c1 textarea.comment").blur()
    page.reload()  # kept in the browser
    assert "accepted" in (page.get_attribute("#code-c0", "class") or "")
    assert "rejected" in (page.get_attribute("#code-c1", "class") or "")
    assert page.input_value("#code-c1 textarea.comment") == '=not "documented", see note'
    assert page.inner_text("#decision-count").startswith("1 accepted, 1 rejected")
    with page.expect_download() as caught:
        page.click("#export-chart")
    rows = read_download(caught.value)
    assert caught.value.suggested_filename == "decisions-clinic_markup.csv"
    assert [(r["chart_id"], r["code"], r["decision"], r["comment"]) for r in rows] == sorted(
        [
            ("clinic/markup", codes[0]["code"], "accepted", ""),
            ("clinic/markup", codes[1]["code"], "rejected", '\'=not "documented", see note'),
        ],
        key=lambda row: row[1],
    )
    assert {r["run_id"] for r in rows} == {"run-1"}
    # the index counts the decisions and exports every chart's
    index = watched.open(site / "index.html")
    row = index.locator('tr[data-chart="clinic/markup"]')
    assert row.locator(".reviewed").inner_text() == f"2/{len(codes)}"
    with index.expect_download() as caught:
        index.click("#export-all")
    assert len(read_download(caught.value)) == 2
    assert watched.problems == []


def test_the_index_filters_and_sorts(site: Path, results, watched: Watched) -> None:
    _, records = results
    page = watched.open(site / "index.html")
    visible = "tbody tr:not([hidden])"
    assert page.locator(visible).count() == len(records)
    page.fill("#filter", "markup")
    assert page.locator(visible).count() == 1
    page.fill("#filter", "")
    page.check("#errors-only")
    assert [r.get_attribute("data-chart") for r in page.locator(visible).all()] == ["empty"]
    page.uncheck("#errors-only")
    page.click("th:nth-child(3) button")  # codes, ascending
    page.click("th:nth-child(3) button")  # then descending
    first = page.locator("tbody tr").first.get_attribute("data-chart")
    assert first == max(records, key=lambda c: len(records[c]["codes"]))
    assert watched.problems == []


def test_a_200_page_chart_loads_fast(site: Path, watched: Watched) -> None:
    page = watched.open(site / page_name(BIG_ID))
    timing = page.evaluate(
        """() => {
            const nav = performance.getEntriesByType('navigation')[0];
            return {load: nav.loadEventEnd, dom: nav.domContentLoadedEventEnd,
                    spans: document.querySelectorAll('.ev').length,
                    chars: document.getElementById('text').textContent.length};
        }"""
    )
    print(f"200-page chart: {timing}")
    assert timing["chars"] > 200 * 2000 and timing["spans"] >= 20
    assert timing["load"] / 1000 < LOAD_BUDGET_SECONDS
    assert watched.problems == []
