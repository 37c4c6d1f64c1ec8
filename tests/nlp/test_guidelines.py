"""`Guidelines.apply`: what a chart's kept codes become under the ICD-10-CM Official Guidelines."""

from __future__ import annotations

from bisect import bisect_right

import pytest

from nlp.codeset import CodeSet, in_range
from nlp.coding_rules import CodedMention
from nlp.guidelines import Guidelines, TextFinding
from nlp.linking import Mention

LINE = 100  # codes on lines of their own: code i is mentioned at [100 i, 100 i + 10)


@pytest.fixture(scope="module")
def guidelines(codeset: CodeSet) -> Guidelines:
    return Guidelines.load(codeset)


@pytest.fixture(scope="module")
def asks_for(codeset: CodeSet):
    """Whether a code's use-additional or code-first notes name another (as the coder asks)."""

    def asks(code: str, other: str) -> bool:
        info = codeset[code]
        return in_range(other, info.use_additional) or in_range(other, info.code_first)

    return asks


def never(code: str, other: str) -> bool:
    return False


def coded(code: str, start: int, end: int, n_groups: int = 1, sentence: int = 0) -> CodedMention:
    mention = Mention(
        code=code,
        term_id=0,
        source="index",
        start=start,
        end=end,
        sentence=sentence,
        section="assessment",
        section_context=None,
        n_groups=n_groups,
        span_words=n_groups,
        optional_hits=0,
        abbreviation=False,
        corrected=False,
        resolution="billable",
    )
    return CodedMention(code, "present", mention)


def own_lines(*codes: str) -> dict[str, tuple[int, int]]:
    return {code: (LINE * i, LINE * i + 10) for i, code in enumerate(codes)}


def run(
    guidelines: Guidelines,
    spans: dict[str, tuple[int, int]],
    *,
    scores: dict[str, float] | None = None,
    unspecified: tuple[str, ...] = (),
    candidates: dict[str, tuple[bool, int, bool]] | None = None,
    findings: tuple[TextFinding, ...] = (),
    line_starts: list[int] | None = None,
    asks_for=never,
):
    """Applies the guidelines to codes kept with one mention each (score 0.5 unless given),
    one sentence a line; returns the kept codes as {code: [(note kind, note codes)]}, and
    score_of and support."""
    score_of = {code: 0.5 for code in spans} | (scores or {})
    lines = line_starts if line_starts is not None else [LINE * i for i in range(10)]
    support: dict[str, list] = {
        code: [coded(code, *span, sentence=bisect_right(lines, span[0]) - 1)]
        for code, span in spans.items()
    }
    specificity = {code: (code not in unspecified, 1, True) for code in spans}
    specificity |= candidates or {}
    kept = guidelines.apply(
        {code: [] for code in spans},
        score_of,
        support,
        list(findings),
        specificity,
        asks_for,
    )
    notes = {code: [(note.kind, note.codes) for note in kept[code]] for code in kept}
    return notes, score_of, support


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (("I10", "N18.31"), {"N18.31": [], "I12.9": [("combination", ("I10",))]}),
        (("I10", "I50.22"), {"I50.22": [], "I11.0": [("combination", ("I10",))]}),
        (
            ("I10", "I50.22", "N18.31"),
            {"I50.22": [], "N18.31": [], "I13.0": [("combination", ("I10",))]},
        ),
        (("E11.9", "N18.31"), {"N18.31": [], "E11.22": [("combination", ("E11.9",))]}),
    ],
    ids=["I12.9", "I11.0", "I13.0", "E11.22"],
)
def test_combination_code_replaces_its_parts(guidelines, asks_for, codes, expected):
    notes, _, _ = run(guidelines, own_lines(*codes), asks_for=asks_for)
    assert notes == expected


def test_combination_takes_the_weakest_score_and_every_member_evidence(guidelines):
    _, score_of, support = run(guidelines, own_lines("I10", "N18.31"), scores={"I10": 0.9})
    assert score_of["I12.9"] == 0.5
    assert [item.code for item in support["I12.9"]] == ["I10", "N18.31"]


def test_the_specific_code_of_a_condition_stays(guidelines):
    notes, _, _ = run(guidelines, own_lines("I48.91", "I48.0"), unspecified=("I48.91",))
    assert notes == {"I48.0": [("one-code", ("I48.91",))]}


def test_one_stemi_code_per_infarction(guidelines):
    # "inferior STEMI due to proximal RCA occlusion": the artery's code, not a second wall code
    notes, _, _ = run(guidelines, own_lines("I21.19", "I21.11"), unspecified=("I21.19",))
    assert list(notes) == ["I21.11"]


def test_an_ulcer_read_as_of_an_artery_gives_way_to_the_skin_ulcer(guidelines):
    notes, _, _ = run(guidelines, own_lines("I77.2", "L97.312"))
    assert list(notes) == ["L97.312"]


def test_better_documented_candidate_replaces_the_unspecified_code(guidelines):
    notes, score_of, _ = run(
        guidelines,
        own_lines("I50.9"),
        scores={"I50.9": 0.6, "I50.22": 0.2},
        unspecified=("I50.9",),
        candidates={"I50.22": (True, 3, True)},
    )
    assert notes == {"I50.22": [("one-code", ("I50.9",))]}
    assert score_of["I50.22"] == 0.6  # the kept code's score, not the candidate's


def test_non_billable_candidate_does_not_replace_the_unspecified_code(guidelines):
    notes, _, _ = run(
        guidelines,
        own_lines("I50.9"),
        scores={"I50.2": 0.2},
        unspecified=("I50.9",),
        candidates={"I50.2": (True, 3, False)},
    )
    assert notes == {"I50.9": []}


@pytest.mark.parametrize(("diagnosis", "symptom"), [("A41.9", "R50.9"), ("J18.9", "R05.9")])
def test_symptom_integral_to_a_diagnosis_is_dropped(guidelines, diagnosis, symptom):
    notes, _, _ = run(guidelines, own_lines(diagnosis, symptom))
    assert notes == {diagnosis: [("integral", (symptom,))]}


@pytest.mark.parametrize("codes", [("R07.89",), ("I10", "R07.89")], ids=["alone", "unrelated"])
def test_symptom_without_a_related_diagnosis_stays(guidelines, codes):
    notes, _, _ = run(guidelines, own_lines(*codes))
    assert notes == {code: [] for code in codes}


def statement(text: str, phrases: dict[str, str]) -> tuple[dict[str, tuple[int, int]], list[int]]:
    """Spans of each code's phrase in `text`, and the text's line starts."""
    spans = {code: (text.index(p), text.index(p) + len(p)) for code, p in phrases.items()}
    return spans, [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]


def test_symptom_in_a_diagnosis_statement_is_dropped(guidelines):
    spans, lines = statement(
        "Hypertension with dizziness\nFollow up", {"I10": "Hypertension", "R42": "dizziness"}
    )
    notes, _, _ = run(guidelines, spans, line_starts=lines)
    assert notes == {"I10": [("integral", ("R42",))]}


def test_symptom_in_a_sentence_of_its_own_stays(guidelines):
    spans, lines = statement("Hypertension\nDizziness", {"I10": "Hypertension", "R42": "Dizziness"})
    notes, _, _ = run(guidelines, spans, line_starts=lines)
    assert notes == {"I10": [], "R42": []}


NEUTROPENIC_FEVER = (
    "Neutropenia due to chemotherapy with fever\nFollow up",
    {"D70.1": "Neutropenia due to chemotherapy", "R50.81": "fever"},
)


def test_symptom_the_diagnosis_asks_for_stays_in_its_line(guidelines, asks_for):
    assert asks_for("D70.1", "R50.81")  # D70.1: use additional code for fever (R50.81)
    spans, lines = statement(*NEUTROPENIC_FEVER)
    notes, _, _ = run(guidelines, spans, line_starts=lines, asks_for=asks_for)
    assert notes == {"D70.1": [], "R50.81": []}


def test_symptom_no_code_asks_for_is_dropped_from_its_line(guidelines):
    spans, lines = statement(*NEUTROPENIC_FEVER)
    notes, _, _ = run(guidelines, spans, line_starts=lines)
    assert notes == {"D70.1": [("integral", ("R50.81",))]}


INSULIN = TextFinding("Z79.4", 200, 207, "medications", 2)


def test_insulin_is_reported_with_diabetes(guidelines):
    notes, score_of, support = run(
        guidelines, own_lines("E11.9"), scores={"E11.9": 0.7}, findings=(INSULIN,)
    )
    assert notes == {"E11.9": [], "Z79.4": [("guideline", ("E11.9",))]}
    assert score_of["Z79.4"] == 0.7
    assert support["Z79.4"] == [INSULIN]


def test_insulin_is_not_reported_without_diabetes(guidelines):
    notes, _, _ = run(guidelines, own_lines("I10"), findings=(INSULIN,))
    assert notes == {"I10": []}


def test_anticoagulant_is_reported_with_its_indication(guidelines):
    warfarin = TextFinding("Z79.01", 200, 208, "medications", 2)
    notes, _, _ = run(guidelines, own_lines("I48.91"), findings=(warfarin,))
    assert notes == {"I48.91": [], "Z79.01": [("guideline", ("I48.91",))]}


def test_anticoagulant_without_an_indication_is_not_reported(guidelines):
    # enoxaparin for prophylaxis, or a course that ended: no long-term anticoagulation
    warfarin = TextFinding("Z79.01", 200, 208, "medications", 2)
    notes, _, _ = run(guidelines, own_lines("I10"), findings=(warfarin,))
    assert notes == {"I10": []}


def bmi(code: str, section: str, start: int = 300) -> TextFinding:
    return TextFinding(code, start, start + 8, section, 3)


def test_bmi_is_reported_with_obesity(guidelines):
    notes, _, _ = run(guidelines, own_lines("E66.01"), findings=(bmi("Z68.41", "vital_signs"),))
    assert notes == {"E66.01": [], "Z68.41": [("guideline", ("E66.01",))]}


def test_bmi_is_not_reported_without_a_weight_diagnosis(guidelines):
    notes, _, _ = run(guidelines, own_lines("I10"), findings=(bmi("Z68.41", "vital_signs"),))
    assert notes == {"I10": []}


def test_bmi_of_the_vital_signs_wins_over_a_later_one_in_the_history(guidelines):
    findings = (bmi("Z68.41", "vital_signs"), bmi("Z68.35", "history_of_present_illness", 400))
    notes, _, _ = run(guidelines, own_lines("E66.01"), findings=findings)
    assert notes == {"E66.01": [], "Z68.41": [("guideline", ("E66.01",))]}


def test_weeks_of_gestation_are_reported_with_a_pregnancy_code(guidelines):
    weeks = TextFinding("Z3A.24", 20, 25, "history_of_present_illness", 0)
    notes, _, _ = run(guidelines, own_lines("O24.410"), findings=(weeks,))
    assert notes == {"O24.410": [], "Z3A.24": [("guideline", ("O24.410",))]}
    notes, _, _ = run(guidelines, own_lines("E11.9"), findings=(weeks,))
    assert notes == {"E11.9": []}


def mention_of(code: str, text: str, phrase: str) -> Mention:
    start = text.index(phrase)
    return coded(code, start, start + len(phrase)).mention


@pytest.mark.parametrize(("setting", "expected"), [("outpatient", True), ("inpatient", False)])
def test_a_condition_stated_resolved_is_not_current_in_an_outpatient_note(
    guidelines, setting, expected
):
    text = "6. Hypertension - resolved after weight loss; off meds."
    assert (
        guidelines.not_current(text, mention_of("I10", text, "Hypertension"), setting) is expected
    )


def test_a_history_code_stated_resolved_stays(guidelines):
    text = "History of kidney stones - resolved, no recurrence."
    found = mention_of("Z87.442", text, "kidney stones")
    assert not guidelines.not_current(text, found, "outpatient")


def test_the_stroke_behind_a_sequela_is_not_current(guidelines):
    text = "1. Right hemiparesis with spasticity as a sequela of left MCA ischemic stroke."
    assert guidelines.not_current(text, mention_of("I63.9", text, "ischemic stroke"), "outpatient")
    assert guidelines.not_current(text, mention_of("G81.91", text, "hemiparesis"), "outpatient")
    acute = "1. Acute ischemic stroke, left MCA."
    assert not guidelines.not_current(
        acute, mention_of("I63.9", acute, "ischemic stroke"), "inpatient"
    )


def test_hyponatremia_gives_way_to_siadh(guidelines):
    assert guidelines.yields("E87.1", "E22.2")
    assert not guidelines.yields("E22.2", "E87.1")
    assert guidelines.yields("E09.9", "E11.65")  # a stated type 2 diabetes


@pytest.mark.parametrize(
    ("code", "admitted"), [("B99.9", False), ("T14.90XA", False), ("N39.0", True)]
)
def test_an_infection_or_injury_with_neither_site_nor_organism_is_a_query(
    guidelines, code, admitted
):
    text = "Assessment: infection"
    assert guidelines.admits(mention_of(code, text, "infection"), None, []) is admitted
