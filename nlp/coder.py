"""`ChartCoder`: loads the engine once and codes batches of charts.

    coder = ChartCoder.load()                       # newest valid artefacts in the cache
    results = coder.code([Chart("c1", text)])       # -> list[ChartResult], plain and picklable

The spaCy pipeline finds sentences, sections, linked mentions and their context; the coding rules
turn mentions into codes; the ranker scores each code; notes add companions, conflicts and
specificity hints.
"""

from __future__ import annotations

import gc
import logging
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import spacy
from spacy.language import Language

from nlp import context, sections, sentences  # noqa: F401  (register the components)
from nlp.codeset import CodeSet, undot
from nlp.coding_rules import CodedMention, CodingRules, Setting
from nlp.features import chart_features
from nlp.linking import Mention
from nlp.ranking import Scorer
from nlp.records import Chart, ChartResult, CodedFinding, Evidence, Note

log = logging.getLogger(__name__)

DEFAULT_TOP_K = 30
MAX_EVIDENCE = 5


@dataclass(frozen=True, slots=True)
class Candidates:
    """A chart's candidate codes with their features and supporting mentions (for training)."""

    codes: list[str]
    features: np.ndarray
    groups: list[list[CodedMention]]


@contextmanager
def long_lived() -> Iterator[None]:
    """Load objects that live as long as the process without the cyclic garbage collector, then
    freeze them. Loading makes millions of objects that all survive: the collector walked them
    over and over while they were made (the engine loaded in 2.3 s with it, 0.9 s without), and
    again in every full collection while charts were coded (coding is about 4% faster once
    `gc.freeze()` has moved them out of its way)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
    gc.freeze()


def build_pipeline(linker_path: Path) -> Language:
    nlp = spacy.blank("en")
    sentences.add_sentence_pipes(nlp)
    nlp.add_pipe("chartcoder_sections")
    nlp.add_pipe("chartcoder_linker", config={"path": str(linker_path)})
    nlp.add_pipe("chartcoder_context")
    return nlp


class ChartCoder:
    def __init__(
        self,
        nlp: Language,
        codeset: CodeSet,
        scorer: Scorer,
        model_version: str,
        *,
        setting: Setting = "outpatient",
        threshold: float | None = None,
        top_k: int = DEFAULT_TOP_K,
    ) -> None:
        self.nlp = nlp
        self.codeset = codeset
        self.scorer = scorer
        self.model_version = model_version
        self.rules = CodingRules(codeset, setting=setting)
        self.threshold = scorer.threshold if threshold is None else threshold
        self.top_k = top_k

    @classmethod
    def load(
        cls, cache_dir: str | Path | None = None, data_dir: str | Path | None = None, **options
    ) -> ChartCoder:
        """Load the newest valid artefacts (building them first if there are none)."""
        from nlp.artifacts import load_or_build

        bundle = load_or_build(cache_dir=cache_dir, data_dir=data_dir)
        return cls.from_artifacts(bundle.path, **options)

    @classmethod
    def from_artifacts(cls, path: Path, **options) -> ChartCoder:
        from nlp.artifacts import read_manifest, read_pickle

        manifest = read_manifest(path)
        with long_lived():
            codeset: CodeSet = read_pickle(path, "codeset.pkl")
            scorer: Scorer = read_pickle(path, "ranker.pkl")
            nlp = build_pipeline(path / "linker.pkl")
        return cls(nlp, codeset, scorer, manifest["model_version"], **options)

    def code(self, charts: list[Chart]) -> list[ChartResult]:
        """Code a batch; a chart that could not be read comes back with its error, uncoded."""
        readable = [c for c in charts if c.error is None]
        docs = self.nlp.pipe((c.text for c in readable), batch_size=32)
        cands = [self._candidates(doc) for doc in docs]
        rows = [c.features for c in cands if c.codes]
        scores = self.scorer.score(np.vstack(rows)) if rows else np.zeros(0)
        coded, offset = {}, 0
        for chart, chart_cands in zip(readable, cands, strict=True):
            n = len(chart_cands.codes)
            coded[chart.chart_id] = self._result(chart, chart_cands, scores[offset : offset + n])
            offset += n
        results = []
        for chart in charts:
            if chart.error is not None:
                results.append(
                    ChartResult(chart.chart_id, self.model_version, (), chart.error, chart.notes)
                )
            else:
                results.append(coded[chart.chart_id])
        return results

    def candidates(self, text: str) -> Candidates:
        return self._candidates(self.nlp(text))

    def _candidates(self, doc) -> Candidates:
        groups: dict[str, list[CodedMention]] = defaultdict(list)
        for mention in doc._.mentions:
            coded = self.rules.code_mention(mention)
            if coded is not None:
                groups[coded.code].append(coded)
        codes = sorted(groups)
        features = chart_features(groups, doc.text, self.scorer.priors)
        return Candidates(codes, features, [groups[c] for c in codes])

    def _result(self, chart: Chart, cands: Candidates, scores: np.ndarray) -> ChartResult:
        score_of = dict(zip(cands.codes, scores.tolist(), strict=True))
        group_of = dict(zip(cands.codes, cands.groups, strict=True))
        ranked = sorted(cands.codes, key=lambda c: -score_of[c])
        kept = self._resolve_conflicts([c for c in ranked if score_of[c] >= self.threshold])
        findings = []
        late: dict[str, list[Note]] = {}
        for code in kept:
            notes = list(kept[code])
            companion_notes, companions = self.rules.companion_notes(code, score_of)
            notes.extend(companion_notes)
            for companion in companions:
                # a documented companion is recommended with its primary
                score_of[companion] = max(score_of[companion], score_of[code])
                if companion not in kept and companion not in late:
                    late[companion] = []
            findings.append((code, notes))
        for companion, notes in late.items():
            findings.append((companion, notes))
        out = []
        for code, notes in findings:
            score = score_of[code]
            if score < self.threshold:
                continue
            group = group_of[code]
            mentions = [cm.mention for cm in group]
            spec = self.rules.specificity_note(code, _best_resolution(mentions))
            if spec is not None:
                notes.append(spec)
            info = self.codeset[code]
            out.append(
                CodedFinding(
                    code=code,
                    description=info.description,
                    score=float(score),
                    billable=info.billable,
                    hcc=info.hcc,
                    assertion=_assertion(group),  # type: ignore[arg-type]
                    evidence=tuple(
                        Evidence(m.start, m.end, m.section, m.sentence)
                        for m in sorted(mentions, key=lambda m: m.start)[:MAX_EVIDENCE]
                    ),
                    notes=tuple(notes),
                )
            )
        out.sort(key=lambda f: (-f.score, f.code))
        return ChartResult(
            chart.chart_id, self.model_version, tuple(out[: self.top_k]), None, chart.notes
        )

    def _resolve_conflicts(self, ranked: list[str]) -> dict[str, list[Note]]:
        """Keep codes best first; drop a code that is Excludes1 with a better supported one,
        and an unspecified code when a more specific form of the same concept is kept (I50.9
        gives way to I50.23: the most specific code the chart supports)."""
        kept: dict[str, list[Note]] = {}
        for code in ranked:
            rival = next((k for k in kept if self.rules.excludes1(k, code)), None)
            if rival is None:
                kept[code] = []
            else:
                kept[rival].append(
                    Note(
                        "excludes1",
                        f"{code} ({self.codeset[code].description}) is Excludes1 with {rival}; "
                        f"kept {rival}, the better supported code.",
                        (code,),
                    )
                )
        for code in list(kept):
            if not self.codeset[code].billable and any(
                k != code and k.startswith(code) for k in kept
            ):
                kept.pop(code)  # a category gives way to its own documented code
                continue
            scope = self.rules.unspecified_scope(code)
            if scope is None:
                continue
            specific = next(
                (
                    k
                    for k in kept
                    if k != code
                    and undot(k).startswith(undot(scope))
                    and self.rules.unspecified_scope(k) is None
                ),
                None,
            )
            if specific is not None:
                notes = kept.pop(code)
                kept[specific].extend(notes)
                kept[specific].append(
                    Note(
                        "more-specific-documented",
                        f"{specific} is documented, so {code} ({self.codeset[code].description}) "
                        "is not coded.",
                        (code,),
                    )
                )
        return kept


_RESOLUTION_ORDER = ("billable", "supported", "default", "unresolved")


def _best_resolution(mentions: list[Mention]) -> str:
    return min((m.resolution for m in mentions), key=_RESOLUTION_ORDER.index)


def _assertion(group: list[CodedMention]) -> str:
    assertions = {cm.assertion for cm in group}
    for assertion in ("present", "uncertain", "historical", "family"):
        if assertion in assertions:
            return assertion
    return "present"
