"""The shape of a chart's text that the US coding rules read: problem-oriented statements (the head
clause that names a diagnosis, the elaboration after it), form labels, and where a supporting
item (a coded mention or a text finding) sits.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable

# "ESTIMATED BLOOD LOSS:" at a line start: a form label of two or more capitalised words.
_FORM_LABEL = re.compile(r"^[ \t]*([A-Z][A-Z0-9 /&()'-]*[A-Z)])[ \t]*:", re.MULTILINE)
# A problem-oriented statement: "3. CKD stage 3a, eGFR 52 - stable. Continue lisinopril."; its
# head clause names the diagnosis, what follows elaborates (findings, plans, causes).
_LIST_MARK = re.compile(r"[ \t]*(?:\(?\d{1,2}[.)]|[-*\u2022])?[ \t]*")
_LABEL = re.compile(r"[^:\n]{1,40}:[ \t]*(?=\S)")
_CLAUSE_END = re.compile(
    r" [-\u2013\u2014]+ |;|: |\. |, (?:s/p|on|with|due|and|but|likely|now|no|not)\b"
)


def statement_heads(text: str, line_starts: list[int]) -> list[int]:
    """Per line, where its head clause ends: after a list marker and a short label ("HTN:",
    "PRINCIPAL DIAGNOSIS:"), up to the first dash, semicolon, colon or sentence end."""
    heads = []
    for index, start in enumerate(line_starts):
        end = line_starts[index + 1] - 1 if index + 1 < len(line_starts) else len(text)
        pos = _LIST_MARK.match(text, start, end).end()  # type: ignore[union-attr]
        label = _LABEL.match(text, pos, end)
        if label is not None:
            pos = label.end()
        clause = _CLAUSE_END.search(text, pos, end)
        heads.append(clause.start() if clause else end)
    return heads


def stratum(items: list, line_starts: list[int], heads: list[int]) -> str:
    """How a code is supported: `rule` (added by a guideline, no mention of its own),
    `statement` (a mention in the head clause of its line) or `elaboration`."""
    mentions = [i for i in items if hasattr(i, "mention")]
    if not mentions:
        return "rule"
    for item in mentions:
        line = bisect_right(line_starts, item.mention.start) - 1
        if item.mention.start < heads[line]:
            return "statement"
    return "elaboration"


def item_start(item) -> int:
    """Where a supporting item (a coded mention or a text finding) starts."""
    return item.mention.start if hasattr(item, "mention") else item.start


def item_sentence(item) -> int:
    return item.mention.sentence if hasattr(item, "mention") else item.sentence


def item_end(item) -> int:
    return item.mention.end if hasattr(item, "mention") else item.end


def item_groups(item) -> int:
    return item.mention.n_groups if hasattr(item, "mention") else 0


def form_labels(text: str, header_starts: Iterable[int], capitalised: bool = True) -> list[range]:
    """Character ranges of section headers and (with `capitalised`) capitalised form labels of
    two or more words at line starts: words there name a field, they state no diagnosis."""
    labels = (
        [range(m.start(1), m.end(1)) for m in _FORM_LABEL.finditer(text) if " " in m.group(1)]
        if capitalised
        else []
    )
    for start in header_starts:
        end = start
        while end < len(text) and text[end] not in ":\n":
            end += 1
        labels.append(range(start, end))
    return labels
