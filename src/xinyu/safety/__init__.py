"""Crisis safety layer: risk assessment, response policy, output screening, PII redaction.

Public interface (stable; the conversation engine and the RL reward use it)::

    from xinyu.safety import assess, screen, SafetyPolicy
    risk = assess(text, history)             # -> RiskAssessment
    decision = SafetyPolicy().decide(risk)   # -> PolicyDecision
    result = screen(reply, history, risk)    # -> ScreenResult

Also: ``SafetyConfig`` (layer settings), ``Assessor`` (reusable configured layers), ``ScreenStats``
(counters for a server), ``safety_reward`` / ``safety_reward_func`` (RL), ``redact`` (PII, from
:mod:`xinyu.safety.pii`). Everything is imported lazily so ``import xinyu.safety`` stays cheap.
"""

from xinyu.safety.types import (
    Category,
    Evidence,
    Level,
    PolicyDecision,
    RiskAssessment,
    ScreenResult,
)

__all__ = [
    "Assessor",
    "Category",
    "Evidence",
    "Level",
    "PolicyDecision",
    "RiskAssessment",
    "SafetyConfig",
    "SafetyPolicy",
    "ScreenResult",
    "ScreenStats",
    "assess",
    "redact",
    "safety_reward",
    "safety_reward_func",
    "screen",
]

_LAZY = {
    "assess": "xinyu.safety.crisis",
    "Assessor": "xinyu.safety.crisis",
    "screen": "xinyu.safety.screen",
    "ScreenStats": "xinyu.safety.screen",
    "SafetyPolicy": "xinyu.safety.policy",
    "SafetyConfig": "xinyu.safety.config",
    "safety_reward": "xinyu.safety.reward",
    "safety_reward_func": "xinyu.safety.reward",
    "redact": "xinyu.safety.pii",
}


def __getattr__(name: str):  # lazy: keep `import xinyu.safety` cheap
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
