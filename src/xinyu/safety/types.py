"""Data types of the safety layer: the contract between safety, serving, evaluation and RL."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Level(str, Enum):
    """Risk level of a user turn (in the context of its history)."""

    NONE = "none"
    DISTRESS = "distress"
    CRISIS = "crisis"

    @property
    def rank(self) -> int:
        """Ordering: none < distress < crisis."""
        return {"none": 0, "distress": 1, "crisis": 2}[self.value]


class Category(str, Enum):
    """What the risk is about."""

    SUICIDE = "suicide"
    SELF_HARM = "self_harm"
    HARM_OTHERS = "harm_others"
    ABUSE = "abuse"  # abuse or violence against the user


@dataclass(frozen=True, slots=True)
class Evidence:
    """A span of the assessed text that supports the assessment.

    Attributes:
        start: Character offset in the text (``-1`` when it comes from history).
        end: End offset (exclusive).
        text: The matched text.
        rule: Name of the rule/layer that produced it.
        turn: 0 for the current turn, ``-k`` for the k-th earlier user turn.
    """

    start: int
    end: int
    text: str
    rule: str
    turn: int = 0


@dataclass(slots=True)
class RiskAssessment:
    """Result of :func:`xinyu.safety.assess`.

    Attributes:
        level: none < distress < crisis.
        imminent: Plan, means, time, place or an act in progress (only with crisis).
        categories: What the risk is about.
        evidence: Spans supporting the assessment.
        layers: Layers that ran (``rules``, ``classifier``, ``judge``; ``judge:failed`` when the judge
            could not answer and the rules stood).
        score: Confidence-like strength in [0, 1] (rule tiers, or the classifier probability).
        subject: ``"self"`` when the risk is the user's own, ``"other"`` when the user reports someone
            else at risk ("我朋友说她想死").
    """

    level: Level = Level.NONE
    imminent: bool = False
    categories: set[Category] = field(default_factory=set)
    evidence: list[Evidence] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    score: float = 0.0
    subject: str = "self"

    @property
    def is_crisis(self) -> bool:
        """True for crisis level (imminent or not)."""
        return self.level is Level.CRISIS

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (evidence spans included, for storage of risk flags)."""
        return {
            "level": self.level.value,
            "imminent": self.imminent,
            "categories": sorted(c.value for c in self.categories),
            "evidence": [
                {"start": e.start, "end": e.end, "text": e.text, "rule": e.rule, "turn": e.turn}
                for e in self.evidence
            ],
            "layers": list(self.layers),
            "score": self.score,
            "subject": self.subject,
        }


@dataclass(slots=True)
class PolicyDecision:
    """What the assistant does for one user turn.

    Attributes:
        action: ``"generate"`` (model replies normally), ``"generate_with_preamble"`` (model replies
            with ``system_preamble`` added to its context), or ``"template"`` (``reply`` replaces
            the model's reply entirely).
        reply: The deterministic reply when ``action == "template"``.
        system_preamble: Safety instructions added to the model's context.
        banner: Short text a UI shows prominently (hotlines); empty when none.
        resources: Hotline entries shown, as dicts ``{"name", "number", "note"}``.
        append: Text appended after the model's reply (e.g. the referral), when policy asks.
    """

    action: str = "generate"
    reply: str = ""
    system_preamble: str = ""
    banner: str = ""
    resources: list[dict[str, str]] = field(default_factory=list)
    append: str = ""


@dataclass(slots=True)
class ScreenResult:
    """Result of screening one model reply.

    Attributes:
        ok: True if the reply passed unchanged.
        reply: The reply to show (repaired or replaced when not ok).
        violations: Rule names that fired (``method_detail``, ``lethal_dose``, ``concealment``,
            ``claims_human``, ``claims_clinician``, ``diagnosis``, ``prescription``...).
        action: ``"pass"``, ``"repair"`` (offending sentences removed/rewritten) or ``"replace"``.
    """

    ok: bool
    reply: str
    violations: list[str] = field(default_factory=list)
    action: str = "pass"
