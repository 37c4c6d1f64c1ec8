"""An outpatient record of several encounters is coded one encounter at a time (Section IV);
an inpatient chart is one stay, coded whole."""

from __future__ import annotations

from nlp.coder import ChartCoder
from nlp.encounter_coding import union
from nlp.records import Chart, CodedFinding, Evidence, Note

VISIT_1 = (
    "OFFICE VISIT\n"
    "Date of Service: 01/12/2026\n"
    "Assessment:\n"
    "Essential hypertension.\n"
    "Migraine without aura.\n"
    "Electronically signed by A. Smith, MD on 01/12/2026\n"
)
VISIT_2 = (
    "PROGRESS NOTE\n"
    "Date of Service: 03/09/2026\n"
    "Assessment:\n"
    "Chronic kidney disease stage 3a.\n"
    "Migraine without aura.\n"
    "Electronically signed by A. Smith, MD on 03/09/2026\n"
)
RECORD = VISIT_1 + "\f" + VISIT_2


def placed(result, text: str) -> dict[str, list[tuple[str, int, str | None, str]]]:
    return {
        f.code: [(text[e.start : e.end], e.page, e.date_of_service, e.section) for e in f.evidence]
        for f in result.codes
    }


def test_each_outpatient_encounter_is_coded_from_its_own_notes(coder: ChartCoder):
    (result,) = coder.code([Chart("record", RECORD, setting="outpatient")])
    codes = placed(result, RECORD)
    # hypertension on one date and CKD on another are not hypertensive CKD
    assert "I12.9" not in codes
    assert codes["I10"] == [("Essential hypertension", 1, "2026-01-12", "assessment")]
    assert [where[1:3] for where in codes["N18.31"]] == [(2, "2026-03-09")]
    assert [e.date_of_service for e in result.encounters] == ["2026-01-12", "2026-03-09"]
    # a code of both encounters carries the evidence of each, offsets into the whole text
    assert codes["G43.009"] == [
        ("Migraine without aura", 1, "2026-01-12", "assessment"),
        ("Migraine without aura", 2, "2026-03-09", "assessment"),
    ]
    # sentences are numbered through the whole chart, as when it is coded whole
    (whole,) = coder.code([Chart("stay", RECORD, setting="inpatient")])
    sentence = {(e.start, e.sentence) for f in whole.codes for e in f.evidence}
    assert {(e.start, e.sentence) for f in result.codes for e in f.evidence} <= sentence


def test_the_same_record_coded_as_one_stay_joins_its_notes(coder: ChartCoder):
    (result,) = coder.code([Chart("stay", RECORD, setting="inpatient")])
    codes = placed(result, RECORD)
    assert [where[2] for where in codes["I12.9"]] == ["2026-01-12", "2026-03-09"]


def test_a_chart_of_one_encounter_is_coded_as_before(coder: ChartCoder):
    (alone,) = coder.code([Chart("one", VISIT_1)])
    (in_batch, _) = coder.code([Chart("one", VISIT_1), Chart("two", RECORD)])

    def seen(result):  # scores scored in a batch may differ in their last bit
        return [(f.code, round(f.score, 9), f.evidence, f.notes) for f in result.codes]

    assert seen(alone) == seen(in_batch) and alone.encounters == in_batch.encounters


def finding(code: str, score: float, spans: list[tuple[int, str]], notes=()) -> CodedFinding:
    evidence = tuple(Evidence(s, s + 3, "assessment", s // 10, 1, day) for s, day in spans)
    return CodedFinding(code, code, score, True, None, "present", evidence, tuple(notes))


def test_union_keeps_the_best_score_each_encounters_first_span_and_notes_once():
    note = Note("companion", "Use additional code")
    first = [
        finding("E11.9", 0.6, [(10, "a"), (20, "a"), (30, "a")], [note]),
        finding("I10", 0.9, [(40, "a")]),
    ]
    second = [finding("E11.9", 0.8, [(100, "b"), (110, "b")], [note])]
    merged = union([first, second], max_evidence=3)
    assert [(f.code, f.score) for f in merged] == [("I10", 0.9), ("E11.9", 0.8)]
    diabetes = merged[1]
    # under the cap, the second encounter's first span comes before the first's later ones
    assert [(e.start, e.date_of_service) for e in diabetes.evidence] == [
        (10, "a"),
        (20, "a"),
        (100, "b"),
    ]
    assert diabetes.notes == (note,)
