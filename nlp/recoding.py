"""Codes the classification asks to re-read once the whole chart is known (US convention).

Rules are data (`resources/us_recoding.json`):

- a manifestation code becomes its "in diseases classified elsewhere" form when the chart codes
  its cause: unspecified dementia (F03) beside Alzheimer's disease (G30) is dementia in other
  diseases (F02), with the same severity and behaviour characters;
- a fracture in a chart with known osteoporosis is a pathological fracture (M80), not a traumatic
  one, unless the chart names trauma that would break a healthy bone (I.C.13.d.1); the fracture's
  site, side and encounter carry over, and the osteoporosis code without fracture (M81) goes.

The replaced code's score, evidence and notes pass to the new code, with a note saying why.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from nlp.codeset import CodeSet, has_prefix, undot
from nlp.records import Note
from nlp.rule_files import ResourceError, read_text

RECODING_FILE = "us_recoding.json"


@dataclass(frozen=True)
class Manifestation:
    name: str
    guideline: str
    when_any: tuple[str, ...]
    from_to: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FractureSite:
    fracture: str
    site: str
    lateral: bool


@dataclass(frozen=True)
class OsteoporoticFractures:
    guideline: str
    osteoporosis: tuple[tuple[str, str], ...]
    sites: tuple[FractureSite, ...]
    sides: dict[str, str]
    unspecified_side: str
    encounters: dict[str, str]
    trauma: re.Pattern[str]
    drop: tuple[str, ...]

    def pathological(self, fracture: str, description: str, root: str) -> str | None:
        """The M80 code of a fracture code (its side read from its description) under the
        osteoporosis code root (`M80.0`)."""
        plain = undot(fracture)
        site = next((s for s in self.sites if plain.startswith(undot(s.fracture))), None)
        if site is None or len(plain) != 7 or plain[6] not in self.encounters:
            return None
        words = set(description.lower().replace(",", " ").split())
        side = next((d for w, d in self.sides.items() if w in words), self.unspecified_side)
        return f"{root}{site.site}{side if site.lateral else 'X'}{self.encounters[plain[6]]}"


class Recoder:
    def __init__(
        self,
        manifestations: tuple[Manifestation, ...],
        fractures: OsteoporoticFractures,
        codeset: CodeSet,
    ) -> None:
        self.manifestation_rules = manifestations
        self.fracture_rule = fractures
        self.codeset = codeset

    @classmethod
    def load(cls, codeset: CodeSet) -> Recoder:
        return cls.from_dict(json.loads(read_text(RECODING_FILE)), codeset)

    @classmethod
    def from_dict(cls, data: dict, codeset: CodeSet) -> Recoder:
        try:
            manifestations = tuple(
                Manifestation(
                    m["name"],
                    m["guideline"],
                    tuple(undot(p) for p in m["when_any"]),
                    tuple((undot(a), undot(b)) for a, b in m["from_to"]),
                )
                for m in data["manifestations"]
            )
            f = data["osteoporotic_fractures"]
            fractures = OsteoporoticFractures(
                guideline=f["guideline"],
                osteoporosis=tuple((undot(a), b) for a, b in f["osteoporosis"]),
                sites=tuple(FractureSite(s, site, bool(lat)) for s, site, lat in f["sites"]),
                sides=dict(f["sides"]),
                unspecified_side=f["unspecified_side"],
                encounters=dict(f["encounters"]),
                trauma=re.compile(f["trauma"], re.IGNORECASE),
                drop=tuple(undot(p) for p in f["drop"]),
            )
        except re.error as exc:
            raise ResourceError(f"{RECODING_FILE}: bad pattern: {exc}") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise ResourceError(f"{RECODING_FILE}: missing or malformed entry {exc}") from exc
        return cls(manifestations, fractures, codeset)

    def recode_manifestations(self, kept, score_of, support) -> dict[str, str]:
        """Manifestation codes re-read beside their cause, in place on the chart's codes
        (code -> notes); `score_of` and `support` gain the new codes. Returns what became
        what: run before conflicts are resolved, so that F02 meets G30 as its partner."""
        recoded: dict[str, str] = {}
        for rule in self.manifestation_rules:
            if not any(has_prefix(c, rule.when_any) for c in kept):
                continue
            for code in list(kept):
                plain = undot(code)
                pair = next((p for p in rule.from_to if plain.startswith(p[0])), None)
                if pair is not None:
                    new = pair[1] + plain[len(pair[0]) :]
                    why = f"{{code}} becomes {{new}}: {rule.name} ({rule.guideline})."
                    self._replace(kept, score_of, support, code, new, why, recoded)
        return recoded

    def recode_fractures(self, kept, score_of, support, text: str) -> dict[str, str]:
        """Fractures in known osteoporosis re-read as pathological (M80), in place on the
        chart's kept codes; run once the chart's codes are chosen. Returns what became what."""
        recoded: dict[str, str] = {}
        rule = self.fracture_rule
        osteoporosis = [
            (code, root)
            for prefix, root in rule.osteoporosis
            for code in kept
            if undot(code).startswith(prefix)
        ]
        if not osteoporosis or rule.trauma.search(text):
            return recoded
        known, root = osteoporosis[0]
        targets = {}
        for code in kept:
            new = rule.pathological(code, self.codeset[code].description, root)
            if new is not None:
                targets[code] = new
        # fractures of one site read with and without a side are one fracture: the side stays
        for code, new in targets.items():
            sided = [t for t in targets.values() if t[:6] == new[:6] and t != new]
            if new[6] == rule.unspecified_side and sided:
                targets[code] = sided[0]
        why = (
            "{code} becomes {new}: a fracture in known osteoporosis is pathological "
            f"({rule.guideline})."
        )
        for code, new in targets.items():
            # M80 states both the fracture and the osteoporosis: it stands on both
            self._replace(kept, score_of, support, code, new, why, recoded, joining=known)
        if recoded:
            for code in [c for c in kept if has_prefix(c, rule.drop)]:
                kept.pop(code)
        return recoded

    def _replace(self, kept, score_of, support, code, plain_new, why, recoded, joining=None):
        """`code` becomes `plain_new` (when that is a billable code), with its notes, score and
        support, and those of `joining` too."""
        new = self.codeset.canonical(plain_new)
        if new is None or new == code or not self.codeset[new].billable:
            return
        sources = [code] if joining is None else [code, joining]
        notes = kept.pop(code)
        notes.append(Note("recoded", why.format(code=code, new=new), (code,)))
        kept.setdefault(new, []).extend(notes)
        score_of[new] = max(score_of.get(new, 0.0), *(score_of[c] for c in sources))
        support[new] = [*support.get(new, []), *(i for c in sources for i in support.get(c, []))]
        recoded[code] = new
