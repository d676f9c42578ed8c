"""The rule engine: mask idioms, match the rule table, scope each match, combine signals into a level.

Scanning one turn gives :class:`Signal` objects (a rule match plus its context: negated? whose risk?
reported? in the past?). :func:`combine` turns the signals of a window of user turns, oldest
first, into a :class:`Verdict`. All patterns are compiled once at import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from xinyu.safety import idioms
from xinyu.safety.normalize import normalize
from xinyu.safety.rules import IMMINENCE_KINDS, PLAN_QUESTION, QUESTION_MARK, QUESTION_RULES, RULES, Rule
from xinyu.safety.types import Category, Level

_MASK = "□"
_FLAGS = re.IGNORECASE


@dataclass(slots=True)
class Signal:
    """One rule match in one user turn, with its context resolved.

    Attributes:
        rule: The rule that matched.
        start: Offset in the original turn text.
        end: End offset (exclusive).
        text: The matched original text.
        subject: ``"self"``, ``"other"`` or ``"generic"`` (whose risk it is).
        negated: A negation scopes over the match ("我没有想死").
        reported: News, fiction or study context, and the user is not the subject.
        demoted: In the past and resolved (or past abuse): distress, not crisis.
        turn: 0 for the current turn, ``-k`` for the k-th earlier user turn.
    """

    rule: Rule
    start: int
    end: int
    text: str
    subject: str = "self"
    negated: bool = False
    reported: bool = False
    demoted: bool = False
    turn: int = 0

    @property
    def kind(self) -> str:
        """The rule's kind."""
        return self.rule.kind

    def at_turn(self, turn: int) -> Signal:
        """A copy placed at another turn index."""
        return Signal(self.rule, self.start, self.end, self.text, self.subject, self.negated, self.reported,
                      self.demoted, turn)


@dataclass(slots=True)
class Verdict:
    """The rule layer's decision over a window of turns."""

    level: Level = Level.NONE
    imminent: bool = False
    categories: set[Category] = field(default_factory=set)
    evidence: list[Signal] = field(default_factory=list)
    subject: str = "self"
    ambiguous: bool = False
    score: float = 0.0


class RuleEngine:
    """Compiled rule and idiom tables.

    Args:
        rules: The risk rule table (default :data:`xinyu.safety.rules.RULES`).
        benign: ``(name, pattern)`` idioms masked before matching.
    """

    def __init__(self, rules: tuple[Rule, ...] = RULES, benign: tuple[tuple[str, str], ...] = idioms.BENIGN) -> None:
        self.rules = rules
        self._rules = [(rule, re.compile(rule.pattern, _FLAGS)) for rule in rules]
        # One alternation for all idioms: a single pass masks them all.
        self._benign = re.compile("|".join(f"(?:{pattern})" for _, pattern in benign), _FLAGS)
        self._neg_before = re.compile(idioms.NEGATION_BEFORE, _FLAGS)
        self._neg_after = re.compile(idioms.NEGATION_AFTER, _FLAGS)
        self._subject = re.compile(
            f"(?P<generic>{idioms.GENERIC_SUBJECT})|(?P<other>{idioms.OTHER_SUBJECT})|(?P<self>{idioms.SELF_SUBJECT})", _FLAGS
        )
        self._reported = re.compile(idioms.REPORTED, _FLAGS)
        self._generic_after = re.compile(idioms.GENERIC_AFTER, _FLAGS)
        self._ongoing = re.compile(idioms.ONGOING, _FLAGS)
        self._self_is = re.compile(idioms.SELF_IS, _FLAGS)
        self._self_start = re.compile(f"(?:{idioms.SELF_SUBJECT})(?!{idioms.OTHER_SUBJECT[3:-1]})", _FLAGS)
        self._past = re.compile(idioms.PAST, _FLAGS)
        self._resolved = re.compile(idioms.RESOLVED, _FLAGS)
        self._affirmative = re.compile(idioms.AFFIRMATIVE, _FLAGS)
        self._negative = re.compile(idioms.NEGATIVE_ANSWER, _FLAGS)
        self._questions = [(name, re.compile(p, _FLAGS), cats) for name, p, cats in QUESTION_RULES]
        self._plan_q = re.compile(PLAN_QUESTION, _FLAGS)
        self._q_mark = re.compile(QUESTION_MARK, _FLAGS)
        self.scan = lru_cache(maxsize=4096)(self._scan)

    def mask(self, text: str) -> str:
        """Normalised text with idioms replaced by placeholders (same length)."""
        return self._benign.sub(lambda m: _MASK * (m.end() - m.start()), text)

    def _scan(self, text: str) -> tuple[Signal, ...]:
        norm = normalize(text)
        masked = self.mask(norm.text)
        if not masked.strip(_MASK + " "):
            return ()
        signals: list[Signal] = []
        for rule, regex in self._rules:
            for match in regex.finditer(masked):
                s, e = match.span()
                if e <= s:
                    continue
                signals.append(self._contextualise(rule, masked, s, e, norm, text))
        signals.sort(key=lambda sig: (sig.start, sig.end))
        return tuple(signals)

    def _contextualise(self, rule: Rule, masked: str, s: int, e: int, norm, text: str) -> Signal:
        clause_start = max(masked.rfind(ch, 0, s) for ch in idioms.CLAUSE_END) + 1
        sentence_start = max(masked.rfind(ch, 0, s) for ch in idioms.SENTENCE_END) + 1
        ends = [i for i in (masked.find(ch, e) for ch in idioms.SENTENCE_END) if i >= 0]
        sentence_end = min(ends) if ends else len(masked)
        start, end = norm.span(s, e)
        signal = Signal(rule, start, end, text[start:end])
        if rule.kind != "deescalate":
            signal.negated = bool(self._neg_before.search(masked[clause_start:s]) or self._neg_after.match(masked[e:]))
        reported = bool(self._reported.search(masked, sentence_start, sentence_end))
        quote = self._open_quote(masked, sentence_start, s)
        if quote is not None and rule.kind != "method":
            # Quoted words belong to the quoted speaker ("嘉宾说'我不想活了'"): the subject is whoever
            # speaks before the quote, and reported context counts even though the quote says "我".
            speaker, named = self._find_subject(masked[sentence_start:quote])
            if named or reported:
                signal.subject = speaker if named else "self"
                signal.reported = reported
                return self._finish(signal, rule, masked, clause_start, s)
        explicit = False
        if rule.subject == "detect":
            # Imminence features describe the speaker's own situation unless their clause names
            # someone else ("刀也准备好了" after "我查好他的路线" is still the user's knife).
            if self._self_start.match(masked, s):
                signal.subject, explicit = "self", True  # the match names the user ("我要走了")
            else:
                signal.subject, explicit = self._find_subject(masked[clause_start:s])
                if not explicit and rule.kind not in IMMINENCE_KINDS:
                    # No subject in the clause: look back through the sentence ("我室友…，说要跳下去").
                    signal.subject, explicit = self._find_subject(masked[sentence_start:s])
            if self._generic_after.match(masked, e) and not self._self_is.search(masked, clause_start, s):
                signal.subject = "generic"  # "自杀的人会下地狱吗", "有自杀念头的同学": people in general
        else:
            signal.subject = rule.subject
            explicit = rule.subject == "self"
        if rule.kind != "method" and not (signal.subject == "self" and explicit):
            signal.reported = reported
        return self._finish(signal, rule, masked, clause_start, s)

    def _finish(self, signal: Signal, rule: Rule, masked: str, clause_start: int, s: int) -> Signal:
        if rule.kind == "ideation" and self._past.search(masked, clause_start, s):
            # Past risk counts as distress once resolved; past abuse unless it is still going on.
            if Category.ABUSE in rule.categories:
                signal.demoted = not self._ongoing.search(masked)
            else:
                signal.demoted = bool(self._resolved.search(masked))
        return signal

    @staticmethod
    def _open_quote(text: str, start: int, pos: int) -> int | None:
        """Index of the quotation mark opening a quote that contains ``pos`` (within the sentence), if any."""
        opened = None
        for i in range(start, pos):
            ch = text[i]
            if ch in "“‘「『":
                opened = i
            elif ch in "”’」』":
                opened = None
            elif ch in "\"'":
                opened = None if opened is not None else i
        return opened

    def _find_subject(self, prefix: str) -> tuple[str, bool]:
        """The last subject word before a match; the user ("self") when there is none."""
        found = None
        for match in self._subject.finditer(prefix):
            if match.start() > 0 and prefix[match.start() - 1] in idioms.OBJECT_MARKERS:
                continue  # an object ("跟她说", "把孩子"), not the subject
            if prefix[match.end():match.end() + 1] == "的":
                continue  # a possessive ("他的水杯"), not the subject
            found = match.lastgroup
        return (found or "self"), found is not None

    def answer_signals(self, answer: str, question: str) -> list[Signal]:
        """Signals implied by a short yes to the assistant's direct question about risk.

        "有" after "你有没有想过结束自己的生命？" is suicidal ideation; after "你有具体的计划吗？" it is a plan.
        """
        if not self._affirmative.search(answer) or self._negative.search(answer) or not self._q_mark.search(question):
            return []
        qmask = normalize(question).text
        end = len(answer)
        out = []
        for name, regex, cats in self._questions:
            if regex.search(qmask):
                out.append(Signal(Rule(name, "ideation", "", cats), 0, end, answer))
        if self._plan_q.search(qmask):
            out.append(Signal(Rule("question.plan", "plan", ""), 0, end, answer))
        return out


def combine(turns: list[list[Signal]]) -> Verdict:
    """Decide a level from the signals of a window of user turns, oldest first (last = current).

    Risk stated earlier in the window stays until the user clearly de-escalates; after that it counts
    as distress (never below distress within the window). See docs/safety.md for the full rules.
    """
    active: list[Signal] = []
    resolved: list[Signal] = []
    other: list[Signal] = []
    emergency = False
    current_distress: list[Signal] = []
    cues_seen: list[Signal] = []
    for index, signals in enumerate(turns):
        live = [s for s in signals if not s.negated]
        if any(s.kind == "deescalate" for s in live):
            resolved.extend(s for s in active if s.kind in ("ideation", "method", "cue") or s.rule.standalone)
            active = []
        recent = index >= len(turns) - 2  # distress of the current or the previous user turn
        for sig in live:
            if sig.kind == "deescalate":
                continue
            if sig.kind == "emergency":
                emergency = True
                continue
            if sig.kind == "distress":
                if recent:
                    current_distress.append(sig)
                continue
            if sig.subject == "generic" or sig.reported:
                continue
            if sig.subject == "other":
                other.append(sig)
            else:
                active.append(sig)
                if sig.kind in ("cue", "hopeless"):
                    cues_seen.append(sig)

    crisis_sigs = [s for s in active if s.kind in ("ideation", "method") and not s.demoted]
    crisis_sigs += [s for s in active if s.kind in IMMINENCE_KINDS and s.rule.standalone]
    imminence = [s for s in active if s.kind in IMMINENCE_KINDS]
    kinds = {s.kind for s in imminence}
    cues = [s for s in active if s.kind == "cue"]
    weak = [s for s in active if s.kind == "hopeless"]
    crisis = bool(crisis_sigs)
    # Weak signals compound: two death-adjacent cue families ("人间不值得" + "我想走了"), a cue with
    # hopelessness, or a cue with any imminence feature ("我要走了" + putting affairs in order).
    if not crisis and cues and (len({s.rule.name for s in cues}) >= 2 or weak or imminence):
        crisis_sigs = cues + weak + imminence
        crisis = True
    # Means together with another imminence feature (a place, a time, a farewell) without words of intent.
    if not crisis and kinds & {"means", "farewell", "location"} and len(kinds) >= 2:
        crisis_sigs = list(imminence)
        crisis = True
    verdict = Verdict()
    if crisis:
        verdict.level = Level.CRISIS
        verdict.imminent = bool(imminence)
        verdict.evidence = _unique(crisis_sigs + imminence)
        verdict.categories = _categories(verdict.evidence)
        only_cues = all(s.kind not in ("ideation", "method") and not s.rule.standalone for s in crisis_sigs)
        verdict.score = 1.0 if verdict.imminent else (0.75 if only_cues else 0.9)
        return verdict
    other_risk = [s for s in other if s.kind in ("ideation", "method", "cue", "farewell")]
    other_imm = [s for s in other if s.kind in IMMINENCE_KINDS]
    if (any(s.rule.standalone for s in other_imm)) or (other_risk and (other_imm or emergency)):
        verdict.level, verdict.imminent, verdict.subject = Level.CRISIS, True, "other"
        verdict.evidence = _unique(other_risk + other_imm)
        verdict.categories = _categories(verdict.evidence)
        verdict.score = 1.0
        return verdict
    # Someone else's stated risk ("我朋友说她想死", "我妹妹在手臂上划") is a crisis too: a life may be at
    # stake and the user needs crisis guidance (how to respond, hotlines, when to call 110/120).
    other_stated = [s for s in other_risk if s.kind in ("ideation", "method", "farewell") and not s.demoted]
    if other_stated:
        verdict.level, verdict.subject = Level.CRISIS, "other"
        verdict.evidence = _unique(other_stated)
        verdict.categories = _categories(verdict.evidence)
        verdict.score = 0.8
        return verdict
    demoted = [s for s in active if s.demoted]
    risk_related = demoted + resolved + other_risk
    if risk_related or cues_seen or current_distress:
        verdict.level = Level.DISTRESS
        verdict.evidence = _unique(risk_related + cues_seen + current_distress)
        verdict.categories = {c for s in risk_related if s.kind not in ("cue", "hopeless") or s.subject == "other"
                              for c in s.rule.categories}
        verdict.subject = "other" if other_risk and not (demoted or resolved) else "self"
        verdict.ambiguous = bool(cues_seen or other_risk or resolved)
        verdict.score = 0.5 if risk_related else (0.4 if cues_seen else 0.3)
    return verdict


def _categories(signals: list[Signal]) -> set[Category]:
    """Categories from the strongest signals: stated risk, else standalone acts, else cues."""
    for kinds in (("ideation", "method"), tuple(IMMINENCE_KINDS), ("cue", "hopeless")):
        cats = {c for s in signals if s.kind in kinds for c in s.rule.categories}
        if cats:
            return cats
    return {Category.SUICIDE}


def _unique(signals: list[Signal]) -> list[Signal]:
    seen = set()
    out = []
    for sig in signals:
        key = (sig.turn, sig.start, sig.end, sig.rule.name)
        if key not in seen:
            seen.add(key)
            out.append(sig)
    return out
