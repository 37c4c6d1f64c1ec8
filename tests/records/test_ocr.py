"""The OCR engine's word table and the accuracy measure used to report OCR quality."""

from __future__ import annotations

from records.ocr import mean_word_confidence
from records.ocr_accuracy import character_accuracy, edit_distance, word_accuracy
from records.pages import clean_text, unwrap_lines

HEADER = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
)


def test_mean_word_confidence_counts_words_only():
    rows = [
        HEADER,
        "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t",
        "5\t1\t1\t1\t1\t1\t0\t0\t10\t10\t96.5\tProgress",
        "5\t1\t1\t1\t1\t2\t0\t0\t10\t10\t83.5\tnote",
        "5\t1\t1\t1\t1\t3\t0\t0\t10\t10\t40\t ",
    ]
    assert mean_word_confidence("\n".join(rows)) == 0.9
    assert mean_word_confidence(HEADER) is None


def test_edit_distance_and_accuracy():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance([], ["a"]) == 1
    assert character_accuracy("Hypertensi0n  stable", "Hypertension\nstable") == 1 - 1 / 19
    assert word_accuracy("type 2 diabetis", "type 2 diabetes") == 1 - 1 / 3
    assert character_accuracy("anything at all", "") == 0.0


def test_clean_text_keeps_one_line_break_and_no_form_feed():
    assert clean_text("a\r\nb\fc\x00\n\n") == "a\nb\nc\n"
    assert clean_text(" \n\f") == ""


def test_layout_line_breaks_inside_a_sentence_become_spaces():
    text = "1. Type 2 diabetes with diabetic CKD,\nstage 3a. Continue\nmetformin.\nHypertension\n"
    assert unwrap_lines(text) == (
        "1. Type 2 diabetes with diabetic CKD, stage 3a. Continue metformin.\nHypertension\n"
    )
    assert unwrap_lines("Plan:\nreturn in 3 months.\nA1c 7.4\n(stable)") == (
        "Plan:\nreturn in 3 months.\nA1c 7.4 (stable)"
    )
