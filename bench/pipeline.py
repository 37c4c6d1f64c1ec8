"""Benchmark the pipeline against the single-process engine on the same charts.

    python bench/pipeline.py [--charts 10000] [--workers 1 2] [--shard-size K] [--risk]

The corpus is the CodiEsp background set repeated (ids made unique) up to `--charts`. Prints, for
the single-process engine and for the flow with each worker count: charts/hour, characters/s,
the fixed costs (Prefect API start, Ray start, actor load) and the ratio to the single process,
for the steady state (coding stage) and the whole run (fixed costs included).

With `--risk`, each worker count also runs with a members file (a member per two charts) and a
claims CSV (three diagnoses per member, from `CLAIM_CODES`), and prints both rates against the
run without them (the bar: within 10%).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

BACKGROUND = Path("codiesp/background/background_en.jsonl")
# billed diagnoses for the --risk claims file: common HCC-bearing and plain codes
CLAIM_CODES = ("E11.9", "I50.9", "J44.9", "N18.30", "I10", "F32.A", "E78.5", "I48.91", "E66.01")


def corpus(data_dir: Path, charts: int, out: Path) -> Path:
    records = [json.loads(line) for line in (data_dir / BACKGROUND).open(encoding="utf-8")]
    with out.open("w", encoding="utf-8") as handle:
        for n, record in enumerate(itertools.islice(itertools.cycle(records), charts)):
            repeat = n // len(records)
            handle.write(json.dumps({"id": f"{record['id']}~{repeat}", "text": record["text"]}))
            handle.write("\n")
    return out


def risk_inputs(charts: Path, out: Path) -> tuple[Path, Path]:
    """A members file (one member per two charts, ages 65-89) and a claims CSV (three
    diagnoses per member) for the corpus at `charts`."""
    ids = [json.loads(line)["id"] for line in charts.open(encoding="utf-8")]
    members, claims = out / "members.csv", out / "claims.csv"
    with members.open("w") as m, claims.open("w") as c:
        m.write("member_id,chart_id,age,sex\n")
        c.write("member_id,dx,service_date\n")
        for n, chart_id in enumerate(ids):
            member = f"M{n // 2:06d}"
            m.write(f"{member},{chart_id},{65 + (n // 2) % 25},{'MF'[(n // 2) % 2]}\n")
            if n % 2 == 0:
                for k in range(3):
                    dx = CLAIM_CODES[(n // 2 + k * 4) % len(CLAIM_CODES)]
                    c.write(f"{member},{dx},2026-01-15\n")
    return members, claims


def single_process(path: Path, cache: str | None) -> dict[str, float]:
    from nlp.coder import ChartCoder
    from nlp.reading import read_jsonl

    started = time.perf_counter()
    coder = ChartCoder.load(cache_dir=cache)
    load = time.perf_counter() - started
    charts = list(read_jsonl(path))
    started = time.perf_counter()
    for start in range(0, len(charts), 64):
        coder.code(charts[start : start + 64])
    seconds = time.perf_counter() - started
    characters = sum(len(c.text) for c in charts)
    return {"load": load, "seconds": seconds, "charts": len(charts), "characters": characters}


def prefect_api_start() -> float:
    from prefect import get_client

    started = time.perf_counter()
    with get_client(sync_client=True) as client:
        client.api_healthcheck()
    return time.perf_counter() - started


def pipeline(
    path: Path,
    workers: int,
    shard_size: int | None,
    cache: str | None,
    risk: tuple[Path, Path] | None = None,
) -> dict:
    from flows.code_charts import code_charts
    from flows.options import RunOptions

    destination = Path(tempfile.mkdtemp(prefix=f"bench-{workers}w-"))
    members, claims = (str(risk[0]), (str(risk[1]),)) if risk else (None, ())
    started = time.perf_counter()
    state = code_charts(
        str(path),
        str(destination),
        RunOptions(
            workers=workers, shard_size=shard_size, cache_dir=cache, members=members, claims=claims
        ),
        return_state=True,
    )
    wall = time.perf_counter() - started
    if not state.is_completed():
        raise RuntimeError(f"{workers}-worker run failed: {state.message}")
    manifest = json.loads((destination / "manifest.json").read_text())
    if manifest["charts_failed"]:
        reasons = Counter(e["reason"] for e in manifest["errors"]).most_common(3)
        raise RuntimeError(
            f"{workers}-worker run: {manifest['charts_failed']} charts in error "
            f"(the corpus has none): {reasons}"
        )
    return {"wall": wall, "manifest": manifest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--shard-size", type=int, default=None, help="default: the flow's own")
    parser.add_argument("--data", default=os.environ.get("CHARTCODER_DATA", "../shared/data"))
    parser.add_argument("--cache", default=None, help="artefact cache ($CHARTCODER_CACHE)")
    parser.add_argument(
        "--risk", action="store_true", help="also run with a members file and a claims CSV"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    path = corpus(Path(args.data), args.charts, work / "charts.jsonl")
    api = prefect_api_start()
    base = single_process(path, args.cache)
    base_rate = base["charts"] / base["seconds"]
    print(f"charts: {base['charts']}, characters: {base['characters']:,}")
    print(f"prefect API start: {api:.1f} s")
    print(
        f"single process: {base_rate * 3600:,.0f} charts/hour, "
        f"{base['characters'] / base['seconds']:,.0f} characters/s "
        f"(coding {base['seconds']:.1f} s, engine load {base['load']:.1f} s, not counted)"
    )
    base_whole = base["charts"] / (base["seconds"] + base["load"])
    for workers in args.workers:
        run = pipeline(path, workers, args.shard_size, args.cache)
        manifest, timings = run["manifest"], run["manifest"]["timings"]
        steady = manifest["throughput"]["coding_charts_per_hour"] / 3600
        whole_seconds = run["wall"] + api  # the Prefect API start is a fixed cost of the run
        whole = manifest["charts_total"] / whole_seconds
        print(
            f"{workers} worker(s): steady {steady * 3600:,.0f} charts/hour, "
            f"{manifest['throughput']['characters_per_second']:,.0f} characters/s "
            f"(x{steady / base_rate:.2f} the single process)\n"
            f"    whole run {whole_seconds:.1f} s with fixed costs, "
            f"{whole * 3600:,.0f} charts/hour "
            f"(x{whole / base_rate:.2f} the single process's coding rate, "
            f"x{whole / base_whole:.2f} its rate with its load)\n"
            f"    fixed: prefect API {api:.1f} s, ray start {timings['ray_start']:.1f} s, "
            f"actor load {timings['actor_load']:.1f} s, discover {timings['discover']:.1f} s; "
            f"coding stage {timings['coding']:.1f} s; flow run {run['wall']:.1f} s"
        )
        if args.risk:
            risky = pipeline(path, workers, args.shard_size, args.cache, risk_inputs(path, work))
            totals, risk_timings = risky["manifest"]["risk"], risky["manifest"]["timings"]
            risk_steady = risky["manifest"]["throughput"]["coding_charts_per_hour"] / 3600
            risk_whole = risky["manifest"]["charts_total"] / (risky["wall"] + api)
            print(
                f"    with members and claims ({totals['members']} members, "
                f"{totals['adds']} adds, {totals['deletes']} deletes): steady "
                f"{risk_steady * 3600:,.0f} charts/hour (x{risk_steady / steady:.3f} without), "
                f"whole run {risk_whole * 3600:,.0f} charts/hour "
                f"(x{risk_whole / whole:.3f} without)\n"
                f"    risk inputs {risk_timings['risk_inputs']:.1f} s, risk stage "
                f"{risk_timings['risk']:.1f} s (without: {timings['risk']:.1f} s); flow run "
                f"{risky['wall']:.1f} s"
            )


if __name__ == "__main__":
    main()
