"""Encounters and dates of service (nlp/encounters.py, rules in resources/encounters.json)."""

from __future__ import annotations

import json

import pytest

from nlp.encounter_rules import EncounterRules
from nlp.encounters import Encounter, chart_layout
from nlp.rule_files import ResourceError, read_text

THREE_VISITS = (
    "Patient: Jane Doe   DOB: 01/02/1950\n"
    "OFFICE VISIT\n"
    "Date of Service: 02/10/2026\n"
    "Provider: A. Smith, MD\n"
    "Assessment: Essential hypertension.\n"
    "Plan: continue lisinopril.\n"
    "Electronically signed by A. Smith, MD on 02/11/2026\n"
    "\f"
    "Patient: Jane Doe   DOB: 01/02/1950\n"
    "PROGRESS NOTE\n"
    "DOS: 3/15/26\n"
    "Assessment: Type 2 diabetes mellitus.\n"
    "\f"
    "A1c 7.4%. Continue metformin.\n"
    "Signed by: A. Smith, MD 03/15/2026\n"
    "\n"
    "DISCHARGE SUMMARY\n"
    "Admission Date: April 2, 2026\n"
    "Discharge Date: 04/06/2026\n"
    "Hospital course: community acquired pneumonia, treated.\n"
)


def dates(text: str) -> list[str | None]:
    return [e.date_of_service for e in chart_layout(text).encounters]


def test_a_chart_splits_into_its_signed_notes_with_their_dates_and_pages():
    layout = chart_layout(THREE_VISITS)
    assert [e.to_dict() | {"start": None, "end": None} for e in layout.encounters] == [
        {
            "date_of_service": "2026-02-10",
            "first_page": 1,
            "last_page": 1,
            "note_type": "progress_note",
            "start": None,
            "end": None,
        },
        {
            "date_of_service": "2026-03-15",
            "first_page": 2,
            "last_page": 3,
            "note_type": "progress_note",
            "start": None,
            "end": None,
        },
        {
            "date_of_service": "2026-04-06",  # a stay counts by its discharge date
            "first_page": 3,
            "last_page": 3,
            "note_type": "discharge_summary",
            "start": None,
            "end": None,
        },
    ]
    first, second, third = layout.encounters
    # each note starts at its header block (the patient line), and together they cover the text
    assert THREE_VISITS[second.start :].startswith("Patient: Jane Doe")
    assert THREE_VISITS[third.start :].startswith("DISCHARGE SUMMARY")
    assert (first.start, first.end, second.end, third.end) == (
        0,
        second.start,
        third.start,
        len(THREE_VISITS),
    )


def test_any_offset_gives_its_page_and_date_of_service():
    layout = chart_layout(THREE_VISITS)
    assert layout.pages == 3
    assert layout.locate(THREE_VISITS.index("Essential hypertension")) == (1, "2026-02-10")
    assert layout.locate(THREE_VISITS.index("Type 2 diabetes")) == (2, "2026-03-15")
    assert layout.locate(THREE_VISITS.index("metformin")) == (3, "2026-03-15")
    assert layout.locate(THREE_VISITS.index("pneumonia")) == (3, "2026-04-06")
    first_break = THREE_VISITS.index("\f")
    assert layout.page_at(first_break) == 1 and layout.page_at(first_break + 1) == 2


def test_a_chart_without_marks_is_one_undated_encounter_on_page_one():
    text = "HTN, stable.\nContinue lisinopril."
    layout = chart_layout(text)
    assert layout.encounters == (Encounter(None, 1, 1, None, 0, len(text)),)
    assert layout.locate(5) == (1, None)
    assert chart_layout("").encounters == (Encounter(None, 1, 1, None, 0, 0),)


def test_unsigned_notes_split_on_a_new_date_of_service():
    text = (
        "Date of Service: 01/05/2026\nHypertension.\nBP 150/90.\nStart amlodipine.\n"
        "Date of Service: 01/19/2026\nHypertension improving.\n"
        "DOS 2026-02-02\nFollow-up.\n"
    )
    assert dates(text) == ["2026-01-05", "2026-01-19", "2026-02-02"]


def test_a_repeated_page_header_with_the_same_date_is_one_encounter():
    text = (
        "PROGRESS NOTE\nDate of Service: 02/10/2026\nHPI: cough.\nExam: clear.\nMore.\n\f"
        "PROGRESS NOTE (continued)\nDate of Service: 02/10/2026\nAssessment: acute bronchitis.\n"
    )
    (encounter,) = chart_layout(text).encounters
    assert (encounter.first_page, encounter.last_page) == (1, 2)
    assert encounter.date_of_service == "2026-02-10"


def test_a_titled_note_without_a_date_of_service_takes_its_signature_date():
    text = "CONSULTATION\nReason: chest pain.\nElectronically signed by B. Lee, MD on Jan 7, 2026"
    (encounter,) = chart_layout(text).encounters
    assert (encounter.note_type, encounter.date_of_service) == ("consultation", "2026-01-07")


def test_admission_then_discharge_dates_are_one_stay_even_after_body_text():
    text = (
        "HISTORY AND PHYSICAL\nAdmission Date: 05/01/2026\nHPI: fever.\nExam: crackles.\n"
        "Labs: WBC 15.\nDischarge Date: 05/04/2026\n"
    )
    (stay,) = chart_layout(text).encounters
    assert (stay.note_type, stay.date_of_service) == ("history_and_physical", "2026-05-04")


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("02/10/2026", "2026-02-10"),  # US order: month first
        ("2/1/26", "2026-02-01"),
        ("12-31-1999", "1999-12-31"),
        ("2026-02-10", "2026-02-10"),
        ("February 10, 2026", "2026-02-10"),
        ("Sept. 3rd, 2025", "2025-09-03"),
        ("10 Feb 2026", "2026-02-10"),
        ("13/02/2026", None),  # no 13th month: day-first dates are not read
        ("02/30/2026", None),
    ],
)
def test_dates_read_month_first(text: str, iso: str | None):
    assert EncounterRules.load().parse_date(text) == iso


def test_rules_name_only_known_date_kinds():
    data = json.loads(read_text("encounters.json"))
    data["date_of_service_from"] = ["service", "visit"]
    with pytest.raises(ResourceError, match=r"date_of_service_from names \['visit'\]"):
        EncounterRules.from_dict(data)
    del data["note_titles"]
    with pytest.raises(ResourceError, match=r"encounters\.json: malformed"):
        EncounterRules.from_dict(data)


def test_narrative_mentions_of_a_stay_or_a_consult_do_not_split_a_note():
    text = (
        "PROGRESS NOTE\nDate of Service: 06/01/2026\n"
        "HPI: was admitted 05/02/2026 for heart failure; discharged 05/06/2026.\n"
        "Doing well since.\nWeight stable.\nNo edema.\n"
        "Consultation: cardiology referral placed.\n"
        "Plan: continue furosemide.\n"
    )
    (note,) = chart_layout(text).encounters
    assert (note.note_type, note.date_of_service) == ("progress_note", "2026-06-01")


def test_one_header_line_may_hold_several_dates_of_a_new_stay():
    text = (
        "Date of Service: 01/10/2026\nCough.\nLungs clear.\nBronchitis.\n"
        "Admission Date: 02/01/2026   Discharge Date: 02/04/2026\nPneumonia.\n"
    )
    assert dates(text) == ["2026-01-10", "2026-02-04"]
