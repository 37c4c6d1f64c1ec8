"""Terms that link chart language to ICD-10-CM codes, built from the coders' own dictionaries.

Sources, each kept as a `source` on the term so the ranker can weigh them:
- `index`: the Alphabetic Index (main term > subterms, nonessential modifiers optional,
  "see" cross-references resolved to the entry they point at);
- `tabular`: every code's tabular description; `inclusion`: its inclusion terms;
- `learned`: term-to-code associations mined from coded training charts (see `nlp.learning`).

A term is a bag of required token groups (any alternative of a group may match: the index's
`Diabetes, diabetic` main term is one group of two words) plus optional tokens.
"""

from __future__ import annotations

import csv
import gzip
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from nlp.codeset import CodeSet
from nlp.rule_files import load_neoplasm_behaviors
from nlp.text import NEGATORS, is_word, normalize

log = logging.getLogger(__name__)

INDEX_FILE = "icd10cm-index/icd10cm_index_2025_flat.tsv.gz"
NEOPLASM_FILE = "icd10cm-index/icd10cm_neoplasm_2025_flat.tsv.gz"
SOURCES = ("index", "neoplasm", "tabular", "inclusion", "learned")
_PARENS = re.compile(r"\(([^)]*)\)")


class Term(NamedTuple):
    """A term of the knowledge base (a NamedTuple: 185k of them unpickle in each actor)."""

    code: str
    groups: tuple[tuple[str, ...], ...]
    optional: tuple[str, ...]
    source: str
    text: str
    weight: float = 0.0  # learned terms: P(code | term) in the training charts
    negated: frozenset[str] = frozenset()  # words the term negates ("without aura")


class TermTokenizer:
    """Splits and normalises term text exactly as chart text is (spaCy's English tokenizer)."""

    def __init__(self, stopwords: frozenset[str]) -> None:
        import spacy

        self._tokenizer = spacy.blank("en").tokenizer
        self.stopwords = stopwords

    def words(self, text: str) -> list[str]:
        return [w for w, _ in self.marked_words(text)]

    def marked_words(self, text: str) -> list[tuple[str, bool]]:
        """(word, negated) pairs: negated when the word follows "without", "not", "no"."""
        words = []
        after_negator = False
        for token in self._tokenizer(text):
            if not is_word(token.text):
                continue
            norm = normalize(token.text)
            if norm and norm not in self.stopwords:
                words.append((norm, after_negator))
            after_negator = token.text.lower() in NEGATORS
        return words

    def term(
        self, code: str, text: str, source: str, variant_groups: Iterable[Iterable[str]] = ()
    ) -> Term | None:
        """A term from free text; parenthesised words become optional.

        `variant_groups`: word lists of which any one word must appear (`Diabetes, diabetic`).
        """
        optional = [w for part in _PARENS.findall(text) for w in self.words(part)]
        marked = self.marked_words(_PARENS.sub(" ", text))
        required = [w for w, _ in marked]
        negated = frozenset(w for w, neg in marked if neg)
        groups: list[tuple[str, ...]] = []
        for variants in variant_groups:
            group = tuple(dict.fromkeys(w for v in variants for w in self.words(v)))
            if group:
                groups.append(group)
        for word in required:
            if not any(word in g for g in groups):
                groups.append((word,))
        if not groups:
            return None
        return Term(
            code, tuple(groups), tuple(dict.fromkeys(optional)), source, text, negated=negated
        )


def split_variants(components: list[str]) -> tuple[str, list[list[str]]]:
    """Path components -> (plain text, variant groups).

    A component whose comma-separated parts are forms of one word (`Diabetes, diabetic`,
    `Abdomen, abdominal`) becomes a variant group; any other comma (`benign, intracranial`)
    just separates words.
    """
    plain: list[str] = []
    groups: list[list[str]] = []
    for component in components:
        parts = [p.strip() for p in component.split(",")]
        if len(parts) > 1 and all(
            " " not in p and p[:4].lower() == parts[0][:4].lower() for p in parts
        ):
            groups.append(parts)
        else:
            plain.append(component.replace(",", " "))
    return " ".join(plain), groups


def read_index(data_dir: Path) -> list[dict[str, str]]:
    with gzip.open(data_dir / INDEX_FILE, "rt", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def index_terms(
    rows: list[dict[str, str]], tokenizer: TermTokenizer, codeset: CodeSet
) -> Iterator[Term]:
    """Terms of the Alphabetic Index; codes are kept as printed (partial codes end in '-')."""
    by_path: dict[tuple[str, ...], str] = {}
    for row in rows:
        if row["code"]:
            by_path[tuple(tokenizer.words(row["full_term_path"].replace(">", " ")))] = row["code"]
    for row in rows:
        code = row["code"]
        if not code and row["see"]:
            code = by_path.get(tuple(tokenizer.words(row["see"])), "")
        if not code or codeset.canonical(code) is None:
            continue
        plain, variants = split_variants(row["full_term_path"].split(" > "))
        text = f"{plain} {row['nemod']}"
        term = tokenizer.term(code.rstrip("-").rstrip("."), text, "index", variants)
        if term is not None:
            yield term


def neoplasm_terms(
    data_dir: Path, tokenizer: TermTokenizer, behaviors: dict[str, tuple[str, ...]]
) -> Iterator[Term]:
    """Terms of the Table of Neoplasms: a site plus a word of the column's behaviour."""
    with gzip.open(data_dir / NEOPLASM_FILE, "rt", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    for row in rows:
        components = row["full_term_path"].split(" > ")[1:]
        plain, variants = split_variants(components)
        for column, words in behaviors.items():
            code = row[column].strip().rstrip("-").rstrip(".")
            if not code or code.startswith("-"):
                continue
            term = tokenizer.term(
                code, f"{plain} {row['nemod']}", "neoplasm", [*variants, list(words)]
            )
            if term is not None:
                yield term


def tabular_terms(codeset: CodeSet, tokenizer: TermTokenizer) -> Iterator[Term]:
    for code, info in codeset.codes.items():
        term = tokenizer.term(code, info.description, "tabular")
        if term is not None:
            yield term
        for inclusion in info.inclusion_terms:
            term = tokenizer.term(code, inclusion, "inclusion")
            if term is not None:
                yield term


def build_terms(
    codeset: CodeSet,
    tokenizer: TermTokenizer,
    data_dir: Path | None,
    extra: Iterable[Term] = (),
    behaviors: dict[str, tuple[str, ...]] | None = None,
) -> list[Term]:
    """All terms, de-duplicated on (code, groups). Without a data folder: the tabular list only."""
    terms: dict[tuple[str, tuple[tuple[str, ...], ...]], Term] = {}
    sources: list[Iterable[Term]] = []
    if data_dir is not None:
        sources.append(index_terms(read_index(data_dir), tokenizer, codeset))
        sources.append(neoplasm_terms(data_dir, tokenizer, behaviors or load_neoplasm_behaviors()))
    sources += [tabular_terms(codeset, tokenizer), extra]
    for source in sources:
        for term in source:
            canonical = codeset.canonical(term.code)
            if canonical is None:
                continue
            key = (canonical, term.groups)
            if key not in terms:
                terms[key] = Term(
                    canonical,
                    term.groups,
                    term.optional,
                    term.source,
                    term.text,
                    term.weight,
                    term.negated,
                )
    log.info("built %d terms", len(terms))
    return list(terms.values())
