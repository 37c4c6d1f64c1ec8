"""The plain records of a read PDF: its pages, its text, and the limits it is read under."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

PageSource = Literal["text_layer", "ocr"]

# Pages are joined with a form feed, so a character offset's page is 1 + the form feeds before it.
PAGE_BREAK = "\f"

DEFAULT_MAX_PDF_BYTES = 200 * 1024 * 1024
DEFAULT_MAX_PAGES = 2000
DEFAULT_OCR_SECONDS_PER_PAGE = 60.0
DEFAULT_OCR_DPI = 300
DEFAULT_MIN_TEXT_CHARS = 16
DEFAULT_MIN_TEXT_CHARS_ON_SCAN = 200
# Environment variables that override a default limit (`PdfLimits.from_env`).
ENV_PREFIX = "CHARTCODER_PDF_"
_LINE_BREAKS = re.compile(r"\r\n?|[\f\v\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\ufffe\uffff]")
# A line break inside a sentence that a page's layout wrapped: after a lower-case word, a digit or
# a comma, before a lower-case word ("chronic kidney disease,\nstage 3a").
_WRAPPED = re.compile(r"(?<=[a-z0-9,;])[ \t]*\n(?=[ \t]*[a-z(])")


class PdfError(ValueError):
    """A PDF that cannot be read as a whole (corrupt, truncated, no pages, needs a password,
    over a limit); its message is the reason a chart record carries."""


@dataclass(frozen=True, slots=True)
class PdfLimits:
    """What a PDF may cost. `max_bytes` and `max_pages` refuse the whole file;
    `ocr_seconds_per_page` is one page's OCR budget (a page over it gets a page error);
    `ocr_dpi` is the resolution pages are rendered at for OCR; a page's text layer counts as
    usable from `min_text_chars` letters and digits on, and on a page that is mostly one image
    (a scan) from `min_text_chars_on_scan`."""

    max_bytes: int = DEFAULT_MAX_PDF_BYTES
    max_pages: int = DEFAULT_MAX_PAGES
    ocr_seconds_per_page: float = DEFAULT_OCR_SECONDS_PER_PAGE
    ocr_dpi: int = DEFAULT_OCR_DPI
    min_text_chars: int = DEFAULT_MIN_TEXT_CHARS
    min_text_chars_on_scan: int = DEFAULT_MIN_TEXT_CHARS_ON_SCAN

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PdfLimits:
        """The defaults, each overridden by `CHARTCODER_PDF_<FIELD>` when set
        (`CHARTCODER_PDF_MAX_PAGES=500`, `CHARTCODER_PDF_OCR_SECONDS_PER_PAGE=30`...)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for item in fields(cls):
            name = f"{ENV_PREFIX}{item.name.upper()}"
            raw = environ.get(name)
            if raw is None:
                continue
            kind = float if item.type in (float, "float") else int
            try:
                values[item.name] = kind(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r}: not a number") from None
        return cls(**values)

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pages", "ocr_seconds_per_page", "ocr_dpi"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"PdfLimits.{name}={value!r}: must be greater than 0")
        for name in ("min_text_chars", "min_text_chars_on_scan"):
            value = getattr(self, name)
            if value < 0:
                raise ValueError(f"PdfLimits.{name}={value!r}: must be 0 or more")


def clean_text(raw: str) -> str:
    """A page's text with `\\n` line breaks and no form feeds or control characters, so that
    pages joined by `PAGE_BREAK` keep their count; it ends with one line break (none when
    empty), so a page's last line never runs into the next page's first."""
    text = _CONTROL.sub("", _LINE_BREAKS.sub("\n", raw)).rstrip()
    return f"{text}\n" if text else ""


def unwrap_lines(text: str) -> str:
    """A page's text with the line breaks its layout put inside sentences made spaces (the
    engine starts a sentence at every line break, as an authored text chart means it); the
    length, and so every offset, is unchanged."""
    return _WRAPPED.sub(lambda m: " " * len(m.group(0)), text)


@dataclass(frozen=True, slots=True)
class PageRecord:
    """How one page was read: 1-based number, where its text came from, the OCR engine's mean
    word confidence (0-1; None for a text-layer page or one with no words) and, when the page
    could not be read, why (its text is then empty and the other pages stand)."""

    page: int
    source: PageSource
    ocr_confidence: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PdfText:
    """A PDF's text, its pages joined by `PAGE_BREAK`, and how each page was read."""

    text: str
    pages: tuple[PageRecord, ...]

    @property
    def page_texts(self) -> list[str]:
        return self.text.split(PAGE_BREAK)
