"""Reading charts: `.txt` files, `.pdf` files, `.jsonl` files of `{"id", "text"}` records, or
folders.

The rules every entry point shares (`chartcoder code`, the pipeline flow):
- a folder contributes its `.txt` files, recursively, sorted by path; the chart id is the path
  relative to the folder without `.txt` (a `.txt` file given directly: its stem);
- a `.pdf` file (any case of the suffix) is one chart, its id the path without `.pdf` as for
  `.txt`; its text is its pages' (text layer, else OCR: `records.read_pdf`) joined by form
  feeds, and the chart keeps how each page was read. Where a `.txt` and a `.pdf` give the same
  id, the second in path order is an error record naming the first. A PDF that cannot be read
  (corrupt, truncated, no pages, locked by a user password, over `PdfLimits`) is an error
  record with the reason; the 5 MiB text limit applies to the text read from it; the PDF limits
  are `records.PdfLimits`, which `CHARTCODER_PDF_*` environment variables override;
- a `.tif` or `.tiff` file (a fax) is one chart as a `.pdf` is, every page recognised
  (`records.tiff_to_pdf`), under the same limits;
- a chart's setting (`outpatient` | `inpatient`, which overrides the coder's) is a record's
  `"setting"` (absent or null: none), else the folder it sits in: the innermost folder of its
  path relative to the source named exactly `inpatient` or `outpatient`
  (`charts/inpatient/x.txt` read from `charts/` is chart `inpatient/x`, coded inpatient);
  a record with another setting is returned with an `error`;
- text is UTF-8 (a BOM is allowed), else cp1252 with a note saying so;
- an empty chart, a binary one (NUL bytes) or one over the size limit is returned with an
  `error` and no text, so a batch goes on and nothing is silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from nlp.conventions import SETTINGS
from nlp.records import Chart
from nlp.settings import MAX_CHART_BYTES
from records import PdfError, PdfLimits, PdfText, read_pdf, tiff_to_pdf

# Reads a PDF's bytes into text and pages under limits (`records.read_pdf` or a stand-in for it).
PdfReader = Callable[[bytes, PdfLimits], PdfText]

# The coder's settings (`nlp.coding_rules.SETTINGS`), named here so that reading never imports
# the engine (a test keeps the two equal).


class ChartSourceError(ValueError):
    """A path that is not a chart source (missing, or of an unsupported kind)."""


def folder_setting(relative_path: str) -> str | None:
    """The setting a chart's folders give it: the innermost folder named `inpatient` or
    `outpatient` in its path relative to the source (`/`-separated; the file name itself does
    not count), else None."""
    folders = PurePosixPath(relative_path).parts[:-1]
    return next((name for name in reversed(folders) if name in SETTINGS), None)


def decode_chart(
    chart_id: str, data: bytes, max_bytes: int = MAX_CHART_BYTES, setting: str | None = None
) -> Chart:
    """A chart from raw bytes, or a chart carrying the reason it cannot be coded."""
    if len(data) > max_bytes:
        return Chart(chart_id, "", f"too large: {len(data)} bytes, the limit is {max_bytes}")
    if b"\x00" in data:
        return Chart(chart_id, "", "binary content (NUL bytes): not a text chart")
    notes: tuple[str, ...] = ()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        notes = ("not valid UTF-8: read as cp1252",)
    if not text.strip():
        return Chart(chart_id, "", "empty chart: no text to code", notes)
    return Chart(chart_id, text, None, notes, setting)


def file_chart(
    chart_id: str, path: Path, max_bytes: int = MAX_CHART_BYTES, setting: str | None = None
) -> Chart:
    """A chart from a file; a file over the limit is refused without being read."""
    error = size_refusal(path.name, path.stat().st_size, max_bytes)
    if error is not None:
        return Chart(chart_id, "", error)
    return decode_chart(chart_id, path.read_bytes(), max_bytes, setting)


def text_chart(
    chart_id: str, text: object, max_bytes: int = MAX_CHART_BYTES, setting: str | None = None
) -> Chart:
    """A chart from a JSON record's text value."""
    if not isinstance(text, str):
        return Chart(chart_id, "", f"record text is {type(text).__name__}, not a string")
    return decode_chart(chart_id, text.encode("utf-8"), max_bytes, setting)


def pdf_chart(
    chart_id: str,
    data: bytes,
    setting: str | None = None,
    limits: PdfLimits | None = None,
    max_bytes: int = MAX_CHART_BYTES,
    reader: PdfReader = read_pdf,
) -> Chart:
    """A chart from a PDF's bytes, or a chart carrying the reason it cannot be coded. Pages that
    failed are named in the chart's notes; the chart is coded from the others. `reader` reads
    the pages (`records.read_pdf`, or one that shares a big PDF's OCR among workers)."""
    try:
        pdf = reader(data, limits or PdfLimits.from_env())
    except PdfError as exc:
        return Chart(chart_id, "", str(exc), (), setting)
    failed = [p.page for p in pdf.pages if p.error]
    notes: tuple[str, ...] = ()
    if failed:
        numbers = ", ".join(str(n) for n in failed)
        notes = (f"{len(failed)} of {len(pdf.pages)} pages could not be read: {numbers}",)
    size = len(pdf.text.encode("utf-8"))
    if size > max_bytes:
        error = f"too large: {size} bytes of text read from the PDF, the limit is {max_bytes}"
        return Chart(chart_id, "", error, notes, setting, pdf.pages)
    if not pdf.text.strip():
        return Chart(chart_id, "", "empty chart: no text on any page", notes, setting, pdf.pages)
    return Chart(chart_id, pdf.text, None, notes, setting, pdf.pages)


def tiff_chart(
    chart_id: str,
    data: bytes,
    setting: str | None = None,
    limits: PdfLimits | None = None,
    max_bytes: int = MAX_CHART_BYTES,
    reader: PdfReader = read_pdf,
) -> Chart:
    """A chart from a multi-page TIFF's bytes (a fax): its pages read as a scanned PDF's."""
    limits = limits or PdfLimits.from_env()
    try:
        data = tiff_to_pdf(data, limits)
    except PdfError as exc:
        return Chart(chart_id, "", str(exc), (), setting)
    return pdf_chart(chart_id, data, setting, limits, max_bytes, reader)


def pdf_file_chart(
    chart_id: str,
    path: Path,
    setting: str | None = None,
    limits: PdfLimits | None = None,
    max_bytes: int = MAX_CHART_BYTES,
) -> Chart:
    """A chart from a PDF or TIFF file; a file over the PDF byte limit is refused unread."""
    limits = limits or PdfLimits.from_env()
    error = size_refusal(path.name, path.stat().st_size, max_bytes, limits)
    if error is not None:
        return Chart(chart_id, "", error, (), setting)
    return chart_from_bytes(chart_id, path.name, path.read_bytes(), max_bytes, setting, limits)


PDF_SUFFIXES = (".pdf",)
TIFF_SUFFIXES = (".tif", ".tiff")


def is_pdf(path: Path | PurePosixPath | str) -> bool:
    return str(path).lower().endswith(PDF_SUFFIXES)


def is_tiff(path: Path | PurePosixPath | str) -> bool:
    return str(path).lower().endswith(TIFF_SUFFIXES)


def is_paged(path: Path | PurePosixPath | str) -> bool:
    """A file read page by page: a PDF or a TIFF (any case of the suffix)."""
    return is_pdf(path) or is_tiff(path)


def size_refusal(
    name: str, size: int, max_bytes: int, limits: PdfLimits | None = None
) -> str | None:
    """Why a file (by its name or key) of `size` bytes is refused without being read, or None: a
    PDF or TIFF over its byte limit (`limits`, else `CHARTCODER_PDF_*`), any other over
    `max_bytes`."""
    if is_paged(name):
        limit = (limits or PdfLimits.from_env()).max_bytes
        kind = "TIFF" if is_tiff(name) else "PDF"
        return f"{kind} too large: {size} bytes, the limit is {limit}" if size > limit else None
    return f"too large: {size} bytes, the limit is {max_bytes}" if size > max_bytes else None


def chart_suffix(name: str) -> str | None:
    """The suffix that makes a file a chart (`.txt`, `.pdf`, `.tif`, `.tiff`, as written), or
    None."""
    if name.endswith(".txt"):
        return ".txt"
    lower = name.lower()
    return next((name[-len(s) :] for s in PDF_SUFFIXES + TIFF_SUFFIXES if lower.endswith(s)), None)


def chart_paths(folder: Path) -> list[tuple[str, Path]]:
    """(chart id, path) of every `.txt`, `.pdf` and `.tif(f)` file under a folder, sorted by
    path; two files may give one id (`a.txt`, `a.pdf`): readers make the second an error."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and chart_suffix(p.name) is not None)
    return [(path.relative_to(folder).with_suffix("").as_posix(), path) for path in files]


def chart_id_for(relative_path: str) -> str | None:
    """The chart id of a file from its path relative to the source (`/`-separated, as an S3
    key under a prefix): the path without `.txt`, `.pdf`, `.tif` or `.tiff`; None for any
    other file."""
    suffix = chart_suffix(relative_path)
    return None if suffix is None else relative_path[: -len(suffix)]


def chart_from_bytes(
    chart_id: str,
    name: str,
    data: bytes,
    max_bytes: int = MAX_CHART_BYTES,
    setting: str | None = None,
    limits: PdfLimits | None = None,
    pdf_reader: PdfReader = read_pdf,
) -> Chart:
    """A chart from a file's bytes, read by the kind its name (path or key) says: a PDF, a
    TIFF, else text. `max_bytes` is the text limit; a PDF's or TIFF's own byte limit is
    `limits.max_bytes`."""
    if is_pdf(name):
        return pdf_chart(chart_id, data, setting, limits, max_bytes, pdf_reader)
    if is_tiff(name):
        return tiff_chart(chart_id, data, setting, limits, max_bytes, pdf_reader)
    return decode_chart(chart_id, data, max_bytes, setting)


def duplicate_chart(chart_id: str, first: str, setting: str | None = None) -> Chart:
    """The error record of a second file with a chart id already read from `first`."""
    return Chart(chart_id, "", f"duplicate chart id: already read from {first}", (), setting)


def jsonl_line_chart(
    fallback_id: str, raw: bytes, max_bytes: int = MAX_CHART_BYTES, setting: str | None = None
) -> Chart:
    """A chart from one line of a `.jsonl` file; `fallback_id` names a line without a usable id.
    `setting` is the file's folder setting; the record's own `"setting"` wins."""
    try:
        record = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        return Chart(fallback_id, "", f"malformed JSON line: {exc}")
    if not isinstance(record, dict) or "id" not in record:
        return Chart(fallback_id, "", "JSON record has no 'id'")
    chart_id = str(record["id"])
    own = record.get("setting")
    if own is not None and own not in SETTINGS:
        allowed = ", ".join(SETTINGS)
        return Chart(chart_id, "", f"record setting {own!r} is not one of {allowed}")
    return text_chart(chart_id, record.get("text"), max_bytes, own or setting)


def read_jsonl(path: Path, max_bytes: int = MAX_CHART_BYTES) -> Iterator[Chart]:
    for _, chart in read_jsonl_lines(path, max_bytes):
        yield chart


def read_jsonl_lines(path: Path, max_bytes: int = MAX_CHART_BYTES) -> Iterator[tuple[int, Chart]]:
    """(line number, chart) of every non-blank line of a `.jsonl` file."""
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if raw.strip():
                yield line_no, jsonl_line_chart(f"{path.name}:{line_no}", raw, max_bytes)


def read_charts(paths: list[Path], max_bytes: int = MAX_CHART_BYTES) -> Iterator[Chart]:
    """Charts from every path, in the order given. A chart whose id an earlier one took, in any
    path (a `.txt` and a `.pdf`, two `.jsonl` records, one file in two folders), is an error
    record naming where the first was read (the file is not read)."""
    taken = _TakenIds(len(paths) > 1)
    for path in paths:
        if path.is_dir():
            for chart_id, file in chart_paths(path):
                setting = folder_setting(chart_id)
                first = taken.claim(chart_id, file.relative_to(path).as_posix(), path)
                if first is not None:
                    yield duplicate_chart(chart_id, first, setting)
                elif is_paged(file):
                    yield pdf_file_chart(chart_id, file, setting, max_bytes=max_bytes)
                else:
                    yield file_chart(chart_id, file, max_bytes, setting)
        elif path.is_file() and path.suffix == ".jsonl":
            for line_no, chart in read_jsonl_lines(path, max_bytes):
                first = taken.claim(chart.chart_id, f"{path.name}:{line_no}", path.parent)
                yield (
                    chart
                    if first is None
                    else duplicate_chart(chart.chart_id, first, chart.setting)
                )
        elif path.is_file() and chart_suffix(path.name) is not None:
            first = taken.claim(path.stem, path.name, path.parent)
            if first is not None:
                yield duplicate_chart(path.stem, first)
            elif is_paged(path):
                yield pdf_file_chart(path.stem, path, max_bytes=max_bytes)
            else:
                yield file_chart(path.stem, path, max_bytes)
        elif not path.exists():
            raise ChartSourceError(f"{path}: no such file or folder")
        else:
            raise ChartSourceError(f"{path}: not a .txt, .pdf, .tif or .jsonl file, nor a folder")


class _TakenIds:
    """The chart ids read so far and where from: a place relative to its path when one path
    is read, else with the path's folder, so that it names one file."""

    def __init__(self, several_paths: bool) -> None:
        self.several_paths = several_paths
        self.places: dict[str, str] = {}

    def claim(self, chart_id: str, place: str, folder: Path) -> str | None:
        """None if the id is free (it is now taken here), else where it was taken."""
        if chart_id in self.places:
            return self.places[chart_id]
        self.places[chart_id] = (folder / place).as_posix() if self.several_paths else place
        return None
