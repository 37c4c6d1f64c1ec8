"""Reading charts: `.txt` files, `.jsonl` files of `{"id", "text"}` records, or folders.

The rules every entry point shares (`chartcoder code`, the pipeline flow):
- a folder contributes its `.txt` files, recursively, sorted by path; the chart id is the path
  relative to the folder without `.txt` (a `.txt` file given directly: its stem);
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
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from nlp.conventions import SETTINGS
from nlp.records import Chart
from nlp.settings import MAX_CHART_BYTES

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
    size = path.stat().st_size
    if size > max_bytes:
        return Chart(chart_id, "", f"too large: {size} bytes, the limit is {max_bytes}")
    return decode_chart(chart_id, path.read_bytes(), max_bytes, setting)


def text_chart(
    chart_id: str, text: object, max_bytes: int = MAX_CHART_BYTES, setting: str | None = None
) -> Chart:
    """A chart from a JSON record's text value."""
    if not isinstance(text, str):
        return Chart(chart_id, "", f"record text is {type(text).__name__}, not a string")
    return decode_chart(chart_id, text.encode("utf-8"), max_bytes, setting)


def chart_files(folder: Path) -> list[tuple[str, Path]]:
    """(chart id, path) of every `.txt` file under a folder, sorted by path."""
    files = sorted(p for p in folder.rglob("*.txt") if p.is_file())
    return [(p.relative_to(folder).with_suffix("").as_posix(), p) for p in files]


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
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if raw.strip():
                yield jsonl_line_chart(f"{path.name}:{line_no}", raw, max_bytes)


def read_charts(paths: list[Path], max_bytes: int = MAX_CHART_BYTES) -> Iterator[Chart]:
    """Charts from every path, in the order given."""
    for path in paths:
        if path.is_dir():
            for chart_id, file in chart_files(path):
                yield file_chart(chart_id, file, max_bytes, folder_setting(chart_id))
        elif path.is_file() and path.suffix == ".jsonl":
            yield from read_jsonl(path, max_bytes)
        elif path.is_file() and path.suffix == ".txt":
            yield file_chart(path.stem, path, max_bytes)
        elif not path.exists():
            raise ChartSourceError(f"{path}: no such file or folder")
        else:
            raise ChartSourceError(f"{path}: not a .txt file, a .jsonl file or a folder")
