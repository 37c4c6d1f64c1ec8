"""`Recoder`: codes re-read once the whole chart is known (F03 -> F02, fracture -> M80)."""

from __future__ import annotations

import pytest

from nlp.codeset import CodeSet
from nlp.recoding import Recoder
from nlp.records import Note

FALL = "Tripped on a rug and fell from standing height."


@pytest.fixture(scope="module")
def recoder(codeset: CodeSet) -> Recoder:
    return Recoder.load(codeset)


def recode(recoder: Recoder, codes: dict[str, float], text: str = FALL):
    kept: dict[str, list[Note]] = {code: [] for code in codes}
    score_of = dict(codes)
    support: dict[str, list] = {code: [code] for code in codes}
    recoder.recode_manifestations(kept, score_of, support)
    recoder.recode_fractures(kept, score_of, support, text)
    return kept, score_of, support


def test_dementia_beside_alzheimers_is_dementia_in_other_diseases(recoder: Recoder) -> None:
    kept, score_of, support = recode(recoder, {"G30.1": 0.9, "F03.B0": 0.8})
    assert set(kept) == {"G30.1", "F02.B0"}
    assert score_of["F02.B0"] == 0.8
    assert support["F02.B0"] == ["F03.B0"]
    assert [n.kind for n in kept["F02.B0"]] == ["recoded"]


def test_unspecified_dementia_severity_characters_carry_over(recoder: Recoder) -> None:
    kept, _, _ = recode(recoder, {"G20.A1": 0.9, "F03.90": 0.8})
    assert set(kept) == {"G20.A1", "F02.80"}


def test_dementia_alone_stays_unspecified(recoder: Recoder) -> None:
    kept, _, _ = recode(recoder, {"F03.90": 0.8, "I10": 0.9})
    assert set(kept) == {"F03.90", "I10"}


def test_fragility_fracture_in_osteoporosis_is_pathological(recoder: Recoder) -> None:
    kept, _, _ = recode(recoder, {"S72.012A": 0.8, "M81.0": 0.9, "I10": 0.9})
    assert set(kept) == {"M80.052A", "I10"}


@pytest.mark.parametrize(
    ("fracture", "pathological"),
    [
        ("S52.501A", "M80.031A"),  # distal radius, right
        ("S32.010A", "M80.08XA"),  # lumbar vertebra: no side
        ("S42.202D", "M80.022D"),  # humerus, left, subsequent encounter
        ("S72.009A", "M80.059A"),  # femoral neck, side unspecified
    ],
)
def test_site_side_and_encounter_carry_over(
    recoder: Recoder, fracture: str, pathological: str
) -> None:
    kept, _, _ = recode(recoder, {fracture: 0.8, "M81.0": 0.9})
    assert set(kept) == {pathological}


def test_trauma_that_breaks_healthy_bone_stays_traumatic(recoder: Recoder) -> None:
    text = "Left femoral neck fracture after an MVC at highway speed."
    kept, _, _ = recode(recoder, {"S72.012A": 0.8, "M81.0": 0.9}, text)
    assert set(kept) == {"S72.012A", "M81.0"}


def test_fracture_without_osteoporosis_stays_traumatic(recoder: Recoder) -> None:
    kept, _, _ = recode(recoder, {"S72.012A": 0.8})
    assert set(kept) == {"S72.012A"}
