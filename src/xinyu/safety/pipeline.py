"""The whole safety turn in one place: what a conversation engine does around the model.

    risk = assess(user_text, history)
    decision = SafetyPolicy(config).decide(risk, locale, turn=turn)
    if decision.action == "template":
        reply = decision.reply                      # the model is not asked
    else:
        messages = with_preamble(messages, decision)   # safety preamble into the context
        model_reply = backend...                        # generate
        result = guard_reply(decision, model_reply, history + [user turn], risk)
        reply = result.reply                        # screened, referral appended when policy asks

The red-team evaluation runs exactly this path with a worst-case model reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xinyu.safety.config import SafetyConfig
from xinyu.safety.screen import ScreenStats, screen
from xinyu.safety.types import PolicyDecision, RiskAssessment, ScreenResult


def with_preamble(messages: Sequence[dict[str, str]], decision: PolicyDecision) -> list[dict[str, str]]:
    """Messages with the decision's safety preamble added to (or as) the system message."""
    out = [dict(m) for m in messages]
    if not decision.system_preamble:
        return out
    if out and out[0].get("role") == "system":
        out[0]["content"] = f"{out[0]['content']}\n\n{decision.system_preamble}"
    else:
        out.insert(0, {"role": "system", "content": decision.system_preamble})
    return out


def guard_reply(
    decision: PolicyDecision,
    model_reply: str,
    history: Sequence[dict[str, Any] | str] | None,
    risk: RiskAssessment | None,
    *,
    config: SafetyConfig | None = None,
    locale: str | None = None,
    stats: ScreenStats | None = None,
    turn: int = 0,
) -> ScreenResult:
    """Screen a model reply and append the policy's referral (unless the reply was replaced by a template).

    When the decision is a template, the template itself is returned (and still screened, so a
    custom directory with a bad template is caught).
    """
    text = decision.reply if decision.action == "template" else model_reply
    result = screen(text, history, risk, config=config, locale=locale, stats=stats, turn=turn)
    if decision.append and result.action != "replace" and decision.action != "template" and decision.append not in result.reply:
        result.reply = f"{result.reply.rstrip()}\n\n{decision.append}"
    return result
