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
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import spacy
from spacy.language import Language

from nlp import context, sections, sentences  # noqa: F401  (register the components)
from nlp.artifacts import ArtifactError, artifacts_root, find_valid, read_manifest, read_pickle
from nlp.codeset import CodeSet, in_range, undot
from nlp.coding_rules import CodedMention, CodingRules
from nlp.conventions import CONVENTIONS, SETTINGS, Convention, Setting
from nlp.encounter_coding import pieces, union
from nlp.encounters import ChartLayout, chart_layout
from nlp.features import chart_features
from nlp.guidelines import Guidelines, TextFinding
from nlp.linking import Mention
from nlp.ranking import Scorer
from nlp.recoding import Recoder
from nlp.records import Chart, ChartResult, CodedFinding, Evidence, Note
from nlp.sections import DEFAULT_SECTION
from nlp.statements import statement_heads, stratum
from nlp.us_calibration import UsCalibration

log = logging.getLogger(__name__)

DEFAULT_TOP_K = 30
_NEWLINE = re.compile("\n")
MAX_EVIDENCE = 5


@dataclass(frozen=True, slots=True)
class Candidates:
    """A chart's candidate codes with their features and supporting mentions (for training)."""

    codes: list[str]
    features: np.ndarray
    groups: list[list[CodedMention]]
    # codes read from the text by a guideline rule (drugs, BMI), under the US convention
    findings: list[TextFinding] = field(default_factory=list)
    line_starts: list[int] = field(default_factory=list)
    text: str = ""


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
        convention: Convention = "us",
        threshold: float | None = None,
        top_k: int = DEFAULT_TOP_K,
        us_calibration: UsCalibration | None = None,
    ) -> None:
        if convention not in CONVENTIONS:
            raise ValueError(f"convention {convention!r} is not one of {', '.join(CONVENTIONS)}")
        self.nlp = nlp
        self.codeset = codeset
        self.scorer = scorer
        self.model_version = model_version
        self.setting = setting
        self.convention = convention
        self.rules_by_setting = {s: CodingRules(codeset, setting=s) for s in SETTINGS}  # type: ignore[arg-type]
        self.rules = self.rules_by_setting[setting]
        self.guidelines = Guidelines.load(codeset) if convention == "us" else None
        self.recoder = Recoder.load(codeset) if convention == "us" else None
        # under US conventions a fitted calibration maps ranker scores to the chance of being
        # right on US charts; candidates enter the rules from its floor
        self.calibration = us_calibration if convention == "us" else None
        default = self.calibration.threshold if self.calibration else scorer.threshold
        self.threshold = default if threshold is None else threshold
        self.floor = self.calibration.floor if self.calibration else self.threshold
        # chart id -> code -> stratum of support, recorded while fitting the calibration
        self.strata: dict[str, dict[str, str]] | None = None
        self.top_k = top_k

    @classmethod
    def load(cls, cache_dir: str | Path | None = None, **options) -> ChartCoder:
        """Load the newest valid artefacts of the cache (`chartcoder train` builds them)."""
        bundle = find_valid(cache_dir)
        if bundle is None:
            raise ArtifactError(
                f"no valid artefacts under {artifacts_root(cache_dir)}: run `chartcoder train`"
            )
        return cls.from_artifacts(bundle.path, **options)

    @classmethod
    def from_artifacts(cls, path: Path, **options) -> ChartCoder:
        manifest = read_manifest(path)
        with long_lived():
            codeset: CodeSet = read_pickle(path, "codeset.pkl")
            scorer: Scorer = read_pickle(path, "ranker.pkl")
            nlp = build_pipeline(path / "linker.pkl")
        if "us_calibration.pkl" in manifest.get("files", {}):
            options.setdefault("us_calibration", read_pickle(path, "us_calibration.pkl"))
        return cls(nlp, codeset, scorer, manifest["model_version"], **options)

    def code(self, charts: list[Chart]) -> list[ChartResult]:
        """Code a batch; a chart that could not be read comes back with its error, uncoded. An
        outpatient chart of several encounters is coded one encounter at a time
        (`nlp.encounter_coding`)."""
        readable = [c for c in charts if c.error is None]
        layouts = [chart_layout(c.text) for c in readable]
        plans = [
            pieces(chart, layout, chart.setting or self.setting)
            for chart, layout in zip(readable, layouts, strict=True)
        ]
        units = [(len(plan) > 1, piece) for plan in plans for piece in plan]
        docs = self.nlp.pipe((piece.chart.text for _, piece in units), batch_size=32)
        cands, sentences = [], []
        for (several, piece), doc in zip(units, docs, strict=True):
            cands.append(self._candidates(doc, piece.chart.setting or self.setting))
            sentences.append(sum(1 for _ in doc.sents) if several else 0)
        rows = [c.features for c in cands if c.codes]
        scores = self.scorer.score(np.vstack(rows)) if rows else np.zeros(0)
        coded, unit, offset = {}, 0, 0
        for chart, layout, plan in zip(readable, layouts, plans, strict=True):
            findings, before = [], 0
            for piece in plan:
                n = len(cands[unit].codes)
                place = (piece.start, before, layout)
                findings.append(
                    self._findings(piece.chart, cands[unit], scores[offset : offset + n], place)
                )
                before += sentences[unit]
                unit, offset = unit + 1, offset + n
            codes = union(findings, MAX_EVIDENCE) if len(plan) > 1 else findings[0]
            coded[id(chart)] = ChartResult(
                chart.chart_id,
                self.model_version,
                tuple(codes[: self.top_k]),
                None,
                chart.notes,
                chart.pages,
                layout.encounters,
            )
        results = []
        for chart in charts:
            if chart.error is not None:
                results.append(
                    ChartResult(
                        chart.chart_id,
                        self.model_version,
                        (),
                        chart.error,
                        chart.notes,
                        chart.pages,
                    )
                )
            else:
                results.append(coded[id(chart)])
        return results

    def candidates(self, text: str, setting: str | None = None) -> Candidates:
        return self._candidates(self.nlp(text), setting or self.setting)

    def _candidates(self, doc, setting: str) -> Candidates:
        if setting not in self.rules_by_setting:
            raise ValueError(f"setting {setting!r} is not one of {', '.join(SETTINGS)}")
        rules = self.rules_by_setting[setting]
        text = doc.text  # spaCy joins its tokens again on every `doc.text`
        mentions = doc._.mentions
        chart_sections = doc._.sections or []
        findings: list[TextFinding] = []
        if self.guidelines is not None:
            codable = self.guidelines.codable_sections(s.name for s in chart_sections)
            labels = self.guidelines.not_diagnosis_spans(
                text, [s.start for s in chart_sections if s.name != DEFAULT_SECTION], codable
            )
            mentions = [
                replace(m, code=m.refined, resolution="supported") if m.refined else m
                for m in mentions
                if self.guidelines.admits(m, codable, labels)
            ]
            # a condition the chart rules out is not coded where it was only suspected
            # ("Rule out UTI: ... UTI ruled out")
            ruled_out = {m.code for m in mentions if m.negated}
            mentions = [
                m
                for m in mentions
                if not (
                    m.assertion == "uncertain"
                    and (m.code in ruled_out or self.guidelines.ruled_out_later(text, m))
                )
                and not self.guidelines.not_current(text, m, setting)
            ]
            findings = self.guidelines.text_findings(
                text,
                chart_sections,
                [s.start_char for s in doc.sents],
            )
        groups: dict[str, list[CodedMention]] = defaultdict(list)
        for mention in mentions:
            coded = rules.code_mention(mention)
            if coded is not None:
                groups[coded.code].append(coded)
        codes = sorted(groups)
        features = chart_features(groups, text, self.scorer.priors)
        line_starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
        return Candidates(codes, features, [groups[c] for c in codes], findings, line_starts, text)

    def _findings(
        self,
        chart: Chart,
        cands: Candidates,
        scores: np.ndarray,
        place: tuple[int, int, ChartLayout],
    ) -> list[CodedFinding]:
        """The coded findings of a chart, or of a piece of one: `place` is where the piece
        starts in the chart (characters, sentences) and the chart's layout, by which its
        evidence is placed."""
        score_of = dict(zip(cands.codes, scores.tolist(), strict=True))
        group_of = dict(zip(cands.codes, cands.groups, strict=True))
        ranked = [c for c in cands.codes if score_of[c] >= self.floor]
        support: dict[str, list] = {c: list(g) for c, g in group_of.items()}
        recoded: dict[str, list[Note]] = {}
        if self.recoder is not None:
            recoded = {c: [] for c in ranked}
            for old, new in self.recoder.recode_manifestations(recoded, score_of, support).items():
                group_of[new] = [*group_of.get(new, []), *group_of.pop(old)]
            ranked = list(recoded)
        kept = self._resolve_conflicts(
            sorted(ranked, key=lambda c: -score_of[c]),
            self._us_prefers(group_of) if self.guidelines is not None else None,
        )
        for code, notes in recoded.items():
            if code in kept:
                kept[code][:0] = notes
        if self.guidelines is not None:
            kept = self._apply_guidelines(chart, cands, kept, score_of, support, group_of)
        # under US conventions a companion is one the guidelines kept; otherwise any candidate
        companion_pool = score_of if self.guidelines is None else {c: score_of[c] for c in kept}
        findings = []
        late: dict[str, list[Note]] = {}
        for code in kept:
            notes = list(kept[code])
            companion_notes, companions = self.rules.companion_notes(code, companion_pool)
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
            items = support[code]
            group = [item for item in items if isinstance(item, CodedMention)]
            mentions = [cm.mention for cm in group]
            if mentions:
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
                    evidence=_evidence(items, *place),
                    notes=tuple(notes),
                )
            )
        out.sort(key=lambda f: (-f.score, f.code))
        return out

    def _apply_guidelines(self, chart, cands, kept, score_of, support, group_of):
        """US conventions on the kept codes; scores calibrated by stratum of support."""
        assert self.guidelines is not None
        if self.recoder is not None:
            self.recoder.recode_fractures(kept, score_of, support, cands.text)
        kept = self.guidelines.apply(
            kept,
            score_of,
            support,
            cands.findings,
            self._specificity(group_of),
            self._asks_for,
        )
        heads = statement_heads(cands.text, cands.line_starts)
        strata = {c: stratum(support.get(c, []), cands.line_starts, heads) for c in kept}
        if self.strata is not None:
            # a chart coded by encounters: its pieces' strata together
            self.strata.setdefault(chart.chart_id, {}).update(strata)
        if self.calibration is not None:
            codes = list(kept)
            calibrated = self.calibration([score_of[c] for c in codes], [strata[c] for c in codes])
            score_of.update(zip(codes, calibrated, strict=True))
        return kept

    def _us_prefers(self, group_of: dict[str, list[CodedMention]]) -> Callable[[str, str], bool]:
        """Of an Excludes1 pair, whether US coding keeps `a` over the kept `b`: `b` is a NOS
        code that gives way to `a` (E87.1 to E22.2 for "hyponatremia due to SIADH"), or `a`
        reads more of the same words."""
        assert self.guidelines is not None
        guidelines, reads_more = self.guidelines, _reads_more(group_of)
        return lambda a, b: guidelines.yields(b, a) or reads_more(a, b)

    def _asks_for(self, code: str, other: str) -> bool:
        """Whether `code`'s use-additional or code-first notes name `other`."""
        info = self.codeset[code]
        return in_range(other, info.use_additional) or in_range(other, info.code_first)

    def _specificity(
        self, group_of: dict[str, list[CodedMention]]
    ) -> dict[str, tuple[bool, int, bool]]:
        """How well each candidate is documented: not unspecified first, then words matched
        by its best present mention; and whether it is billable."""
        return {
            code: (
                not self.rules.is_unspecified(code),
                max((cm.mention.n_groups for cm in group), default=0),
                self.codeset[code].billable,
            )
            for code, group in group_of.items()
            if any(cm.assertion == "present" for cm in group)
        }

    def _resolve_conflicts(
        self, ranked: list[str], reads_more: Callable[[str, str], bool] | None = None
    ) -> dict[str, list[Note]]:
        """Keep codes best first; drop a code that is Excludes1 with a better supported one
        (or, with `reads_more`, with one that reads more of the same words), and an unspecified
        code when a more specific form of the same concept is kept (I50.9 gives way to I50.23:
        the most specific code the chart supports)."""
        kept: dict[str, list[Note]] = {}
        for code in ranked:
            rival = next((k for k in kept if self.rules.excludes1(k, code)), None)
            if rival is not None and reads_more is not None and reads_more(code, rival):
                kept[code] = kept.pop(rival)
                code, rival = rival, code
                kept[rival].append(
                    Note(
                        "excludes1",
                        f"{code} ({self.codeset[code].description}) is Excludes1 with {rival}; "
                        f"kept {rival}, which reads more of the same words.",
                        (code,),
                    )
                )
            elif rival is None:
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


def _reads_more(group_of: dict[str, list[CodedMention]]) -> Callable[[str, str], bool]:
    """Whether code a's mention reads the same words as code b's with more of its term
    ("MDD, recurrent episode, moderate": F33.1 reads "recurrent", F32.1 does not)."""

    def best(code: str) -> tuple[int, int, int]:
        m = max((cm.mention for cm in group_of[code]), key=lambda m: m.n_groups)
        return m.start, m.end, m.n_groups

    def reads_more(a: str, b: str) -> bool:
        (sa, ea, ga), (sb, eb, gb) = best(a), best(b)
        return (sa, ea) == (sb, eb) and ga > gb

    return reads_more


def _evidence(items: list, start: int, sentences: int, layout: ChartLayout) -> tuple[Evidence, ...]:
    """Up to `MAX_EVIDENCE` spans, first in the text first, one per span, each with its page
    and date of service; a piece's spans moved by `start` characters and `sentences`."""
    spans = {}
    for item in items:
        span = item.mention if isinstance(item, CodedMention) else item
        offset = span.start + start
        spans[(span.start, span.end)] = Evidence(
            offset,
            span.end + start,
            span.section,
            span.sentence + sentences,
            *layout.locate(offset),
        )
    return tuple(spans[key] for key in sorted(spans)[:MAX_EVIDENCE])


def _best_resolution(mentions: list[Mention]) -> str:
    return min((m.resolution for m in mentions), key=_RESOLUTION_ORDER.index)


def _assertion(group: list[CodedMention]) -> str:
    assertions = {cm.assertion for cm in group}
    for assertion in ("present", "uncertain", "historical", "family"):
        if assertion in assertions:
            return assertion
    return "present"
