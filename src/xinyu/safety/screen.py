"""Screen every model reply before the user sees it.

    result = screen(reply, history, risk)     # -> ScreenResult(ok, reply, violations, action)

The reply is split into sentences and checked against :mod:`xinyu.safety.screen_rules`:

* *severe* violations (method details, lethal doses, concealment advice, encouragement of
  self-harm): by default the whole reply is **replaced** with the policy's crisis template (the
  imminent one when the risk is imminent; a neutral "I can't give methods, are you safe?" text
  with hotlines when no risk was detected). With ``screen.severe: repair`` the offending sentences
  are dropped and the referral appended instead.
* *identity* (false claims to be human or a licensed clinician) and *medical* (diagnosis or
  prescription stated as fact) violations are **repaired**: the sentences are removed and an
  honest statement is added ("我是一个AI助手，不是真人，也不是持证的心理咨询师或医生。").

:class:`ScreenStats` counts outcomes per violation kind for a server to expose; it never keeps
any text.
"""

from __future__ import annotations

import re
import sys
import threading
import types
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from xinyu.safety.config import SafetyConfig, ScreenSettings
from xinyu.safety.normalize import normalize
from xinyu.safety.screen_rules import HEDGE, IDENTITY, MEDICAL, SCREEN_RULES, SEVERE
from xinyu.safety.types import RiskAssessment, ScreenResult

_SENTENCE = re.compile(r"[^。！？!?\n；;]+[。！？!?\n；;]*|[。！？!?\n；;]+")
_FLAGS = re.IGNORECASE
_COMPILED = [(name, kind, re.compile(pattern, _FLAGS)) for name, kind, pattern in SCREEN_RULES]
_HEDGE = re.compile(HEDGE, _FLAGS | re.DOTALL)

DISCLOSURE = {
    "zh": "我是一个AI助手，不是真人，也不是持证的心理咨询师或医生。",
    "en": "I'm an AI assistant, not a human and not a licensed counselor or doctor.",
}
MEDICAL_NOTE = {
    "zh": "我没有办法做出诊断或给出用药建议；如果你担心自己的状况，可以去精神科或心理门诊做专业评估，是否用药需要医生来判断。",
    "en": "I can't diagnose or recommend medication; if you're worried, a doctor or mental-health professional can assess "
          "you, and any medication needs a doctor's evaluation.",
}


@dataclass
class ScreenStats:
    """Thread-safe counters of screening outcomes (no text is kept).

    Attributes:
        total: Replies screened.
        passed: Replies shown unchanged.
        repaired: Replies with sentences removed or rewritten.
        replaced: Replies replaced by a template.
        violations: Count per violation kind.
    """

    total: int = 0
    passed: int = 0
    repaired: int = 0
    replaced: int = 0
    violations: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, result: ScreenResult) -> None:
        """Count one screening result."""
        with self._lock:
            self.total += 1
            if result.action == "pass":
                self.passed += 1
            elif result.action == "repair":
                self.repaired += 1
            else:
                self.replaced += 1
            self.violations.update(result.violations)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready snapshot."""
        with self._lock:
            return {"total": self.total, "passed": self.passed, "repaired": self.repaired, "replaced": self.replaced,
                    "violations": dict(self.violations)}


@dataclass(frozen=True, slots=True)
class Finding:
    """One violation in one sentence of a reply."""

    rule: str
    kind: str
    sentence: int
    text: str


def sentences(text: str) -> list[str]:
    """Split a reply into sentences, keeping their punctuation (joining them gives the text back)."""
    return _SENTENCE.findall(text)


def find_violations(reply: str) -> list[Finding]:
    """All violations in ``reply``, sentence by sentence."""
    findings = []
    for index, sentence in enumerate(sentences(reply)):
        norm = normalize(sentence).text
        hedged = bool(_HEDGE.match(norm))
        for name, kind, regex in _COMPILED:
            match = regex.search(norm)
            if match is None:
                continue
            if kind == "prescription" and hedged:
                continue  # "医生可能会给你开药" sends the user to a doctor; it prescribes nothing
            findings.append(Finding(name, kind, index, sentence))
    return findings


def _language(reply: str, locale: str | None) -> str:
    if locale:
        return "zh" if locale.lower().startswith("zh") else "en"
    cjk = sum(1 for ch in reply if "\u4e00" <= ch <= "\u9fff")
    return "zh" if cjk >= max(1, len(reply) // 10) else "en"


@lru_cache(maxsize=4)
def _policy(directory: str | None, locale: str):
    from xinyu.safety.config import PolicySettings
    from xinyu.safety.policy import SafetyPolicy

    return SafetyPolicy(PolicySettings(directory=directory, locale=locale))


def risk_from_history(history: Sequence[dict[str, Any] | str] | None) -> RiskAssessment | None:
    """Assess the last user turn of ``history`` against the turns before it (None without a user turn)."""
    if not history:
        return None
    from xinyu.safety.crisis import assess, parse_history

    turns = parse_history(history)
    users = [i for i, (role, _) in enumerate(turns) if role == "user"]
    if not users:
        return None
    last = users[-1]
    earlier = [{"role": r, "content": c} for r, c in turns[:last]]
    return assess(turns[last][1], earlier)


def screen(
    reply: str,
    history: Sequence[dict[str, Any] | str] | None = None,
    risk: RiskAssessment | None = None,
    *,
    config: SafetyConfig | ScreenSettings | None = None,
    locale: str | None = None,
    stats: ScreenStats | None = None,
    turn: int = 0,
) -> ScreenResult:
    """Screen one model reply.

    Args:
        reply: The model's reply.
        history: The conversation before the reply (used to assess risk when ``risk`` is not given).
        risk: The risk of the user turn being answered; picks the replacement template.
        config: Screening settings (a :class:`SafetyConfig` or its ``screen`` section).
        locale: Locale of the replacement texts (default: the policy's; detected from the reply
            for the short disclosures).
        stats: Counters to update.
        turn: Turn index choosing the template variant.

    Returns:
        The :class:`ScreenResult`: ``ok`` with the reply unchanged, or the repaired/replaced reply.
    """
    policy_settings = config.policy if isinstance(config, SafetyConfig) else None
    settings = config.screen if isinstance(config, SafetyConfig) else (config or ScreenSettings())
    findings = find_violations(reply)
    if not findings:
        result = ScreenResult(ok=True, reply=reply, violations=[], action="pass")
        if stats is not None:
            stats.record(result)
        return result
    kinds = list(dict.fromkeys(f.kind for f in findings))
    loc = locale or (policy_settings.locale if policy_settings else "zh-CN")
    policy = _policy(policy_settings.directory if policy_settings else None, loc)
    if risk is None:
        risk = risk_from_history(history)
    severe = [k for k in kinds if k in SEVERE]
    replace = (severe and settings.severe == "replace") or (
        any(k in IDENTITY for k in kinds) and settings.identity == "replace"
    ) or (any(k in MEDICAL for k in kinds) and settings.medical == "replace")
    if not replace:
        repaired = _repair(reply, findings, kinds, _language(reply, locale), policy, loc, severe, risk)
        if repaired is None:
            replace = True
        else:
            result = ScreenResult(ok=False, reply=repaired, violations=kinds, action="repair")
    if replace:
        result = ScreenResult(ok=False, reply=_replacement(policy, loc, risk, turn), violations=kinds, action="replace")
    if stats is not None:
        stats.record(result)
    return result


def _replacement(policy, locale: str, risk: RiskAssessment | None, turn: int) -> str:
    route = policy.route(risk) if risk is not None else None
    if route is None or route == "distress":
        return policy.template("screen_replacement", locale, turn)
    return policy.template(route, locale, turn)


def _repair(reply: str, findings: list[Finding], kinds: list[str], language: str, policy, locale: str,
            severe: list[str], risk: RiskAssessment | None) -> str | None:
    """Drop offending sentences and add honest statements; None when nothing worth keeping remains."""
    bad = {f.sentence for f in findings}
    kept = [s for i, s in enumerate(sentences(reply)) if i not in bad]
    body = "".join(kept).strip()
    if len(re.sub(r"[\W_]+", "", body)) < 4:
        return None
    parts = []
    if any(k in IDENTITY for k in kinds):
        parts.append(DISCLOSURE[language])
    parts.append(body)
    if any(k in MEDICAL for k in kinds):
        parts.append(MEDICAL_NOTE[language])
    if severe:
        kind = "abuse" if risk is not None and policy.route(risk) in ("abuse", "abuse_imminent") else "crisis"
        parts.append(policy.referral(kind, locale))
    joiner = "" if language == "zh" else " "
    return joiner.join(p for p in parts if p)


def is_crisis_reply_safe(reply: str) -> bool:
    """True when ``reply`` has no severe violation (used by the red-team evaluation and the reward)."""
    return not any(f.kind in SEVERE for f in find_violations(reply))


__all__ = ["DISCLOSURE", "Finding", "ScreenStats", "find_violations", "is_crisis_reply_safe", "screen", "sentences"]


class _CallableModule(types.ModuleType):
    """Calling the module calls :func:`screen`.

    ``from xinyu.safety import screen`` is the public contract, but once anything imports the
    submodule ``xinyu.safety.screen`` Python binds that package attribute to the module itself;
    making the module callable keeps ``screen(reply, history, risk)`` working either way.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> ScreenResult:
        return screen(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
