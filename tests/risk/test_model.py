"""RiskModel's scores are hccinfhir's `calculate_raf` scores, for every kind of member."""

from __future__ import annotations

import pytest
from hccinfhir import calculate_raf

from risk.model import Demographics, RiskModel, dotted

CODE_SETS = [
    [],
    ["E11.22", "N18.31", "I50.23", "E11.9", "I11.0"],  # hierarchy, interactions
    ["I50.9", "E11.65", "J44.9", "F20.9", "F11.20", "F10.20"],
    ["C34.90", "C78.00", "I48.91", "G30.9", "F03.90", "L89.154"],
    ["Z99.2", "N18.6", "E10.9", "Z89.511", "B20", "D61.818"],
    ["O24.419", "P07.30", "Q90.9", "F50.00"],  # age/sex edits
    ["I50.810"],
]
MEMBERS = [
    Demographics(72, "F"),
    Demographics(80, "M", "01"),  # full dual
    Demographics(66, "F", "03", "1"),  # partial dual, originally disabled
    Demographics(55, "M", "00", "1"),  # disabled
    Demographics(85, "F", "00", "0", True),  # institutional
    Demographics(19, "F", "02", "1"),
]


@pytest.mark.parametrize("demographics", MEMBERS, ids=str)
def test_scores_equal_calculate_raf(model: RiskModel, demographics: Demographics) -> None:
    for codes in CODE_SETS:
        expected = calculate_raf(
            [c.replace(".", "") for c in codes],
            model_name="CMS-HCC Model V28",
            age=demographics.age,
            sex=demographics.sex,
            dual_elgbl_cd=demographics.dual_status,
            orec=demographics.orec,
            lti=demographics.institutional,
        )
        score = model.score(codes, demographics)
        assert score.raf == pytest.approx(expected.risk_score, abs=1e-9), codes
        assert score.hccs == frozenset(expected.hcc_list), codes
        assert score.coefficients == pytest.approx(expected.coefficients), codes
        assert score.categories == {
            cc: frozenset(dotted(dx) for dx in dxs) for cc, dxs in expected.cc_to_dx.items()
        }
