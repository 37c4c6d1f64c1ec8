"""`chartcoder train`: build the knowledge base and train the ranker into the cache.

Steps: the code set from the tabular list; terms from the Alphabetic Index, the Table of
Neoplasms and the tabular list; then, when CodiEsp's coded charts are in the data folder,
learned terms and the ranker. The ranker learns from the candidates the engine itself finds in
coded charts (a candidate is positive when it matches a gold code, descendants included). To keep
its features honest, each chart's candidates come from learned terms mined on the *other* folds,
and its code priors are counted without its own gold.
"""

from __future__ import annotations

import logging
import math
import pickle
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nlp import settings
from nlp.artifacts import Bundle, current_stamp, find_valid, write_bundle
from nlp.candidate_generation import CandidateGenerator
from nlp.coder import ChartCoder, build_pipeline
from nlp.codeset import CodeSet
from nlp.corpus import CodedChart, has_codiesp, read_codiesp
from nlp.evaluation import matches
from nlp.features import FEATURE_NAMES, CodePriors, hit_rate
from nlp.knowledge_base import Term, TermTokenizer, build_terms
from nlp.learning import NgramReader, learn_terms, word_frequency
from nlp.linking import AbbreviationExpander
from nlp.neighbors import ChartNeighbors
from nlp.ranking import HeuristicRanker, Ranker, Scorer
from nlp.rule_files import load_abbreviations, load_term_stopwords, load_word_variants
from nlp.specificity import SpecificityResolver
from nlp.us_fitting import fit_us_calibration, us_dev_path, us_dev_stamp

log = logging.getLogger(__name__)

RANKER_VERSION = "hgb-v3"
FOLDS = 5
# counts of (FOLDS - 1) folds, scaled to the size of the whole training set
FOLD_SCALE = FOLDS / (FOLDS - 1)


def find_or_build(
    cache_dir: str | Path | None = None, data_dir: str | Path | None = None
) -> Bundle:
    """The newest valid artefacts, or a fresh build when there are none (what `chartcoder
    code` does on a machine that has not run `chartcoder train`)."""
    bundle = find_valid(cache_dir)
    if bundle is not None:
        return bundle
    data = settings.data_dir(data_dir)
    if data is None:
        log.warning(
            "no artefacts and no data folder (%s): building from the ICD-10-CM tabular "
            "list alone, without the Alphabetic Index or a trained ranker",
            settings.DATA_ENV,
        )
    return build(cache_dir=cache_dir, data_dir=data)


def build(
    cache_dir: str | Path | None = None,
    data_dir: Path | None = None,
    *,
    train_only: bool = False,
    force: bool = True,
) -> Bundle:
    """Build every artefact; with `force=False` an up-to-date build is reused."""
    stamp = current_stamp(data_dir)
    splits = ("train",) if train_only else ("train", "dev")
    stamp["training"] = "+".join(splits) if has_codiesp(data_dir) else "none"
    stamp["us_calibration"] = us_dev_stamp(data_dir)
    if not force:
        existing = find_valid(cache_dir)
        if existing is not None and existing.manifest.get("stamp") == stamp:
            log.info("artefacts are up to date: %s", existing.path)
            return existing
    started = time.perf_counter()
    codeset = CodeSet.build()
    stopwords = load_term_stopwords()
    tokenizer = TermTokenizer(stopwords)
    base_terms = build_terms(codeset, tokenizer, data_dir)
    shared = {
        "resolver": SpecificityResolver.build(codeset, tokenizer),
        "abbreviations": AbbreviationExpander(load_abbreviations(), tokenizer),
        "variants": load_word_variants(),
    }
    log.info(
        "knowledge base: %d codes, %d terms (%.1f s)",
        len(codeset),
        len(base_terms),
        time.perf_counter() - started,
    )
    ranker: Scorer
    if has_codiesp(data_dir):
        assert data_dir is not None
        charts = [c for split in splits for c in read_codiesp(data_dir, split)]
        grams = NgramReader(stopwords)(c.text for c in charts)
        frequency = word_frequency(grams)
        rows = training_rows(codeset, base_terms, shared, charts, grams, frequency)
        ranker = Ranker.fit(
            rows.features, rows.matched, rows.charts, rows.priors, RANKER_VERSION, rows.n_gold
        )
        learned = learn_terms(charts, grams, codeset)
        version = f"{RANKER_VERSION}-{stamp['training']}"
    else:
        ranker, learned, version = HeuristicRanker(), [], "heuristic-v1"
        frequency = Counter()
    terms = _merge(base_terms, learned)
    linker = {"generator": CandidateGenerator(terms, frequency), **shared}
    model_version = f"chartcoder-{stamp['chartcoder']}+{stamp['rules'][:6]}.{version}"
    parts: dict[str, Any] = {"codeset.pkl": codeset, "linker.pkl": linker, "ranker.pkl": ranker}
    calibration = _us_calibration(codeset, linker, ranker, data_dir)
    if calibration is not None:
        parts["us_calibration.pkl"] = calibration
    return write_bundle(
        parts,
        stamp,
        model_version,
        cache_dir,
        extra={
            "terms": len(terms),
            "learned_terms": len(learned),
            "seconds": round(time.perf_counter() - started, 1),
            "us_calibration": calibration.report if calibration else None,
        },
    )


def _us_calibration(codeset, linker, ranker, data_dir: Path | None):
    """The US score calibration, fitted on the US development charts when the data folder has
    them and the ranker was trained (a heuristic scorer is not calibrated)."""
    if us_dev_path(data_dir) is None or isinstance(ranker, HeuristicRanker):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "linker.pkl"
        path.write_bytes(pickle.dumps(linker, protocol=pickle.HIGHEST_PROTOCOL))
        coder = ChartCoder(build_pipeline(path), codeset, ranker, "calibration", convention="us")
        return fit_us_calibration(coder, data_dir)


def _merge(base: list[Term], learned: list[Term]) -> list[Term]:
    """Dictionary terms first; a learned term that repeats one adds nothing."""
    seen = {(t.code, t.groups) for t in base}
    return base + [t for t in learned if (t.code, t.groups) not in seen]


def gold_priors(charts: list[CodedChart], codeset: CodeSet) -> CodePriors:
    priors = CodePriors()
    for chart in charts:
        for code in chart.gold:
            canonical = codeset.canonical(code) or code
            priors.code_counts[canonical] += 1
            priors.category_counts[canonical.replace(".", "")[:3]] += 1
    return priors


@dataclass(frozen=True, slots=True)
class TrainingRows:
    """Out-of-fold candidates of the coded charts: one row per (chart, candidate code)."""

    features: np.ndarray
    matched: np.ndarray  # the index of the gold code of its chart a row matches, or -1
    charts: np.ndarray
    codes: list[str]
    priors: CodePriors
    n_gold: int


def training_rows(
    codeset: CodeSet,
    base_terms: list[Term],
    shared: dict[str, Any],
    charts: list[CodedChart],
    grams: list,
    frequency: Counter[str],
) -> TrainingRows:
    """Each chart's candidates as the engine finds them, with features it could not cheat on.

    Everything learned from gold (terms, code priors, candidate hit rates) comes from the *other*
    folds: leave-one-out counts would leak the label (a positive row's own count is one lower
    than a negative row's of the same code), which a tree ranker exploits on training rows and
    then misses on new charts.
    """
    fold_of = [i % FOLDS for i in range(len(charts))]
    rows: list[np.ndarray] = []
    labels: list[int] = []
    groups: list[int] = []
    codes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for fold in range(FOLDS):
            inside = [i for i in range(len(charts)) if fold_of[i] != fold]
            learned = learn_terms([charts[i] for i in inside], [grams[i] for i in inside], codeset)
            generator = CandidateGenerator(_merge(base_terms, learned), frequency)
            linker = {"generator": generator, **shared}
            path = Path(tmp) / f"linker-{fold}.pkl"
            path.write_bytes(pickle.dumps(linker, protocol=pickle.HIGHEST_PROTOCOL))
            scorer = HeuristicRanker()
            scorer.priors = _scaled(gold_priors([charts[i] for i in inside], codeset))
            scorer.priors.neighbors = ChartNeighbors.fit(
                [charts[i].text for i in inside], [charts[i].gold for i in inside]
            )
            coder = ChartCoder(
                build_pipeline(path), codeset, scorer, "training", convention="codiesp"
            )
            for index in (i for i in range(len(charts)) if fold_of[i] == fold):
                chart = charts[index]
                cands = coder.candidates(chart.text)
                for code, features in zip(cands.codes, cands.features, strict=True):
                    codes.append(code)
                    rows.append(features)
                    labels.append(_matched_gold(code, chart))
                    groups.append(index)
    features = np.vstack(rows)
    matched = np.asarray(labels)
    _set_hit_rates(features, codes, matched >= 0, np.asarray([fold_of[g] for g in groups]))
    priors = gold_priors(charts, codeset)
    priors.neighbors = ChartNeighbors.fit([c.text for c in charts], [c.gold for c in charts])
    for code, label in zip(codes, matched >= 0, strict=True):
        priors.candidate_counts[code] += 1
        priors.candidate_hits[code] += int(label)
    return TrainingRows(
        features,
        matched,
        np.asarray(groups),
        codes,
        priors,
        sum(len(chart.gold) for chart in charts),
    )


def _matched_gold(code: str, chart: CodedChart) -> int:
    """The index of the gold code a candidate matches (descendants included), or -1."""
    return next((i for i, gold in enumerate(chart.gold) if matches(code, gold, True)), -1)


def _scaled(priors: CodePriors) -> CodePriors:
    """Counts of (FOLDS - 1) folds, scaled to the size of the whole training set."""
    return CodePriors(
        Counter({k: v * FOLD_SCALE for k, v in priors.code_counts.items()}),
        Counter({k: v * FOLD_SCALE for k, v in priors.category_counts.items()}),
    )


def _set_hit_rates(
    features: np.ndarray, codes: list[str], positive: np.ndarray, folds: np.ndarray
) -> None:
    """How often each code was right as a candidate, counted on the other folds only."""
    rate, count = FEATURE_NAMES.index("code_hit_rate"), FEATURE_NAMES.index("log_code_candidacies")
    for fold in range(FOLDS):
        seen: Counter[str] = Counter()
        hits: Counter[str] = Counter()
        for code, is_hit, row_fold in zip(codes, positive, folds, strict=True):
            if row_fold != fold:
                seen[code] += 1
                hits[code] += int(is_hit)
        for row in np.flatnonzero(folds == fold):
            code = codes[row]
            features[row, rate] = hit_rate(hits[code], seen[code])
            features[row, count] = math.log1p(seen[code] * FOLD_SCALE)
