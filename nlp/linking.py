"""The linker component: finds diagnosis mentions and links each to an ICD-10-CM code.

Per sentence: words are normalised, abbreviations expanded (`CKD` also reads as chronic kidney
disease) and misspellings corrected; the candidate generator finds terms; a match whose words are
all inside another match's words is dropped (the more specific term wins: `type 2 diabetes with
CKD` keeps E11.22, not E11.9), but kept aside as possible companion evidence; partial and
category codes resolve to the billable child the sentence supports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from spacy.language import Language
from spacy.symbols import ORTH
from spacy.tokens import Doc

from nlp.candidate_generation import CandidateGenerator, SentenceWords, TermMatch
from nlp.knowledge_base import TermTokenizer
from nlp.rule_files import Abbreviation
from nlp.sections import DEFAULT_SECTION, section_at
from nlp.specificity import SpecificityResolver
from nlp.text import NEGATORS, is_word, normalize


@dataclass(frozen=True, slots=True)
class Mention:
    """A linked mention: plain data, so it crosses process boundaries."""

    code: str
    term_id: int
    source: str
    start: int
    end: int
    sentence: int
    section: str
    section_context: str | None
    n_groups: int
    span_words: int
    optional_hits: int
    abbreviation: bool
    corrected: bool
    resolution: str
    weight: float = 0.0
    negates: bool = False  # the term itself negates a word ("migraine without aura")
    subsumed: bool = False
    assertion: str = "present"
    negated: bool = False
    hypothetical: bool = False
    # a sibling of `code` that the sentence's words document better (US coding reads it)
    refined: str | None = None


if not Doc.has_extension("mentions"):
    Doc.set_extension("mentions", default=None)


class AbbreviationExpander:
    def __init__(self, abbreviations: Iterable[Abbreviation], tokenizer: TermTokenizer) -> None:
        self.exact: dict[str, tuple[str, ...]] = {}
        self.folded: dict[str, tuple[str, ...]] = {}
        for abbr in abbreviations:
            words = tuple(tokenizer.words(abbr.expansion))
            if abbr.case_sensitive:
                self.exact[abbr.abbreviation] = words
            else:
                self.folded[abbr.abbreviation.lower()] = words

    def __call__(self, token: str) -> tuple[str, ...]:
        return self.exact.get(token) or self.folded.get(token.lower(), ())

    def keep_whole(self, tokenizer: Any) -> None:
        """Hyphenated abbreviations stay one token: an "e-cigarette" is not a cigarette."""
        for word in [w for w in self.exact if "-" in w]:
            tokenizer.add_special_case(word, [{ORTH: word}])
        for word in [w for w in self.folded if "-" in w]:
            for form in {word, word.capitalize(), word.upper()}:
                tokenizer.add_special_case(form, [{ORTH: form}])


class Linker:
    def __init__(
        self,
        nlp: Language,
        name: str,
        *,
        candidate_generator: CandidateGenerator,
        resolver: SpecificityResolver,
        abbreviations: AbbreviationExpander,
        variants: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.generator = candidate_generator
        self.resolver = resolver
        self.abbreviations = abbreviations
        self.variants = {normalize(k): normalize(v) for k, v in (variants or {}).items()}

    def __call__(self, doc: Doc) -> Doc:
        doc._.mentions = self.find(doc)
        return doc

    def find(self, doc: Doc) -> list[Mention]:
        sections = doc._.sections or []
        sentences = list(doc.sents)
        slots_per_sentence: list[SentenceWords] = []
        offsets_per_sentence: list[list[tuple[int, int]]] = []
        flags_per_sentence: list[list[tuple[bool, bool]]] = []
        norms = [normalize(t.text) for t in doc if is_word(t.text)]
        corrections = self.generator.correct(norms)
        for sent in sentences:
            slots: list[tuple[str, ...]] = []
            offsets: list[tuple[int, int]] = []
            flags: list[tuple[bool, bool]] = []
            negated: set[int] = set()
            negated_forms: dict[int, frozenset[str]] = {}
            negated_words = _negated_words([t.lower_ for t in sent])
            for index, token in enumerate(sent):
                if not is_word(token.text):
                    continue
                if index in negated_words:
                    negated.add(len(slots))
                norm = normalize(token.text)
                forms = [norm]
                variant = self.variants.get(norm)
                if variant:
                    forms.append(variant)
                expansion = self.abbreviations(token.text)
                forms.extend(expansion)
                inside = _negated_in(expansion)
                if _after_hyphenated_non(sent, index):
                    # "non-alcoholic" is "nonalcoholic", and not "alcoholic"
                    forms.append(normalize(f"non{token.text}"))
                    inside = inside | {norm}
                if inside:
                    negated_forms[len(slots)] = inside
                corrected = corrections.get(norm)
                if corrected:
                    forms.append(corrected)
                slots.append(tuple(forms))
                offsets.append((token.idx, token.idx + len(token.text)))
                flags.append((bool(expansion), bool(corrected)))
            slots_per_sentence.append(SentenceWords(slots, frozenset(negated), negated_forms))
            offsets_per_sentence.append(offsets)
            flags_per_sentence.append(flags)
        mentions: list[Mention] = []
        all_matches = self.generator(slots_per_sentence)
        for index, matches in enumerate(all_matches):
            if not matches:
                continue
            slots = slots_per_sentence[index].slots
            negated_slots = slots_per_sentence[index].negated
            # what the sentence says of the patient: a negated word ("no exacerbation") does not
            # make a child code more specific
            negated_inside = slots_per_sentence[index].negated_forms
            words = {
                form
                for i, forms in enumerate(slots)
                if i not in negated_slots
                for form in forms
                if form not in negated_inside.get(i, ())
            }
            groups = [frozenset(self.generator.terms[m.term_id].groups) for m in matches]
            for match, subsumed in _specific_first(matches, groups):
                mentions.append(
                    self._mention(
                        match,
                        subsumed,
                        index,
                        words,
                        slots,
                        offsets_per_sentence[index],
                        flags_per_sentence[index],
                        sections,
                    )
                )
        return mentions

    def _mention(
        self,
        match: TermMatch,
        subsumed: bool,
        sentence: int,
        words: set[str],
        slots: list[tuple[str, ...]],
        offsets: list[tuple[int, int]],
        flags: list[tuple[bool, bool]],
        sections: list,
    ) -> Mention:
        term = self.generator.terms[match.term_id]
        # the words that name the term document no child of its code: "tobacco use disorder"
        # is F17.2 and reads "cigarettes", not "disorder" (F17.219, with a disorder)
        naming = _term_words(term)
        resolution = self.resolver.resolve(term.code, words - naming)
        refined = (
            self.resolver.refine(resolution.code, words, naming)
            if resolution.how == "billable"
            else None
        )
        start = offsets[match.positions[0]][0]
        section = section_at(sections, start) if sections else None
        return Mention(
            code=resolution.code,
            term_id=match.term_id,
            source=term.source,
            start=start,
            end=offsets[match.positions[-1]][1],
            sentence=sentence,
            section=section.name if section else DEFAULT_SECTION,
            section_context=section.context if section else None,
            n_groups=len(term.groups),
            span_words=match.positions[-1] - match.positions[0] + 1,
            optional_hits=match.optional_hits,
            abbreviation=any(flags[p][0] for p in match.positions),
            corrected=any(flags[p][1] for p in match.positions),
            resolution=resolution.how,
            weight=term.weight,
            negates=bool(term.negated),
            subsumed=subsumed,
            refined=refined.code if refined else None,
        )


@Language.factory("chartcoder_linker", default_config={"path": None})
def make_linker(nlp: Language, name: str, path: str | None) -> Linker:
    """The linker, loaded from a built `linker.pkl` (see `nlp.artifacts`)."""
    from nlp.artifacts import load_linker_parts

    parts = load_linker_parts(path)
    parts["abbreviations"].keep_whole(nlp.tokenizer)
    return Linker(
        nlp,
        name,
        candidate_generator=parts["generator"],
        resolver=parts["resolver"],
        abbreviations=parts["abbreviations"],
        variants=parts["variants"],
    )


_NEGATION_RUNS = frozenset({"or", "nor"})
_CLAUSE_ENDS = frozenset({".", ";", ":", ")", "(", "-", "but", "and"})


def _negated_words(tokens: list[str]) -> set[int]:
    """Token indexes a negator negates: the word after it, and a list it opens that ends in
    "or" ("no hallucinations, seizures or delirium")."""
    negated: set[int] = set()
    for i, token in enumerate(tokens):
        if token not in NEGATORS or i + 1 >= len(tokens) or not is_word(tokens[i + 1]):
            continue
        negated.add(i + 1)
        end = next((k for k in range(i + 1, len(tokens)) if tokens[k] in _CLAUSE_ENDS), len(tokens))
        has_or = any(tokens[k] in _NEGATION_RUNS for k in range(i + 1, end))
        j = i + 1
        while j + 2 < end:
            joiner, word = tokens[j + 1], tokens[j + 2]
            if not is_word(word) or not ((joiner == "," and has_or) or joiner in _NEGATION_RUNS):
                break
            negated.add(j + 2)
            j += 2
    return negated


def _after_hyphenated_non(sent, index: int) -> bool:
    """Whether the token at `index` of a sentence follows "non-" written as one word."""
    if index < 2:
        return False
    prefix, hyphen = sent[index - 2], sent[index - 1]
    return (
        prefix.lower_ == "non"
        and hyphen.text == "-"
        and not prefix.whitespace_
        and not hyphen.whitespace_
    )


def _term_words(term) -> set[str]:
    """Every form of every word group of a term."""
    return {word for group in term.groups for word in group}


def _negated_in(words: tuple[str, ...]) -> frozenset[str]:
    """The words an expansion negates itself ("non-ST elevation" negates "st")."""
    return frozenset(word for before, word in pairwise(words) if before in NEGATORS)


def _specific_first(
    matches: list[TermMatch], groups: list[frozenset] | None = None
) -> list[tuple[TermMatch, bool]]:
    """Each match with whether another match covers a strict superset of its words, or the
    same words with a strict superset of its term's word groups: an abbreviation's expansion
    read as "coronary artery disease" is not also "artery disease"."""
    position_sets = [frozenset(m.positions) for m in matches]
    term_groups = groups or [frozenset()] * len(matches)
    out = []
    for i, match in enumerate(matches):
        mine = position_sets[i]
        subsumed = any(
            mine < other or (mine == other and term_groups[i] < term_groups[j])
            for j, other in enumerate(position_sets)
            if j != i
        )
        out.append((match, subsumed))
    return out
