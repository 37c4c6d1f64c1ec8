"""`Guidelines` on chart text (drug and BMI findings, words that state no diagnosis, the sections
coded) and the validation of `us_guidelines.json` on load."""

from __future__ import annotations

import json

import pytest

from nlp.codeset import CodeSet
from nlp.guidelines import GUIDELINES_FILE, Guidelines, TextFinding
from nlp.rule_files import ResourceError, read_text
from nlp.sections import Section


@pytest.fixture(scope="module")
def guidelines(codeset: CodeSet) -> Guidelines:
    return Guidelines.load(codeset)


@pytest.mark.parametrize(
    ("value", "code"), [(35.3, "Z68.35"), (18.1, "Z68.1"), (42.3, "Z68.41"), (72, "Z68.45")]
)
def test_bmi_code_is_the_adult_band_of_the_value(guidelines, value, code):
    assert guidelines.bmi_code(value) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("29 y/o G2P1001 at 24w3d by 8-week US. GTT at 16 wks. Growth US at 32 wks.", "Z3A.24"),
        ("Pregnancy at 31 weeks gestation with gestational hypertension.", "Z3A.31"),
        ("G1P0 at 36 weeks 2 days, mild preeclampsia.", "Z3A.36"),
        ("EGA: 6 weeks by LMP.", "Z3A.01"),
        ("IUP at 43 weeks, post-term.", "Z3A.49"),
        ("Migraine for 2 weeks. Seen at 32 wks clinic.", None),
    ],
)
def test_weeks_of_gestation_are_the_first_stated_gestational_age(guidelines, text, code):
    found = [
        f.code
        for f in guidelines.text_findings(text, [Section(0, "assessment", None)], [0])
        if f.code.startswith("Z3A")
    ]
    assert found == ([code] if code else [])


def medications(guidelines: Guidelines, text: str) -> list[TextFinding]:
    return guidelines.text_findings(text, [Section(0, "medications", None)], [0])


def test_oral_hypoglycemic_gives_z79_84(guidelines):
    found = medications(guidelines, "metformin 1000 mg BID")
    assert found == [TextFinding("Z79.84", 0, 9, "medications", 0)]


@pytest.mark.parametrize(
    "text",
    ["insulin sliding scale", "Insulin drip", "no insulin", "Semaglutide was stopped"],
    ids=["sliding-scale", "drip", "negated", "stopped"],
)
def test_short_term_or_negated_drug_gives_nothing(guidelines, text):
    assert medications(guidelines, text) == []


def test_drug_in_the_allergies_gives_nothing(guidelines):
    text = "Allergies: metformin\nMedications: metformin 500 mg"
    meds = text.index("Medications")
    found = guidelines.text_findings(
        text, [Section(0, "allergies", "excluded"), Section(meds, "medications", None)], [0]
    )
    start = text.index("metformin", meds)
    assert found == [TextFinding("Z79.84", start, start + 9, "medications", 0)]


def test_finding_carries_its_sentence(guidelines):
    text = "Type 2 diabetes. Takes Lantus nightly."
    found = guidelines.text_findings(text, [Section(0, "assessment", None)], [0, 17])
    assert found == [TextFinding("Z79.4", 23, 29, "assessment", 1)]


def test_bmi_value_gives_its_z68_code(guidelines):
    found = guidelines.text_findings("BMI: 42.3 kg/m2", [Section(0, "vital_signs", None)], [0])
    assert found == [TextFinding("Z68.41", 0, 9, "vital_signs", 0)]


@pytest.mark.parametrize(
    "text", ["Metformin 1000 mg\nNo insulin", "metformin 500 mg BID, no change"]
)
def test_negation_after_the_drug_clause_does_not_negate_the_drug(guidelines, text):
    assert [f.code for f in medications(guidelines, text)] == ["Z79.84"]


def test_bmi_of_three_digits_is_the_top_band(guidelines):
    found = guidelines.text_findings("BMI 105", [Section(0, "vital_signs", None)], [0])
    assert [f.code for f in found] == ["Z68.45"]


def covered(
    guidelines: Guidelines,
    text: str,
    phrase: str,
    headers: tuple[int, ...] = (),
    codable: frozenset[str] | None = None,
) -> bool:
    """Whether a mention of `phrase` would be refused (as `Guidelines.admits` tests spans), in a
    chart read whole (`codable` None) or one with diagnostic sections."""
    start = text.index(phrase)
    end = start + len(phrase)
    spans = guidelines.not_diagnosis_spans(text, headers, codable)
    return any(start in span and end - 1 in span for span in spans)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("SpO2 97% RA", "RA"),
        ("Sat 95% on RA", "RA"),
        ("GLP-1 RA weekly", "RA"),
        ("MS Contin 15 mg BID", "MS Contin"),
        ("Stress test negative", "Stress test"),
        ("Nuclear stress test scheduled", "stress"),
        ("ESTIMATED BLOOD LOSS: 50 mL", "BLOOD LOSS"),
        ("EBL 200 mL", "EBL"),
        ("Patient may need surgery", "may"),
        ("Follow up with her PCP in 2 weeks", "PCP"),
        ("PCP to recheck A1c in 1 year", "PCP"),
        ("Minimal bleeding was encountered", "bleeding"),
        ("Bleeding was controlled with electrocautery", "Bleeding"),
        ("Pupils reactive, preserved oculocephalic and corneal reflexes", "reflexes"),
        ("Fracture of left fifth metatarsal, initial encounter", "encounter"),
        ("Contusion of left knee, subsequent encounter", "encounter"),
    ],
)
def test_words_that_state_no_diagnosis_are_covered(guidelines, text, phrase):
    assert covered(guidelines, text, phrase)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("rheumatoid arthritis (RA)", "RA"),
        ("History of RA on methotrexate", "RA"),
        ("May-Hegglin anomaly", "May"),
        ("Acute blood loss anemia", "blood loss"),
        ("Urine drug screen positive for PCP", "PCP"),
        ("Gastrointestinal bleeding requiring transfusion", "bleeding"),
    ],
)
def test_diagnoses_that_look_like_those_words_are_not_covered(guidelines, text, phrase):
    assert not covered(guidelines, text, phrase)


def test_not_diagnosis_spans_are_exact(guidelines):
    # "% RA" (room air after a percentage), then the whole saturation phrase
    assert guidelines.not_diagnosis_spans("SpO2 97% RA", [], None) == [
        range(7, 11),
        range(0, 11),
    ]


def test_section_header_is_covered_and_its_text_is_not(guidelines):
    text = "HISTORY OF PRESENT ILLNESS: chest pain\nAssessment: angina"
    headers = (0, text.index("Assessment"))
    assert covered(guidelines, text, "HISTORY OF PRESENT ILLNESS", headers)
    assert covered(guidelines, text, "Assessment", headers)
    assert not covered(guidelines, text, "chest pain", headers)
    assert not covered(guidelines, text, "angina", headers)


def test_capitalised_diagnosis_heading_a_problem_line_is_not_covered(guidelines):
    text = "ATRIAL FIBRILLATION: rate controlled on metoprolol"
    assert not covered(guidelines, text, "ATRIAL FIBRILLATION", codable=frozenset({"assessment"}))


def test_capitalised_form_label_is_covered_in_a_chart_read_whole(guidelines):
    text = "ESTIMATED TOTAL LOSS: minimal"
    assert covered(guidelines, text, "TOTAL LOSS")
    assert not covered(guidelines, text, "TOTAL LOSS", codable=frozenset({"assessment"}))


def test_ra_after_a_saturation_sentence_is_not_covered(guidelines):
    assert not covered(guidelines, "SpO2 98%. RA flare improving", "RA")


@pytest.mark.parametrize(
    ("sections", "codable"),
    [
        (
            ["history_of_present_illness", "hospital_course", "assessment_and_plan"],
            frozenset({"assessment_and_plan"}),
        ),
        (["history_of_present_illness", "hospital_course"], frozenset({"hospital_course"})),
        (["history_of_present_illness", "physical_examination"], None),
    ],
    ids=["first-tier", "second-tier", "neither"],
)
def test_codable_sections_are_those_of_the_first_tier_present(guidelines, sections, codable):
    assert guidelines.codable_sections(sections) == codable


@pytest.fixture
def data() -> dict:
    return json.loads(read_text(GUIDELINES_FILE))


def test_shipped_file_loads(data, codeset):
    assert Guidelines.from_dict(data, codeset) == Guidelines.load(codeset)


def test_combination_adding_a_category_is_refused(data, codeset):
    data["combinations"]["rules"][0]["add"] = "I13"
    with pytest.raises(ResourceError, match=r"I13 is not a billable FY2026 code"):
        Guidelines.from_dict(data, codeset)


def test_drug_code_that_is_not_billable_is_refused(data, codeset):
    data["long_term_drugs"]["drugs"][0]["code"] = "Z79"
    with pytest.raises(ResourceError, match=r"Z79 is not a billable FY2026 code"):
        Guidelines.from_dict(data, codeset)


def fever_family(diagnoses: list[str], symptoms: list[str]) -> dict:
    return {"name": "fever", "diagnoses": diagnoses, "symptoms": symptoms}


def test_symptom_that_is_a_diagnosis_of_its_family_is_refused(data, codeset):
    data["integral_symptoms"]["families"].append(fever_family(["R50"], ["R50.9"]))
    with pytest.raises(ResourceError, match=r"\['R509'\] are both symptom and diagnosis"):
        Guidelines.from_dict(data, codeset)


def test_diagnosis_under_a_symptom_prefix_of_its_family_is_refused(data, codeset):
    data["integral_symptoms"]["families"].append(fever_family(["R50.9"], ["R50"]))
    with pytest.raises(ResourceError, match=r"both symptom and diagnosis"):
        Guidelines.from_dict(data, codeset)


def test_malformed_pattern_is_refused(data, codeset):
    data["not_diagnoses"]["patterns"].append("(unclosed")
    with pytest.raises(ResourceError, match=r"us_guidelines\.json: bad pattern"):
        Guidelines.from_dict(data, codeset)


def test_missing_section_is_refused(data, codeset):
    del data["bmi"]
    with pytest.raises(ResourceError, match=r"missing or malformed entry 'bmi'"):
        Guidelines.from_dict(data, codeset)
