"""ConText (Harkema et al. 2009), the algorithm behind medspaCy's ConText, on plain offsets.

Trigger phrases from `resources/context_rules.json` (medspaCy's rule format) open a scope within
their sentence: forward, backward or both, up to `max_scope` words or a terminating trigger.
A mention inside the scope takes the trigger's category; pseudo-triggers (`no increase`) block
the triggers they overlap. The mention's section can add a context of its own (family history).
This implementation works on the linker's mentions (plain data) and is several times faster than
medspaCy's component, whose rule objects also do not pickle.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from spacy.language import Language
from spacy.tokens import Doc

from nlp.linking import Mention
from nlp.rule_files import ContextRule, load_context_rules
from nlp.text import is_word

_CATEGORY_FLAG = {
    "NEGATED_EXISTENCE": "negated",
    "HYPOTHETICAL": "hypothetical",
    "FAMILY": "family",
    "POSSIBLE_EXISTENCE": "uncertain",
    "HISTORICAL": "historical",
}
_SECTION_FLAG = {
    "family": "family",
    "historical": "historical",
    "hypothetical": "hypothetical",
    "excluded": "hypothetical",
}


@dataclass(frozen=True, slots=True)
class Scope:
    """Character span a trigger modifies, with its flag and the trigger's own span."""

    start: int
    end: int
    flag: str
    trigger_start: int
    trigger_end: int


@dataclass(frozen=True, slots=True)
class Trigger:
    start: int  # word index in the sentence
    end: int  # exclusive
    rule: ContextRule


class ConText:
    def __init__(self, nlp: Language, name: str, *, rules: list[ContextRule] | None = None):
        self.name = name
        self.rules = rules if rules is not None else load_context_rules()
        tokenizer = nlp.tokenizer
        self.by_first: dict[str, list[tuple[tuple[str, ...], ContextRule]]] = defaultdict(list)
        for rule in self.rules:
            words = tuple(t.text.lower() for t in tokenizer(rule.literal) if is_word(t.text))
            if words:
                self.by_first[words[0]].append((words, rule))
        for entries in self.by_first.values():
            entries.sort(key=lambda e: -len(e[0]))

    def __call__(self, doc: Doc) -> Doc:
        mentions: list[Mention] = doc._.mentions or []
        if not mentions:
            return doc
        by_sentence: dict[int, list[int]] = defaultdict(list)
        for i, mention in enumerate(mentions):
            by_sentence[mention.sentence].append(i)
        updated = list(mentions)
        for index, sent in enumerate(doc.sents):
            if index not in by_sentence:
                continue
            words = [t for t in sent if is_word(t.text)]
            flags = self._scopes(words)
            for i in by_sentence[index]:
                updated[i] = _assert(mentions[i], flags)
        doc._.mentions = updated
        return doc

    def _triggers(self, lowered: list[str]) -> list[Trigger]:
        triggers: list[Trigger] = []
        i = 0
        while i < len(lowered):
            found = None
            for words, rule in self.by_first.get(lowered[i], ()):
                if tuple(lowered[i : i + len(words)]) == words:
                    found = Trigger(i, i + len(words), rule)
                    break
            if found is None:
                i += 1
                continue
            triggers.append(found)
            i = found.end
        return triggers

    def _scopes(self, words: list) -> list[Scope]:
        """The scopes that the sentence's triggers open."""
        lowered = [t.text.lower() for t in words]
        triggers = self._triggers(lowered)
        modifiers = [
            t
            for t in triggers
            if t.rule.direction not in ("TERMINATE", "PSEUDO")
            and t.rule.category not in ("TERMINATE", "PSEUDO")
        ]
        stops = [
            t for t in triggers if t.rule.direction == "TERMINATE" or t.rule.category == "TERMINATE"
        ]
        scopes = []
        n = len(words)
        for trig in modifiers:
            flag = _CATEGORY_FLAG.get(trig.rule.category)
            if flag is None:
                continue
            limit = trig.rule.max_scope or n
            lo, hi = trig.start, trig.end
            if trig.rule.direction in ("FORWARD", "BIDIRECTIONAL"):
                end = min(n, trig.end + limit)
                for stop in stops:
                    if trig.end <= stop.start < end:
                        end = stop.start
                hi = end
            if trig.rule.direction in ("BACKWARD", "BIDIRECTIONAL"):
                begin = max(0, trig.start - limit)
                for stop in stops:
                    if begin <= stop.end - 1 < trig.start:
                        begin = stop.end
                lo = begin
            trigger_start = words[trig.start].idx
            trigger_end = words[trig.end - 1].idx + len(words[trig.end - 1])
            if lo < trig.start:
                scopes.append(Scope(words[lo].idx, trigger_start, flag, trigger_start, trigger_end))
            if hi > trig.end:
                scopes.append(
                    Scope(
                        words[trig.end].idx,
                        words[hi - 1].idx + len(words[hi - 1]),
                        flag,
                        trigger_start,
                        trigger_end,
                    )
                )
        return scopes


def _assert(mention: Mention, scopes: list[Scope]) -> Mention:
    """A mention takes a scope's flag when the two overlap (a linked mention may span words
    on both sides of a trigger: `Skin: no suspicious lesions`), unless the trigger is a word
    of the term itself (`migraine without aura`)."""
    flags = {
        scope.flag
        for scope in scopes
        if mention.start < scope.end
        and scope.start < mention.end
        and not (
            mention.negates
            and mention.start < scope.trigger_start
            and scope.trigger_end <= mention.end
        )
    }
    if mention.section_context in _SECTION_FLAG:
        flags.add(_SECTION_FLAG[mention.section_context])
    if not flags:
        return mention
    assertion = "present"
    for flag in ("family", "uncertain", "historical"):
        if flag in flags:
            assertion = flag
            break
    return replace(
        mention,
        assertion=assertion,
        negated="negated" in flags,
        hypothetical="hypothetical" in flags,
    )


@Language.factory("chartcoder_context", default_config={})
def make_context(nlp: Language, name: str) -> ConText:
    return ConText(nlp, name)
