"""Section detection: headers such as `PAST MEDICAL HISTORY:` open a section until the next one.

Headers come from `resources/sections.json`; a section may carry a context that applies to every
mention inside it (family history -> family, past medical history -> historical).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.language import Language
from spacy.tokens import Doc

from nlp.rule_files import SectionRule, load_sections

DEFAULT_SECTION = "body"
_HEADER = re.compile(r"^[ \t]*([A-Za-z][A-Za-z /&()'-]{1,60}?)[ \t]*(?::|$)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Section:
    start: int
    name: str
    context: str | None


if not Doc.has_extension("sections"):
    Doc.set_extension("sections", default=None)


class SectionDetector:
    """Finds section headers at line starts; stores `doc._.sections` sorted by start offset."""

    def __init__(self, nlp: Language, name: str, *, rules: list[SectionRule] | None = None):
        self.name = name
        self.rules = rules if rules is not None else load_sections()
        self.by_header = {h: rule for rule in self.rules for h in rule.headers}

    def __call__(self, doc: Doc) -> Doc:
        doc._.sections = self.find(doc.text)
        return doc

    def find(self, text: str) -> list[Section]:
        sections = [Section(0, DEFAULT_SECTION, None)]
        for match in _HEADER.finditer(text):
            label = match.group(1)
            rule = self.by_header.get(" ".join(label.lower().split()))
            if rule is None and label.isupper():
                rule = self._qualified(label.lower().split())
            if rule is not None:
                sections.append(Section(match.start(1), rule.name, rule.context))
        return sections

    def _qualified(self, words: list[str]) -> SectionRule | None:
        """A capitalised header that qualifies a known one ("ED IMPRESSION", "EXAM AT
        DISCHARGE"): the longest known header its words begin or end with."""
        for size in range(len(words) - 1, 0, -1):
            for part in (words[-size:], words[:size]):
                rule = self.by_header.get(" ".join(part))
                if rule is not None:
                    return rule
        return None


@Language.factory("chartcoder_sections", default_config={})
def make_section_detector(nlp: Language, name: str) -> SectionDetector:
    return SectionDetector(nlp, name)


def section_at(sections: list[Section], offset: int) -> Section:
    """The section that holds a character offset (sections sorted by start)."""
    current = sections[0]
    for section in sections:
        if section.start > offset:
            break
        current = section
    return current
