"""Rule and vocabulary files shipped in `nlp/resources`, loaded and validated on load."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

CONTEXT_CATEGORIES = (
    "NEGATED_EXISTENCE",
    "POSSIBLE_EXISTENCE",
    "HISTORICAL",
    "HYPOTHETICAL",
    "FAMILY",
    "TERMINATE",
    "PSEUDO",
)
CONTEXT_DIRECTIONS = ("FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO")
# "excluded": mentions in the section are not diagnoses of this encounter (allergies)
SECTION_CONTEXTS = (None, "family", "historical", "hypothetical", "excluded")
RESOURCE_FILES = (
    "abbreviations.tsv",
    "context_rules.json",
    "neoplasm_behaviors.json",
    "family_history.tsv",
    "personal_history.tsv",
    "sections.json",
    "term_stopwords.txt",
    "us_guidelines.json",
    "us_recoding.json",
    "word_variants.tsv",
)
NEOPLASM_COLUMNS = (
    "malignant_primary",
    "malignant_secondary",
    "ca_in_situ",
    "benign",
    "uncertain_behavior",
    "unspecified_behavior",
)


class ResourceError(ValueError):
    """A rule or vocabulary file does not have the expected shape."""


@dataclass(frozen=True, slots=True)
class ContextRule:
    literal: str
    category: str
    direction: str
    max_scope: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContextRule:
        literal = data.get("literal")
        if not isinstance(literal, str) or not literal.strip():
            raise ResourceError(f"context rule needs a non-empty 'literal', got {data!r}")
        category = data.get("category")
        if category not in CONTEXT_CATEGORIES:
            raise ResourceError(
                f"context rule {literal!r}: category {category!r} is not one of "
                f"{', '.join(CONTEXT_CATEGORIES)}"
            )
        direction = data.get("direction", "BIDIRECTIONAL")
        if direction not in CONTEXT_DIRECTIONS:
            raise ResourceError(
                f"context rule {literal!r}: direction {direction!r} is not one of "
                f"{', '.join(CONTEXT_DIRECTIONS)}"
            )
        max_scope = data.get("max_scope")
        if max_scope is not None and (not isinstance(max_scope, int) or max_scope < 1):
            raise ResourceError(
                f"context rule {literal!r}: max_scope must be null or a positive integer, "
                f"got {max_scope!r}"
            )
        return cls(literal.strip().lower(), category, direction, max_scope)


@dataclass(frozen=True, slots=True)
class SectionRule:
    name: str
    headers: tuple[str, ...]
    context: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SectionRule:
        name = data.get("name")
        headers = data.get("headers")
        context = data.get("context")
        if not isinstance(name, str) or not name:
            raise ResourceError(f"section needs a 'name', got {data!r}")
        if (
            not isinstance(headers, list)
            or not headers
            or not all(isinstance(h, str) and h for h in headers)
        ):
            raise ResourceError(f"section {name!r} needs a non-empty list of 'headers'")
        if context not in SECTION_CONTEXTS:
            raise ResourceError(
                f"section {name!r}: context {context!r} is not one of {SECTION_CONTEXTS}"
            )
        return cls(name, tuple(h.strip().lower() for h in headers), context)


@dataclass(frozen=True, slots=True)
class Abbreviation:
    abbreviation: str
    expansion: str
    case_sensitive: bool


def read_text(name: str) -> str:
    return resources.files("nlp.resources").joinpath(name).read_text(encoding="utf-8")


def fingerprint() -> str:
    """A hash of every rule file: part of each artefact's stamp."""
    digest = hashlib.sha256()
    for name in RESOURCE_FILES:
        digest.update(name.encode())
        digest.update(read_text(name).encode("utf-8"))
    return digest.hexdigest()[:12]


def _tsv_rows(name: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(read_text(name)), delimiter="\t")
    if tuple(reader.fieldnames or ()) != columns:
        raise ResourceError(f"{name}: header must be {columns}, got {reader.fieldnames}")
    rows = []
    for line_no, row in enumerate(reader, start=2):
        if any(not (row.get(col) or "").strip() for col in columns):
            raise ResourceError(f"{name}:{line_no}: every column needs a value, got {row!r}")
        rows.append({col: row[col].strip() for col in columns})
    return rows


def load_context_rules() -> list[ContextRule]:
    data = json.loads(read_text("context_rules.json"))
    return [ContextRule.from_dict(item) for item in data["context_rules"]]


def load_sections() -> list[SectionRule]:
    data = json.loads(read_text("sections.json"))
    rules = [SectionRule.from_dict(item) for item in data["sections"]]
    seen: dict[str, str] = {}
    for rule in rules:
        for header in rule.headers:
            if header in seen and seen[header] != rule.name:
                raise ResourceError(
                    f"section header {header!r} is claimed by {seen[header]!r} and {rule.name!r}"
                )
            seen[header] = rule.name
    return rules


def load_abbreviations() -> list[Abbreviation]:
    rows = _tsv_rows("abbreviations.tsv", ("abbreviation", "expansion", "case_sensitive"))
    out = []
    for row in rows:
        flag = row["case_sensitive"].lower()
        if flag not in ("true", "false"):
            raise ResourceError(
                f"abbreviations.tsv: case_sensitive of {row['abbreviation']!r} must be "
                f"true or false, got {row['case_sensitive']!r}"
            )
        out.append(Abbreviation(row["abbreviation"], row["expansion"], flag == "true"))
    return out


def load_prefix_map(name: str) -> dict[str, str]:
    """`family_history.tsv` / `personal_history.tsv`: disease code prefix -> history code."""
    target = "family_history_code" if name.startswith("family") else "personal_history_code"
    rows = _tsv_rows(name, ("code_prefix", target))
    return {row["code_prefix"].replace(".", "").upper(): row[target].upper() for row in rows}


def load_term_stopwords() -> frozenset[str]:
    words = (line.strip() for line in read_text("term_stopwords.txt").splitlines())
    return frozenset(w for w in words if w and not w.startswith("#"))


def load_word_variants() -> dict[str, str]:
    """Chart word -> the word the index uses (`renal` -> `kidney`, `tumour` -> `tumor`)."""
    rows = _tsv_rows("word_variants.tsv", ("word", "variant"))
    return {row["word"].lower(): row["variant"].lower() for row in rows}


def load_neoplasm_behaviors() -> dict[str, tuple[str, ...]]:
    """Table of Neoplasms column -> words that tell that behaviour."""
    data = json.loads(read_text("neoplasm_behaviors.json"))["behaviors"]
    if set(data) != set(NEOPLASM_COLUMNS):
        raise ResourceError(
            f"neoplasm_behaviors.json: behaviours must be {NEOPLASM_COLUMNS}, got {sorted(data)}"
        )
    out = {}
    for column, words in data.items():
        if not words or not all(isinstance(w, str) and w and " " not in w for w in words):
            raise ResourceError(f"neoplasm_behaviors.json: {column} needs single words")
        out[column] = tuple(w.lower() for w in words)
    return out


@dataclass(frozen=True, slots=True)
class Chapter:
    first: str
    last: str
    name: str


def load_chapters() -> list[Chapter]:
    """ICD-10-CM chapters by category range (`chapters.tsv`), for reports by chapter."""
    rows = _tsv_rows("chapters.tsv", ("first", "last", "chapter"))
    chapters = [Chapter(row["first"].upper(), row["last"].upper(), row["chapter"]) for row in rows]
    for chapter in chapters:
        if not chapter.first <= chapter.last:
            raise ResourceError(f"chapters.tsv: {chapter.first} comes after {chapter.last}")
    return chapters
