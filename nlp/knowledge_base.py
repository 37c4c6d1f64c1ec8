"""Terms that link chart language to ICD-10-CM codes, built from the coders' own dictionaries.

Sources, each kept as a `source` on the term so the ranker can weigh them:
- `index`: the Alphabetic Index (main term > subterms, nonessential modifiers optional,
  "see" and "see also" cross-references resolved to the entry they point at);
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
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from nlp.codeset import CodeSet, undot
from nlp.rule_files import load_neoplasm_behaviors
from nlp.text import NEGATORS, is_word, normalize

log = logging.getLogger(__name__)

INDEX_FILE = "icd10cm-index/icd10cm_index_2025_flat.tsv.gz"
NEOPLASM_FILE = "icd10cm-index/icd10cm_neoplasm_2025_flat.tsv.gz"
SOURCES = ("index", "neoplasm", "tabular", "inclusion", "learned")
_PARENS = re.compile(r"\(([^)]*)\)")
# The classification's own phrase for an organism code (B95-B97): charts name the organism,
# not "the cause of diseases classified elsewhere", so its words are optional.
_CAUSE_PHRASE = re.compile(r"\bas (?:the )?cause of diseases? classified elsewhere\b", re.I)
# Levels of a Table of Neoplasms path that a chart must name (see `neoplasm_terms`).
SITE_LEVELS = 2
# Words a cross-reference may add or leave out without naming another entry.
_REFERENCE_FILLERS = frozenset({"a", "an", "and", "or", "of", "the", "nec", "nos"})


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
        """A term from free text; parenthesised words become optional, as do the words of
        "as the cause of diseases classified elsewhere".

        `variant_groups`: word lists of which any one word must appear (`Diabetes, diabetic`).
        """
        text = _CAUSE_PHRASE.sub(r"(\g<0>)", text)
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
    `Abdomen, abdominal`, `larynx, laryngeal NEC`) becomes a variant group; any other comma
    (`benign, intracranial`) just separates words. Words after the last form belong to it
    (`lymph, lymphatic channel NEC` is a lymph or lymphatic channel), but the flattened table
    has merged them with a subterm: below that component (`... > gland`) they are optional.
    """
    plain: list[str] = []
    groups: list[list[str]] = []
    for depth, component in enumerate(components, start=1):
        parts = [p.strip() for p in component.split(",")]
        forms = [p.split()[0] if p else "" for p in parts]
        one_word_each = all(" " not in p for p in parts[:-1])
        one_stem = all(f[:4].lower() == forms[0][:4].lower() for f in forms)
        if len(parts) > 1 and one_word_each and one_stem:
            groups.append(forms)
            rest = " ".join(parts[-1].split()[1:])
            if rest:
                plain.append(rest if depth == len(components) else f"({rest})")
        else:
            plain.append(component.replace(",", " "))
    return " ".join(plain), groups


def read_index(data_dir: Path) -> list[dict[str, str]]:
    with gzip.open(data_dir / INDEX_FILE, "rt", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


class CrossReferences:
    """Follows the index's "see" and "see also" references to the code of the entry they name.

    A reference names a main term by its first form, then its subterms: "Obstruction, intestine"
    is the entry `Obstruction, obstructed, obstructive > intestine`. It is read as words, since
    the flattened index splits some subterms into levels ("Abscess, upper limb" is
    `Abscess > upper > limb`), and references differ from entries in plurals, connectors and
    nonessential words ("Complications, transfusion" is `Complication > transfusion`,
    "Trait, hemoglobin, abnormal" is `... > abnormal NEC`). References "by site" or to
    "condition" name no entry.
    """

    MAX_HOPS = 3

    def __init__(self, rows: list[dict[str, str]], code_columns: Iterable[str] = ("code",)) -> None:
        self.code_columns = tuple(code_columns)
        self.rows: dict[tuple[str, ...], dict[str, str]] = {}
        self.children: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = defaultdict(dict)
        for row in rows:
            path = tuple(part.strip() for part in row["full_term_path"].split(" > "))
            self.rows[path] = row
            for depth in range(1, len(path) + 1):
                children, name = self.children[path[: depth - 1]], path[depth - 1]
                for form in (name, name.split(",")[0], _PARENS.sub(" ", name)):
                    children.setdefault(" ".join(_reference_words(form)), path[:depth])

    def code(self, reference: str) -> str:
        """The code of the entry a reference names, or ""."""
        row = self.target(reference)
        return row["code"] if row is not None else ""

    def target(self, reference: str, hops: int = 0) -> dict[str, str] | None:
        """The entry a reference names, following the entry's own "see" if it has no code."""
        words = _reference_words(reference)
        path: tuple[str, ...] = ()
        start = 0
        while start < len(words):
            options = self.children.get(path, {})
            for end in range(len(words), start, -1):
                found = options.get(" ".join(words[start:end]))
                if found is not None:
                    path, start = found, end
                    break
            else:
                return None
        row = self.rows.get(path)
        if row is not None and row["see"] and not self.has_code(row) and hops < self.MAX_HOPS:
            return self.target(row["see"], hops + 1)
        return row

    def has_code(self, row: dict[str, str]) -> bool:
        return any(_table_code(row[column]) for column in self.code_columns)


def _reference_words(name: str) -> list[str]:
    words = re.sub(r"[^a-z0-9']+", " ", name.lower()).split()
    if words[-2:] == ["by", "site"]:  # "see Ulcer, pressure, by site": the entry, sites below it
        words = words[:-2]
    return [normalize(w) for w in words if w not in _REFERENCE_FILLERS]


def index_terms(
    rows: list[dict[str, str]], tokenizer: TermTokenizer, codeset: CodeSet
) -> Iterator[Term]:
    """Terms of the Alphabetic Index; codes are kept as printed (partial codes end in '-').

    An entry without a code takes the code its "see" reference leads to or, failing that, the
    code of its "see also" entry (`Coagulopathy - see also Defect, coagulation` is D68.9), or
    failing both, the category its subentries' codes share (`Disorder, tobacco use`, whose
    subentries are all F17.2-, is F17.2: the resolver then reads "cigarettes" as F17.210).
    """
    references = CrossReferences(rows)
    below = _codes_below(rows)
    for row in rows:
        code = row["code"]
        for reference in (row["see"], row["see_also"]):
            if not code and reference:
                code = references.code(reference)
        if not code and _is_subentry(row):
            code = _common_category(below.get(row["full_term_path"], ()), codeset)
        if not code or codeset.canonical(code) is None:
            continue
        plain, variants = split_variants(row["full_term_path"].split(" > "))
        text = f"{plain} {row['nemod']}"
        term = tokenizer.term(code.rstrip("-").rstrip("."), text, "index", variants)
        if term is not None:
            yield term


_SHARED_CODE = 4  # undotted characters: F17.2
_CONNECTORS = frozenset({"with", "without", "in", "due to", "and", "or", "of"})


def _is_subentry(row: dict[str, str]) -> bool:
    """A subentry that names something (not a main term, not a bare "with" or "due to")."""
    parts = row["full_term_path"].split(" > ")
    return len(parts) > 1 and parts[-1].strip().lower() not in _CONNECTORS


def _codes_below(rows: list[dict[str, str]]) -> dict[str, list[str]]:
    """The codes printed under each entry (its subentries at any depth), by entry path."""
    below: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row["code"]:
            parts = row["full_term_path"].split(" > ")
            for depth in range(1, len(parts)):
                below[" > ".join(parts[:depth])].append(row["code"])
    return below


def _common_category(codes: Iterable[str], codeset: CodeSet) -> str:
    """The longest code (a subcategory at least: a category is too broad to guess) that every
    one of several different codes falls under, or "" when they share none."""
    plain = {undot(c) for c in codes}
    if len(plain) < 2:
        return ""
    first, last = min(plain), max(plain)
    shared = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), 0)
    common = first[:shared]
    while len(common) >= _SHARED_CODE and codeset.canonical(common) is None:
        common = common[:-1]
    return (codeset.canonical(common) or "") if len(common) >= _SHARED_CODE else ""


def neoplasm_terms(
    data_dir: Path, tokenizer: TermTokenizer, behaviors: dict[str, tuple[str, ...]]
) -> Iterator[Term]:
    """Terms of the Table of Neoplasms: a site plus a word of the column's behaviour.

    A site is named by its own entry and the one above it ("colon > ascending" is the ascending
    colon); entries higher up are optional words ("intestine > large" above it), as charts
    rarely spell them out. A column the site leaves empty takes the code of its "see" or "see
    also" entry: "bowel - see Neoplasm, intestine" takes all of its codes, and "colon (see also
    Neoplasm, intestine, large)", which prints only the malignant ones, takes the benign and in
    situ codes there.
    """
    with gzip.open(data_dir / NEOPLASM_FILE, "rt", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    references = CrossReferences(rows, behaviors)
    for row in rows:
        components = row["full_term_path"].split(" > ")[1:]
        plain, variants = split_variants(components[-SITE_LEVELS:])
        broader = re.sub(r"[(),]", " ", " ".join(components[:-SITE_LEVELS]))
        if broader.strip():
            plain = f"{plain} ({broader})"
        entries = [row]
        for reference in (row["see"], row["see_also"]):
            target = references.target(reference) if reference else None
            if target is not None:
                entries.append(target)
        for column, words in behaviors.items():
            code = next((c for entry in entries if (c := _table_code(entry[column]))), "")
            if not code:
                continue
            term = tokenizer.term(
                code, f"{plain} {row['nemod']}", "neoplasm", [*variants, list(words)]
            )
            if term is not None:
                yield term


def _table_code(cell: str) -> str:
    """A code cell of the index or the Table of Neoplasms ("C77.-" -> "C77"); "-" is no code."""
    return cell.strip().rstrip("-").rstrip(".")


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
