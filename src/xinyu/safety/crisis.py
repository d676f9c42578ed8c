"""Risk assessment of a user turn in the context of its history: rules, then optional layers.

    from xinyu.safety import assess
    risk = assess("我已经攒了两个月的安眠药了")
    risk.level, risk.imminent, risk.categories   # crisis, True, {suicide}

Layers (see :class:`~xinyu.safety.config.SafetyConfig`):

1. ``rules`` (always): :mod:`xinyu.safety.engine` over the current turn and the last
   ``history_window`` user turns. Risk stated earlier carries over until the user clearly
   de-escalates, and then never drops below distress within the window.
2. ``lexical`` (default): a character n-gram model trained on thousands of labelled utterances
   and a combiner that weighs it against the rules (:mod:`xinyu.safety.lexical`). It catches new
   phrasing the rules miss and may lower a non-imminent rule crisis to distress when the context
   is clearly benign (idioms, games, news); numpy only, well under a millisecond.
3. ``classifier`` (optional): a sequence-classification model may *raise* the level when its
   probability passes the threshold.
4. ``judge`` (optional): an OpenAI-compatible LLM, asked only about ambiguous turns (or all
   non-crisis turns), may raise the level; on any failure the rules stand and ``judge:failed`` is
   recorded in ``layers``.

The optional layers only ever raise a level: a missed crisis costs far more than a gentle check-in
too many.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from xinyu.errors import DataError
from xinyu.safety.config import SafetyConfig
from xinyu.safety.engine import RuleEngine, Signal, Verdict, combine
from xinyu.safety.types import Category, Evidence, Level, RiskAssessment

log = logging.getLogger(__name__)

History = Sequence[dict[str, Any] | str] | None


@lru_cache(maxsize=1)
def default_engine() -> RuleEngine:
    """The shared rule engine (compiled once per process)."""
    return RuleEngine()


def parse_history(history: History) -> list[tuple[str, str]]:
    """Validate history into ``(role, content)`` pairs; plain strings are earlier user turns."""
    turns: list[tuple[str, str]] = []
    for index, item in enumerate(history or []):
        if isinstance(item, str):
            turns.append(("user", item))
            continue
        if not isinstance(item, dict):
            raise DataError(f"expected a string or a {{'role', 'content'}} object, got {type(item).__name__}",
                            record=index)
        role, content = item.get("role"), item.get("content")
        if role not in ("user", "assistant", "system"):
            raise DataError(f"role must be 'user', 'assistant' or 'system', got {role!r}", record=index, field="role")
        if not isinstance(content, str):
            raise DataError(f"content must be a string, got {type(content).__name__}", record=index, field="content")
        turns.append((role, content))
    return turns


class Assessor:
    """Runs the configured layers. Build one per configuration and reuse it (models load once).

    Args:
        config: Safety settings; defaults to the rule layer alone.
        engine: A rule engine (defaults to the shared one).
    """

    def __init__(self, config: SafetyConfig | None = None, engine: RuleEngine | None = None) -> None:
        self.config = config or SafetyConfig()
        self.engine = engine or default_engine()
        self._classifier = None
        self._judge = None
        self._lexical = None
        if "lexical" in self.config.layers:
            from xinyu.safety.lexical import load_combiner, load_lexical

            path = self.config.lexical.path
            combiner = load_combiner(path)
            if self.config.lexical.threshold is not None:
                from dataclasses import replace

                combiner = replace(combiner, threshold=self.config.lexical.threshold)
            self._lexical = (load_lexical(path), combiner)
        if "classifier" in self.config.layers:
            from xinyu.safety.classifier import ClassifierLayer

            self._classifier = ClassifierLayer.from_config(self.config.classifier)
        if "judge" in self.config.layers:
            from xinyu.safety.judge import JudgeLayer

            self._judge = JudgeLayer.from_config(self.config.judge)

    def rule_verdict(self, text: str, history: History = None) -> Verdict:
        """The rule layer's verdict over the current turn and its history window."""
        if not isinstance(text, str):
            raise DataError(f"text must be a string, got {type(text).__name__}", field="text")
        turns = [*parse_history(history), ("user", text)]
        # Keep the last history_window earlier user turns (plus the current one) and the assistant
        # message right before each of them (its question may give a short answer its meaning).
        user_positions = [i for i, (role, _) in enumerate(turns) if role == "user"]
        keep = user_positions[-(self.config.history_window + 1):]
        window: list[list[Signal]] = []
        for rank, pos in enumerate(keep):
            turn_index = rank - (len(keep) - 1)
            content = turns[pos][1]
            signals = [sig.at_turn(turn_index) for sig in self.engine.scan(content)]
            previous = turns[pos - 1] if pos > 0 else None
            if previous and previous[0] == "assistant":
                signals += [sig.at_turn(turn_index) for sig in self.engine.answer_signals(content, previous[1])]
            window.append(signals)
        return combine(window)

    def assess(self, text: str, history: History = None) -> RiskAssessment:
        """Assess ``text`` (the current user turn) given earlier messages.

        Args:
            text: The user's message.
            history: Earlier messages, oldest first: ``{"role", "content"}`` dicts, or plain strings
                (earlier user turns).

        Returns:
            The :class:`RiskAssessment`; ``layers`` lists the layers that ran.
        """
        verdict = self.rule_verdict(text, history)
        risk = to_assessment(verdict)
        if self._lexical is not None:
            from xinyu.safety.lexical import apply_lexical

            model, combiner = self._lexical
            earlier = [content for role, content in parse_history(history) if role == "user"]
            apply_lexical(model.predict(text, earlier), combiner, risk, text)
        if self._classifier is not None:
            self._classifier.apply(text, risk)
        if self._judge is not None and (
            verdict.ambiguous if self.config.judge.when == "ambiguous" else risk.level is not Level.CRISIS
        ):
            self._judge.apply(text, parse_history(history), risk)
        log.debug("assessed turn: level=%s imminent=%s evidence=%d", risk.level.value, risk.imminent, len(risk.evidence))
        return risk


def to_assessment(verdict: Verdict) -> RiskAssessment:
    """Convert the engine's verdict into the public :class:`RiskAssessment`."""
    evidence = [
        Evidence(sig.start if sig.turn == 0 else -1, sig.end if sig.turn == 0 else -1, sig.text, sig.rule.name, sig.turn)
        for sig in verdict.evidence
    ]
    return RiskAssessment(
        level=verdict.level,
        imminent=verdict.imminent,
        categories=set(verdict.categories),
        evidence=evidence,
        layers=["rules"],
        score=verdict.score,
        subject=verdict.subject,
    )


def raise_to(risk: RiskAssessment, level: Level, layer: str, score: float, imminent: bool = False,
             categories: set[Category] | None = None, text: str = "") -> bool:
    """Raise ``risk`` to ``level`` (never lower it); returns whether anything changed."""
    changed = False
    if level.rank > risk.level.rank:
        risk.level = level
        risk.score = max(risk.score, score)
        changed = True
    if imminent and level is Level.CRISIS and not risk.imminent:
        risk.imminent = True
        changed = True
    if changed:
        if categories:
            risk.categories |= categories
        elif risk.level is Level.CRISIS and not risk.categories:
            risk.categories = {Category.SUICIDE}
        risk.evidence.append(Evidence(0, len(text), text, layer, 0))
    return changed


_ASSESSORS: dict[str, Assessor] = {}


def assess(text: str, history: History = None, *, config: SafetyConfig | None = None) -> RiskAssessment:
    """Assess one user turn (see :meth:`Assessor.assess`).

    Without ``config`` the default layers run (rules and the lexical model, about a millisecond).
    With a config enabling the classifier or judge, the loaded layers are cached per configuration.
    """
    key = config.model_dump_json() if config is not None else ""
    assessor = _ASSESSORS.get(key)
    if assessor is None:
        assessor = _ASSESSORS[key] = Assessor(config)
    return assessor.assess(text, history)
