"""What the commands share: their argument types, the coding options, and the usage error.

A `UsageError` ends the command with `chartcoder: error: ...` on stderr and exit status 2, as
argparse does for a bad flag.
"""

from __future__ import annotations

import argparse

from nlp.conventions import CONVENTIONS


class UsageError(Exception):
    pass


def probability(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not a probability between 0 and 1")
    return number


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return number


def add_coding_options(command: argparse.ArgumentParser) -> None:
    """`--inpatient` and `--convention` (`nlp.conventions`): how `code` and `run` code charts."""
    command.add_argument(
        "--inpatient",
        action="store_true",
        help="code uncertain diagnoses as established (inpatient guideline); a chart's own "
        "setting (a record's 'setting', an inpatient/ or outpatient/ folder) wins",
    )
    add_convention(
        command,
        "coding convention: us (ICD-10-CM guidelines, default) or codiesp (the benchmark's)",
    )


def service_year(value: str) -> int:
    number = int(value)
    if not 1900 <= number <= 2100:
        raise argparse.ArgumentTypeError(f"{value} is not a year")
    return number


def add_service_year(command: argparse.ArgumentParser) -> None:
    """`--service-year` (`risk.charts.in_service_year`): the dates of service that count."""
    command.add_argument(
        "--service-year",
        type=service_year,
        metavar="YEAR",
        help="risk adjustment counts only diagnoses of this year's dates of service, on charts "
        "(a code whose evidence is all dated in other years is listed in codes_out_of_year) "
        "and on claims (by service_date); undated ones count (default: every date)",
    )


def add_convention(command: argparse.ArgumentParser, help: str) -> None:
    command.add_argument("--convention", choices=CONVENTIONS, default="us", help=help)
