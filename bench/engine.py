"""Engine speed: the background charts coded in one process on one core, against spaCy's tokenizer.

Both runs are whole processes timed from start to finish (imports and loading included), pinned
to the same single core:
- `engine`: `ChartCoder.load()` from the built artefacts, then `code()` over every chart;
- `tokenizer`: `spacy.blank("en")` over the same texts (the bar the engine is measured against).

    python bench/engine.py [--charts PATH] [--limit N]

Prints characters/s, charts/s, load time and peak memory of each, and the engine/tokenizer ratio.
Run `chartcoder train` first (`make bench` does).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

BATCH = 64
CORE = 0


def read_texts(path: Path, limit: int | None) -> list[str]:
    texts = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                texts.append(json.loads(line)["text"])
            if limit and len(texts) >= limit:
                break
    return texts


def worker(kind: str, path: Path, limit: int | None) -> dict:
    started = time.perf_counter()
    texts = read_texts(path, limit)
    if kind == "engine":
        from nlp.coder import ChartCoder
        from nlp.records import Chart

        coder = ChartCoder.load()
        loaded = time.perf_counter()
        codes = 0
        for i in range(0, len(texts), BATCH):
            batch = [Chart(str(i + j), t) for j, t in enumerate(texts[i : i + BATCH])]
            codes += sum(len(r.codes) for r in coder.code(batch))
    else:
        import spacy

        nlp = spacy.blank("en")
        loaded = time.perf_counter()
        codes = sum(len(doc) for doc in nlp.pipe(texts, batch_size=BATCH))
    finished = time.perf_counter()
    return {
        "load_s": loaded - started,
        "work_s": finished - loaded,
        "output": codes,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run(kind: str, path: Path, limit: int | None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    command = [sys.executable, __file__, "--worker", kind, "--charts", str(path)]
    if limit:
        command += ["--limit", str(limit)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    return result


def main() -> None:
    default = (
        Path(os.environ.get("CHARTCODER_DATA", "../shared/data"))
        / "codiesp/background/background_en.jsonl"
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", type=Path, default=default)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--worker", choices=("engine", "tokenizer"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        os.sched_setaffinity(0, {CORE})
        print(json.dumps(worker(args.worker, args.charts, args.limit)))
        return
    texts = read_texts(args.charts, args.limit)
    chars = sum(len(t) for t in texts)
    print(
        f"{len(texts)} charts, {chars:,} characters, one process pinned to core {CORE} each; "
        f"{os.cpu_count()} cores on this machine"
    )
    results = {kind: run(kind, args.charts, args.limit) for kind in ("tokenizer", "engine")}
    for kind, r in results.items():
        print(
            f"{kind:9s}: {chars / r['process_s']:>10,.0f} chars/s  "
            f"{len(texts) / r['process_s']:>8.1f} charts/s  (whole process {r['process_s']:.1f} s"
            f", load {r['load_s']:.1f} s, steady {chars / r['work_s']:,.0f} chars/s, "
            f"peak memory {r['peak_rss_mb']:,.0f} MB)"
        )
    ratio = results["tokenizer"]["process_s"] / results["engine"]["process_s"]
    print(f"engine / tokenizer rate, whole processes: {ratio:.3f} (bar: 0.08)")
    print(json.dumps({"charts": len(texts), "characters": chars, **results, "ratio": ratio}))


if __name__ == "__main__":
    main()
