"""Crisis safety layer: risk assessment, response policy, output screening, PII redaction.

Public interface (stable; the conversation engine and the RL reward use it)::

    from xinyu.safety import assess, screen, SafetyPolicy
    risk = assess(text, history)             # -> RiskAssessment
    decision = SafetyPolicy().decide(risk)   # -> PolicyDecision
    result = screen(reply, history)          # -> ScreenResult
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
    "Category",
    "Evidence",
    "Level",
    "PolicyDecision",
    "RiskAssessment",
    "ScreenResult",
    "SafetyPolicy",
    "assess",
    "screen",
]


def __getattr__(name: str):  # lazy: keep `import xinyu.safety` cheap
    if name == "assess":
        from xinyu.safety.crisis import assess

        return assess
    if name == "screen":
        from xinyu.safety.screen import screen

        return screen
    if name == "SafetyPolicy":
        from xinyu.safety.policy import SafetyPolicy

        return SafetyPolicy
    raise AttributeError(name)
