"""`chartcoder train`: build the knowledge base and train the ranker into the cache.

Steps: the code set from the tabular list; terms from the Alphabetic Index and the tabular list;
the candidate generator and specificity resolver; then, when CodiEsp's coded charts are in the
data folder, the ranker, trained on the candidates the engine itself finds in those charts
(a candidate is positive when it matches a gold code, descendants included). Code priors are
counted leave-one-chart-out, so a chart never sees its own gold.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from nlp.artifacts import Bundle, current_stamp, find_valid, write_bundle
from nlp.candidate_generation import CandidateGenerator
from nlp.codeset import CodeSet
from nlp.corpus import CodedChart, has_codiesp, read_codiesp
from nlp.evaluation import matches
from nlp.features import CodePriors
from nlp.knowledge_base import TermTokenizer, build_terms
from nlp.linking import AbbreviationExpander
from nlp.ranking import HeuristicRanker, Ranker
from nlp.rule_files import load_abbreviations, load_term_stopwords
from nlp.specificity import SpecificityResolver

log = logging.getLogger(__name__)

RANKER_VERSION = "hgb-v1"


def build(cache_dir: str | Path | None = None, data_dir: Path | None = None, *,
          train_only: bool = False, force: bool = True) -> Bundle:
    """Build every artefact; with `force=False` an up-to-date build is reused."""
    stamp = current_stamp(data_dir)
    splits = ("train",) if train_only else ("train", "dev")
    stamp["training"] = "+".join(splits) if has_codiesp(data_dir) else "none"
    if not force:
        existing = find_valid(cache_dir)
        if existing is not None and existing.manifest.get("stamp") == stamp:
            log.info("artefacts are up to date: %s", existing.path)
            return existing
    started = time.perf_counter()
    codeset = CodeSet.build()
    stopwords = load_term_stopwords()
    tokenizer = TermTokenizer(stopwords)
    terms = build_terms(codeset, tokenizer, data_dir)
    linker = {
        "generator": CandidateGenerator(terms, stopwords),
        "resolver": SpecificityResolver.build(codeset, tokenizer),
        "abbreviations": AbbreviationExpander(load_abbreviations(), tokenizer),
    }
    log.info("knowledge base: %d codes, %d terms (%.1f s)", len(codeset), len(terms),
             time.perf_counter() - started)
    if has_codiesp(data_dir):
        assert data_dir is not None
        charts = [c for split in splits for c in read_codiesp(data_dir, split)]
        ranker = train_ranker(codeset, linker, charts)
        version = f"{RANKER_VERSION}-{stamp['training']}"
    else:
        ranker, version = HeuristicRanker(), "heuristic-v1"
    model_version = f"chartcoder-{stamp['chartcoder']}+{stamp['rules'][:6]}.{version}"
    return write_bundle({"codeset.pkl": codeset, "linker.pkl": linker, "ranker.pkl": ranker},
                        stamp, model_version, cache_dir,
                        extra={"terms": len(terms), "seconds": round(time.perf_counter()
                                                                    - started, 1)})


def gold_priors(charts: list[CodedChart], codeset: CodeSet) -> CodePriors:
    priors = CodePriors()
    for chart in charts:
        for code in chart.gold:
            canonical = codeset.canonical(code) or code
            priors.code_counts[canonical] += 1
            priors.category_counts[canonical.replace(".", "")[:3]] += 1
    return priors


def train_ranker(codeset: CodeSet, linker: dict, charts: list[CodedChart]) -> Ranker:
    """Fit the ranker on the engine's own candidates for coded charts."""
    from nlp.coder import ChartCoder, build_pipeline

    priors = gold_priors(charts, codeset)
    rows, labels, groups = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        import pickle

        path = Path(tmp) / "linker.pkl"
        path.write_bytes(pickle.dumps(linker, protocol=pickle.HIGHEST_PROTOCOL))
        scorer = HeuristicRanker()
        coder = ChartCoder(build_pipeline(path), codeset, scorer, "training")
        for index, chart in enumerate(charts):
            scorer.priors = _without(priors, chart, codeset)
            cands = coder.candidates(chart.text)
            for code, features in zip(cands.codes, cands.features, strict=True):
                rows.append(features)
                labels.append(any(matches(code, g, True) for g in chart.gold))
                groups.append(index)
    features = np.vstack(rows)
    y = np.asarray(labels, dtype=np.int8)
    ranker = Ranker.fit(features, y, np.asarray(groups), priors, RANKER_VERSION)
    return ranker


def _without(priors: CodePriors, chart: CodedChart, codeset: CodeSet) -> CodePriors:
    own = gold_priors([chart], codeset)
    return CodePriors(priors.code_counts - own.code_counts,
                      priors.category_counts - own.category_counts, priors.term_precision)


__all__ = ["build", "gold_priors", "train_ranker", "Counter"]
