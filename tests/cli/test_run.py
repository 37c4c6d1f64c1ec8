"""`chartcoder run`: its flags as the flow's options (the run: tests/flows/test_code_charts.py)."""

from __future__ import annotations

from pathlib import Path

from cli.commands import main, parser
from cli.pipeline import run_options
from flows.options import RunOptions


def test_flags_become_the_flows_options_and_absent_flags_keep_the_defaults() -> None:
    args = parser().parse_args(
        [
            *("run", "charts", "--output", "out", "--inpatient", "--convention", "codiesp"),
            *("--workers", "3", "--price-per-hour", "0.5", "--notify", "https://hook"),
            *("--address", "ray://head:10001", "--cache", "/cache", "--service-year", "2026"),
        ]
    )
    assert run_options(args) == RunOptions(
        setting="inpatient",
        convention="codiesp",
        workers=3,
        instance_price_per_hour=0.5,
        notify_target="https://hook",
        ray_address="ray://head:10001",
        cache_dir="/cache",
        service_year=2026,
    )
    defaults = run_options(parser().parse_args(["run", "charts", "--output", "out"]))
    assert defaults == RunOptions()


def test_options_the_flow_refuses_are_a_usage_error_before_any_run(tmp_path: Path, capsys) -> None:
    source = tmp_path / "charts"
    source.mkdir()
    (source / "a.txt").write_text("Assessment: hypertension.\n", encoding="utf-8")
    output = tmp_path / "out"
    code = main(["run", str(source), "--output", str(output), "--shard-retries", "-1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "chartcoder: error: options the flow refuses: shard_retries:" in err
    assert "greater than or equal to 0 (got -1)" in err
    assert not output.exists()
