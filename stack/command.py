"""`chartcoder up`, `down` and `status`: their flags and bodies (the last stdout line of `up` is
one JSON object: `prefect_api`, `prefect_ui`, `s3_endpoint`, `region`, `landing`, `results`)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from stack.lifecycle import status, stop, up
from stack.processes import StackError
from stack.settings import PORT_ENVS, STACK_ENV, StackSettings, stack_dir


def add_parsers(sub: Any) -> None:
    """`chartcoder up`, `down` and `status`."""
    up_ = sub.add_parser("up", help="start the local event-driven stack (Prefect, S3, bridge)")
    add_stack_options(up_)
    down_ = sub.add_parser("down", help="stop what `chartcoder up` started")
    down_.add_argument("--state-dir", help=f"stack folder (default: ${STACK_ENV})")
    down_.add_argument("--timeout", type=float, default=15.0, help="seconds before SIGKILL")
    status_ = sub.add_parser("status", help="show each part of the local stack")
    status_.add_argument("--state-dir", help=f"stack folder (default: ${STACK_ENV})")
    status_.add_argument("--json", action="store_true", help="one JSON object")


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    defaults = StackSettings.__dataclass_fields__
    parser.add_argument("--state-dir", help=f"stack folder (default: ${STACK_ENV} or the cache)")
    for option, name in (
        ("prefect", "prefect_port"),
        ("s3", "s3_port"),
        ("webhook", "webhook_port"),
    ):
        parser.add_argument(
            f"--{option}-port",
            type=int,
            help=f"loopback port (default: ${PORT_ENVS[name]} or {defaults[name].default})",
        )
    parser.add_argument("--quiet-seconds", type=float, help="bridge quiet period (default: 20)")
    parser.add_argument("--poll-seconds", type=float, help="worker polling interval (default: 2)")
    parser.add_argument("--worker-limit", type=int, help="flow runs at once (default: 1)")
    parser.add_argument(
        "--visibility-seconds", type=int, help="bridge's SQS visibility timeout (default: its own)"
    )
    parser.add_argument(
        "--landing", help="where charts land (default: s3://chartcoder-landing/incoming)"
    )
    parser.add_argument(
        "--results", help="where results go (default: s3://chartcoder-results/results)"
    )


def settings_from(args: argparse.Namespace) -> StackSettings:
    return StackSettings.resolve(
        args.state_dir,
        prefect_port=args.prefect_port,
        s3_port=args.s3_port,
        webhook_port=args.webhook_port,
        quiet_seconds=args.quiet_seconds,
        poll_seconds=args.poll_seconds,
        worker_limit=args.worker_limit,
        visibility_seconds=args.visibility_seconds,
        landing=args.landing,
        results=args.results,
    )


def _quiet_http_logs() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call otherwise


def run_up(args: argparse.Namespace) -> int:
    _quiet_http_logs()
    try:
        info = up(settings_from(args))
    except (StackError, ValueError) as exc:
        print(f"chartcoder up: {exc}", file=sys.stderr)
        print("(`chartcoder down` stops the parts that did start)", file=sys.stderr)
        return 1
    print(json.dumps(info), flush=True)
    return 0


def run_down(args: argparse.Namespace) -> int:
    stopped = stop(stack_dir(args.state_dir), args.timeout)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running", file=sys.stderr)
    return 0


def run_status(args: argparse.Namespace) -> int:
    _quiet_http_logs()
    report = status(stack_dir(args.state_dir))
    if args.json:
        print(json.dumps([asdict(r) for r in report]))
    else:
        for r in report:
            print(
                f"{r.name:8s} {'running' if r.running else 'stopped':8s} "
                f"pid {r.pid or '-':<8} port {r.port or '-':<6} "
                f"{'healthy' if r.healthy else 'not healthy'}"
            )
    return 0 if all(r.running and r.healthy for r in report) else 3


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "up": run_up,
    "down": run_down,
    "status": run_status,
}
