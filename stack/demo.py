"""The whole chain on this machine (`make run`): charts land in S3, a run codes them, codes shown.

    python -m stack.demo [--keep-up] [--charts FOLDER] [--pdfs FOLDER] [--members CSV]
                         [--claims FILE] [stack options of `chartcoder up`]

`chartcoder up`; the example charts uploaded as a new batch (`demo-<time>/`): the text charts
as one JSON-lines object and the example PDF chart (`examples/pdf/two_visits_scan.pdf`, a text
layer page and a scanned one) as its own object, with the example members and claims files
beside them (`members.csv`, `claims.csv`: the landing-prefix files of docs/events.md), then
the `_READY` marker; the bridge's event triggers the `code-charts` deployment; once the run is
over, each chart's codes, HCCs and RAF (for the PDF chart also its pages, text layer or OCR
with the OCR confidence, and its encounters' dates of service), the batch's opportunities
against the claims (member, HCC, status, RAF effect), the results location, the review site
(`chartcoder review` of the local copy) and the run's page in the Prefect UI are printed; then
`chartcoder down`, unless `--keep-up` (or KEEP_UP=1) leaves the stack up to browse the UI.
The results are also copied to out/events/<batch>/ (moto keeps S3 in memory: `down` loses it).

The helpers (upload a batch, find and wait for the batch's run, read its results) are shared with
the event-chain test and bench/events.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nlp.reading import folder_setting
from stack.clients import aws_client, prefect_client
from stack.command import add_stack_options, settings_from
from stack.lifecycle import flow_run_processes, status, stop, up
from stack.settings import PROJECT_DIR, StackSettings, split_s3

EXAMPLES = PROJECT_DIR / "examples" / "charts"
EXAMPLE_PDFS = PROJECT_DIR / "examples" / "pdf"
EXAMPLE_MEMBERS = PROJECT_DIR / "examples" / "members.csv"
EXAMPLE_CLAIMS = PROJECT_DIR / "examples" / "claims.csv"
RESULT_FILES = (
    "charts.jsonl",
    "texts.jsonl",
    "manifest.json",
    "hccs.parquet",
    "opportunities.parquet",
)
OUT = Path("out") / "events"  # local copies of the results (moto keeps S3 in memory only)
DEPLOYMENT_NAME = "code-charts"


def batch_source(settings: StackSettings, batch: str) -> str:
    """Where a batch lands: `s3://bucket/<landing prefix><batch>/`."""
    bucket, prefix = split_s3(settings.landing)
    return f"s3://{bucket}/{prefix}{batch.strip('/')}/"


def upload(
    settings: StackSettings, batch: str, charts: dict[str, bytes], marker: bool = False
) -> float:
    """`charts` (name -> bytes) as objects of one batch, then the marker; the time of the last
    write (time.time())."""
    s3 = aws_client(settings, "s3")
    bucket, key_prefix = split_s3(batch_source(settings, batch))
    for name, data in charts.items():
        s3.put_object(Bucket=bucket, Key=f"{key_prefix}{name}", Body=data)
    if marker:
        s3.put_object(Bucket=bucket, Key=f"{key_prefix}{settings.marker}", Body=b"")
    return time.time()


def example_charts(folder: Path = EXAMPLES) -> dict[str, bytes]:
    """Every .txt under `folder` as one JSON-lines object (a batch is one folder: the bridge
    batches by the key's parent): records `{"id", "text", "setting"}`, the id the path relative
    to `folder` without `.txt`, the setting its `inpatient/` or `outpatient/` folder
    (`examples/charts/inpatient/` is coded under the inpatient rule)."""
    lines = []
    for path in sorted(folder.rglob("*.txt")):
        chart_id = path.relative_to(folder).with_suffix("").as_posix()
        record = {"id": chart_id, "text": path.read_text(encoding="utf-8")}
        setting = folder_setting(chart_id + ".txt")
        if setting is not None:
            record["setting"] = setting
        lines.append(json.dumps(record, ensure_ascii=False))
    if not lines:
        raise ValueError(f"{folder}: no .txt charts")
    return {"examples.jsonl": ("\n".join(lines) + "\n").encode("utf-8")}


def example_pdfs(folder: Path | None = EXAMPLE_PDFS) -> dict[str, bytes]:
    """Every .pdf directly in `folder` as its own object, named as in the folder (chart id: the
    name without `.pdf`). They land directly in the batch prefix, not in a settings folder: the
    bridge batches by the key's parent, so an `outpatient/` folder would be a second batch of
    its own; the run codes them under its setting (outpatient)."""
    if folder is None:
        return {}
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.pdf"))}


def risk_files(members: Path | None, claims: Path | None) -> dict[str, bytes]:
    """The members and claims files as a batch brings them: `members.csv`, and `claims.csv`
    (or `claims.837` for an X12 file) directly in the landing prefix."""
    files = {}
    if members is not None:
        files["members.csv"] = members.read_bytes()
    if claims is not None:
        x12 = claims.suffix.lower() in (".837", ".x12", ".edi")
        files["claims.837" if x12 else "claims.csv"] = claims.read_bytes()
    return files


def batch_runs(settings: StackSettings, source: str) -> list[Any]:
    """Flow runs of the deployment whose source is `source`, oldest first."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    wanted = source.rstrip("/")
    with prefect_client(settings) as client:
        found = client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[DEPLOYMENT_NAME])),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=200,
        )
    return [r for r in found if str(r.parameters.get("source", "")).rstrip("/") == wanted]


def wait_for_run(
    settings: StackSettings,
    source: str,
    timeout: float,
    progress: Callable[[str], None] | None = None,
    poll: float = 0.5,
) -> Any:
    """The first flow run for `source`, once it is in a final state."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        found = batch_runs(settings, source)
        if found:
            run = found[0]
            state = run.state.name if run.state else "?"
            if progress is not None and state != seen:
                progress(f"flow run {run.name} ({run.id}): {state}")
                seen = state
            if run.state is not None and run.state.is_final():
                return run
        time.sleep(poll)
    raise TimeoutError(f"no finished flow run for {source} after {timeout:.0f} s")


def wait_for_exit(settings: StackSettings, timeout: float = 30.0, poll: float = 0.2) -> bool:
    """Wait until the worker's flow-run process has exited; whether it did within `timeout`.

    A run's process ends a moment after the run's final state (it flushes its logs and exits);
    stopping the stack before would kill it mid-exit.
    """
    deadline = time.monotonic() + timeout
    while flow_run_processes(settings.state_dir):
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def read_result(settings: StackSettings, destination: str, name: str) -> bytes | None:
    """A result file (charts.jsonl, manifest.json) at an s3:// destination, None if absent."""
    s3 = aws_client(settings, "s3")
    bucket, prefix = split_s3(destination)
    try:
        return s3.get_object(Bucket=bucket, Key=f"{prefix}{name}")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


def records(settings: StackSettings, destination: str) -> list[dict[str, Any]]:
    data = read_result(settings, destination, "charts.jsonl") or b""
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def run_url(settings: StackSettings, run: Any) -> str:
    return f"{settings.ui_url}/runs/flow-run/{run.id}"


def review_site(local: Path) -> Path:
    """The static review site of the local copy of a batch's results (`chartcoder review`)."""
    from review.results import load, local_reader
    from review.site import build, write_folder

    return write_folder(build(load(local_reader(local), f"{local}/")), local / "review")


def opportunity_rows(data: bytes | None) -> list[dict[str, Any]]:
    import io

    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data)).to_pylist() if data else []


def demo(
    settings: StackSettings,
    keep_up: bool,
    charts: Path = EXAMPLES,
    out: Path = OUT,
    pdfs: Path | None = EXAMPLE_PDFS,
    members: Path | None = EXAMPLE_MEMBERS,
    claims: Path | None = EXAMPLE_CLAIMS,
) -> int:
    from stack.show import render, render_opportunities

    def say(text: str = "") -> None:
        print(text, flush=True)

    files = example_charts(charts) | example_pdfs(pdfs)
    extra = risk_files(members, claims)
    was_up = any(part.running for part in status(settings.state_dir))
    say(f"stack: {json.dumps(up(settings))}")
    run_over = False
    try:
        batch = time.strftime("demo-%Y%m%d-%H%M%S")
        source = batch_source(settings, batch)
        landed = upload(settings, batch, files | extra, marker=True)
        count = sum(
            data.count(b"\n") if name.endswith(".jsonl") else 1 for name, data in files.items()
        )
        say(
            f"uploaded {count} charts ({', '.join([*files, *extra])}) and {settings.marker} "
            f"to {source}"
        )
        run = wait_for_run(settings, source, timeout=900, progress=say)
        run_over = True
        say(f"run over {time.time() - landed:.1f} s after the last upload")
        destination = str(run.parameters["destination"])
        if not run.state.is_completed():
            say(f"run {run.name} ended {run.state.name}: {run.state.message}")
            say(f"flow run: {run_url(settings, run)}")
            return 1
        local = out / batch
        local.mkdir(parents=True, exist_ok=True)
        for name in RESULT_FILES:
            data = read_result(settings, destination, name)
            if data is not None:
                (local / name).write_bytes(data)
        coded = records(settings, destination)
        manifest = json.loads(read_result(settings, destination, "manifest.json") or b"{}")
        say()
        say(render(coded))
        say()
        say("opportunities against the claims (opportunities.parquet):")
        opportunities = opportunity_rows(
            read_result(settings, destination, "opportunities.parquet")
        )
        say(render_opportunities(opportunities, manifest.get("risk")))
        say()
        say(f"{len(coded)} charts coded by run {run.name}, created by the batch event")
        say(f"results:       {destination} (copied to {local}/)")
        say(f"review site:   {review_site(local).resolve()} (open it in a browser)")
        say(f"flow run:      {run_url(settings, run)}")
        say(f"notifications: {settings.notifications}")
        if keep_up:
            say(f"the stack stays up: browse {settings.ui_url}; `chartcoder down` stops it")
    finally:
        if not keep_up and not was_up:  # a stack that was already up stays up
            if run_over:
                wait_for_exit(settings)
            stop(settings.state_dir)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.demo", description=__doc__)
    add_stack_options(parser)
    parser.add_argument("--keep-up", action="store_true", help="leave the stack running")
    parser.add_argument("--charts", type=Path, default=EXAMPLES, help="folder of .txt charts")
    parser.add_argument("--out", type=Path, default=OUT, help="where results are copied")
    parser.add_argument(
        "--pdfs",
        type=Path,
        default=EXAMPLE_PDFS,
        help="folder whose .pdf charts land beside the text charts (default: examples/pdf)",
    )
    parser.add_argument(
        "--members",
        type=Path,
        default=EXAMPLE_MEMBERS,
        help="members CSV landed with the batch as members.csv (default: the examples')",
    )
    parser.add_argument(
        "--claims",
        type=Path,
        default=EXAMPLE_CLAIMS,
        help="claims CSV or 837 landed with the batch as claims.csv / claims.837 (default: the "
        "examples')",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    keep = args.keep_up or os.environ.get("KEEP_UP") == "1"
    return demo(
        settings_from(args),
        keep_up=keep,
        charts=args.charts,
        out=args.out,
        pdfs=args.pdfs,
        members=args.members,
        claims=args.claims,
    )


if __name__ == "__main__":
    sys.exit(main())
