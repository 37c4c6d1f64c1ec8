"""The bridge's command: `chartcoder bridge ...` (and `python -m bridge ...`, which the local stack
starts), its flags and the body that runs the service until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from bridge.config import BridgeConfig, ConfigError, S3Url
from bridge.emitter import EmitError
from bridge.service import Bridge

log = logging.getLogger(__name__)

HELP = "turn S3 notifications (read from SQS) into Prefect batch events"


def _s3_location(value: str) -> str:
    try:
        S3Url.parse(value)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return value


def _seconds(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number of seconds")
    return number


def add_bridge_parser(sub: Any) -> None:
    """`bridge` as a subcommand of `sub` (the `chartcoder` command line)."""
    add_bridge_arguments(sub.add_parser("bridge", help=HELP))


def add_bridge_arguments(bridge: argparse.ArgumentParser) -> None:
    bridge.add_argument("--queue-url", required=True, help="SQS queue the landing bucket notifies")
    bridge.add_argument(
        "--landing", required=True, type=_s3_location, help="s3://bucket/prefix charts land in"
    )
    bridge.add_argument(
        "--results", required=True, type=_s3_location, help="s3://bucket/prefix for results"
    )
    bridge.add_argument("--dead-letter-queue-url", help="SQS queue for malformed messages")
    bridge.add_argument(
        "--quiet-seconds", type=_seconds, default=20.0, help="batch after this quiet (default 20)"
    )
    bridge.add_argument("--marker", default="_READY", help="object name that readies a batch")
    bridge.add_argument("--state-dir", type=Path, help="state folder (default: user state dir)")
    bridge.add_argument("--endpoint-url", help="S3/SQS endpoint (default: AWS)")
    bridge.add_argument("--region", help="AWS region (default: the AWS configuration)")
    bridge.add_argument("--visibility-timeout", type=int, help="seconds held messages stay hidden")
    bridge.add_argument("--poll-seconds", type=int, help="longest SQS long poll (0-20)")
    bridge.add_argument("--prefect-api-url", help="default: the PREFECT_API_URL setting")


def run_bridge(args: argparse.Namespace) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per POST otherwise
    logging.getLogger("botocore").setLevel(logging.WARNING)
    options = {
        "queue_url": args.queue_url,
        "landing": args.landing,
        "results": args.results,
        "dead_letter_queue_url": args.dead_letter_queue_url,
        "quiet_seconds": args.quiet_seconds,
        "marker": args.marker,
        "state_dir": args.state_dir,
        "endpoint_url": args.endpoint_url,
        "region": args.region,
        "visibility_timeout": args.visibility_timeout,
        "poll_wait_seconds": args.poll_seconds,
        "prefect_api_url": args.prefect_api_url,
    }
    try:
        config = BridgeConfig(**{k: v for k, v in options.items() if v is not None})
        bridge = Bridge(config)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    try:
        bridge.run_forever()
    except EmitError as exc:
        log.error("%s", exc)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m bridge [flags of chartcoder bridge]`."""
    parser = argparse.ArgumentParser(prog="python -m bridge", description=HELP)
    add_bridge_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return run_bridge(args)
