"""Features of a candidate code in a chart, from the mentions that support it."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from nlp.codeset import undot
from nlp.coding_rules import CodedMention
from nlp.neighbors import FEATURES as NEIGHBOR_FEATURES
from nlp.neighbors import ChartNeighbors

FEATURE_NAMES = (
    "log_mentions",
    "log_sentences",
    "max_groups",
    "best_compactness",
    "src_index",
    "src_tabular",
    "src_inclusion",
    "src_learned",
    "abbreviation",
    "all_corrected",
    "res_billable",
    "res_supported",
    "res_default",
    "res_unresolved",
    "frac_present",
    "frac_historical",
    "frac_uncertain",
    "frac_family",
    "all_subsumed",
    "first_position",
    "in_diagnosis_section",
    "in_history_section",
    "log_prior_code",
    "log_prior_category",
    "chapter_r",
    "chapter_z",
    "max_optional",
    "log_candidates",
    "log_terms",
    "learned_precision",
    "seen_in_training",
    "learned_terms",
    "code_hit_rate",
    "log_code_candidacies",
    # the chart's other candidates of the same category
    "category_candidates",
    "code_length",
    "has_descendant_candidate",
    "has_ancestor_candidate",
    *NEIGHBOR_FEATURES,
)
HIT_RATE_PRIOR = 0.1
HIT_RATE_WEIGHT = 2.0
# Section names of resources/sections.json where a diagnosis is usually stated as such.
DIAGNOSIS_SECTIONS = frozenset(
    {
        "assessment",
        "plan",
        "assessment_and_plan",
        "problem_list",
        "diagnoses",
        "preoperative_diagnosis",
        "chief_complaint",
    }
)
HISTORY_SECTIONS = frozenset({"past_medical_history", "past_surgical_history", "family_history"})


@dataclass
class CodePriors:
    """How often codes and categories were gold in the training charts."""

    code_counts: Counter[str] = field(default_factory=Counter)
    category_counts: Counter[str] = field(default_factory=Counter)
    candidate_counts: Counter[str] = field(default_factory=Counter)
    candidate_hits: Counter[str] = field(default_factory=Counter)
    neighbors: ChartNeighbors | None = None


def hit_rate(hits: float, count: float) -> float:
    """How often a code was right when it was a candidate, smoothed towards the base rate."""
    return (hits + HIT_RATE_WEIGHT * HIT_RATE_PRIOR) / (count + HIT_RATE_WEIGHT)


def chart_features(
    groups: dict[str, list[CodedMention]], text: str, priors: CodePriors
) -> np.ndarray:
    """One row per candidate code (sorted), in the order of `FEATURE_NAMES`."""
    codes = sorted(groups)
    if not codes:
        return np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
    text_length = len(text)
    neighbors = (
        priors.neighbors.support(text, codes)
        if priors.neighbors is not None
        else np.zeros((len(codes), len(NEIGHBOR_FEATURES)), dtype=np.float32)
    )
    by_category: dict[str, list[str]] = {}
    for code in codes:
        by_category.setdefault(undot(code)[:3], []).append(undot(code))
    rows = []
    for index, code in enumerate(codes):
        plain = undot(code)
        relatives = [other for other in by_category[plain[:3]] if other != plain]
        family = (
            len(relatives) + 1,
            len(plain),
            any(other.startswith(plain) for other in relatives),
            any(plain.startswith(other) for other in relatives),
        )
        own = candidate_features(groups[code], code, text_length, len(codes), priors)
        rows.append(np.concatenate([own, np.asarray(family, dtype=np.float32), neighbors[index]]))
    return np.vstack(rows)


def candidate_features(
    group: list[CodedMention], code: str, text_length: int, n_candidates: int, priors: CodePriors
) -> np.ndarray:
    """The features of one candidate that need no other candidate of the chart."""
    mentions = [cm.mention for cm in group]
    n = len(mentions)
    sources = {m.source for m in mentions}
    resolutions = {m.resolution for m in mentions}
    assertions = Counter(cm.assertion for cm in group)
    sections = {m.section for m in mentions}
    plain = undot(code)
    learned = [m.weight for m in mentions if m.source == "learned"]
    values = (
        math.log1p(n),
        math.log1p(len({m.sentence for m in mentions})),
        max(m.n_groups for m in mentions),
        max(m.n_groups / m.span_words for m in mentions),
        "index" in sources,
        "tabular" in sources,
        "inclusion" in sources,
        "learned" in sources,
        any(m.abbreviation for m in mentions),
        all(m.corrected for m in mentions),
        "billable" in resolutions,
        "supported" in resolutions,
        "default" in resolutions,
        "unresolved" in resolutions,
        assertions["present"] / n,
        assertions["historical"] / n,
        assertions["uncertain"] / n,
        assertions["family"] / n,
        all(m.subsumed for m in mentions),
        min(m.start for m in mentions) / max(text_length, 1),
        bool(sections & DIAGNOSIS_SECTIONS),
        bool(sections & HISTORY_SECTIONS),
        math.log1p(priors.code_counts.get(code, 0)),
        math.log1p(priors.category_counts.get(plain[:3], 0)),
        plain.startswith("R"),
        plain.startswith("Z"),
        max(m.optional_hits for m in mentions),
        math.log1p(n_candidates),
        math.log1p(len({m.term_id for m in mentions})),
        max(learned, default=0.0),
        code in priors.code_counts,
        len(learned),
        hit_rate(priors.candidate_hits.get(code, 0), priors.candidate_counts.get(code, 0)),
        math.log1p(priors.candidate_counts.get(code, 0)),
    )
    return np.asarray(values, dtype=np.float32)
