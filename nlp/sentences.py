"""Sentence boundaries: spaCy's rule-based sentencizer plus a break at every line end.

Clinical notes put headers, list items and problem-list entries on their own lines without final
punctuation; medspaCy's PyRuSH handles that too but is about 6x slower here.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc


@Language.component("chartcoder_line_breaks")
def line_breaks(doc: Doc) -> Doc:
    """Start a sentence after every token that holds or is followed by a line break."""
    for token in doc[:-1]:
        if "\n" in token.whitespace_ or (token.is_space and "\n" in token.text):
            doc[token.i + 1].is_sent_start = True
    return doc


def add_sentence_pipes(nlp: Language) -> None:
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("chartcoder_line_breaks")
