"""The shipped rule files load and validate; bad rules raise errors that name the problem."""

from __future__ import annotations

import pytest

from nlp import rule_files
from nlp.rule_files import ContextRule, ResourceError, SectionRule


def test_every_shipped_file_loads():
    assert len(rule_files.load_context_rules()) > 100
    names = {rule.name for rule in rule_files.load_sections()}
    assert {"family_history", "past_medical_history", "assessment_and_plan"} <= names
    abbreviations = {a.abbreviation: a for a in rule_files.load_abbreviations()}
    assert abbreviations["HTN"].expansion == "hypertension"
    assert rule_files.load_prefix_map("family_history.tsv")["C50"] == "Z80.3"
    assert rule_files.load_prefix_map("personal_history.tsv")["I21"] == "I25.2"
    assert rule_files.load_word_variants()["renal"] == "kidney"
    assert "tumor" in rule_files.load_neoplasm_behaviors()["unspecified_behavior"]
    assert "with" in rule_files.load_term_stopwords()


def test_family_and_personal_history_targets_are_billable_codes():
    import simple_icd_10_cm as cm

    for name in ("family_history.tsv", "personal_history.tsv"):
        for target in rule_files.load_prefix_map(name).values():
            assert cm.is_leaf(target), f"{name}: {target} is not a billable code"


def test_fingerprint_changes_with_content():
    assert len(rule_files.fingerprint()) == 12


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"literal": "", "category": "NEGATED_EXISTENCE"}, "non-empty 'literal'"),
        ({"literal": "no", "category": "ABSENT"}, "category 'ABSENT' is not one of"),
        (
            {"literal": "no", "category": "NEGATED_EXISTENCE", "direction": "UP"},
            "direction 'UP' is not one of",
        ),
        (
            {"literal": "no", "category": "NEGATED_EXISTENCE", "max_scope": 0},
            "max_scope must be null or a positive integer",
        ),
    ],
)
def test_bad_context_rules_raise(data, message):
    with pytest.raises(ResourceError, match=message):
        ContextRule.from_dict(data)


def test_bad_section_rules_raise():
    with pytest.raises(ResourceError, match="needs a non-empty list of 'headers'"):
        SectionRule.from_dict({"name": "plan", "headers": []})
    with pytest.raises(ResourceError, match="context 'future' is not one of"):
        SectionRule.from_dict({"name": "plan", "headers": ["plan"], "context": "future"})


def test_feature_section_groups_name_real_sections():
    from nlp.features import DIAGNOSIS_SECTIONS, HISTORY_SECTIONS

    names = {rule.name for rule in rule_files.load_sections()}
    assert names >= DIAGNOSIS_SECTIONS
    assert names >= HISTORY_SECTIONS
