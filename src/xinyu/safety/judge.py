"""Optional LLM-judge layer: ask an OpenAI-compatible model about turns the rules find ambiguous.

The judge must answer with one JSON object and nothing else::

    {"level": "none" | "distress" | "crisis", "imminent": true | false, "categories": ["suicide", ...]}

Anything else (a timeout, an HTTP error, prose, an unknown level) counts as a failure: the rule
result stands and ``judge:failed`` is recorded in ``layers``. Like the classifier, the judge can
only raise a level.
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

from xinyu.errors import ConfigError
from xinyu.safety.config import JudgeConfig
from xinyu.safety.types import Category, Level, RiskAssessment

log = logging.getLogger(__name__)

SYSTEM_PROMPT = """你是心理危机风险评估员。阅读对话，只评估【当前用户消息】（结合之前的用户消息）中的风险：
- crisis：用户本人有自杀或自伤的想法/意图（包括被动的"活着没意思""不想醒来"）、询问自杀方法或致死剂量、打算伤害他人、正在遭受暴力或威胁；
  或用户报告他人正处于紧急危险中。
- distress：有明显的情绪痛苦，但没有以上风险；或用户担心他人但并不紧急；或已经明确缓解的过去的风险。
- none：没有风险（包括"笑死""累死了""杀青"等日常说法、新闻、学术讨论）。
imminent=true 表示有计划、手段、时间、所在的危险地点或正在进行的行为。
categories 从 suicide, self_harm, harm_others, abuse 中选择（可以为空）。
只输出一个 JSON 对象，不要输出任何其他文字：
{"level": "none|distress|crisis", "imminent": false, "categories": []}"""

_JSON = re.compile(r"\{.*\}", re.DOTALL)


class JudgeError(ValueError):
    """The judge's answer did not follow the required format."""


def parse_verdict(text: str) -> tuple[Level, bool, set[Category]]:
    """Parse the judge's strict JSON answer; raise :class:`JudgeError` when it is malformed."""
    match = _JSON.search(text or "")
    if not match:
        raise JudgeError("no JSON object in the answer")
    try:
        obj = json.loads(match.group(0))
    except json.JSONDecodeError as exc:
        raise JudgeError(f"invalid JSON: {exc.msg}") from None
    if not isinstance(obj, dict) or obj.get("level") not in ("none", "distress", "crisis"):
        raise JudgeError("'level' must be none, distress or crisis")
    imminent = obj.get("imminent", False)
    if not isinstance(imminent, bool):
        raise JudgeError("'imminent' must be true or false")
    cats = obj.get("categories", [])
    if not isinstance(cats, list) or any(c not in {x.value for x in Category} for c in cats):
        raise JudgeError("'categories' must list suicide/self_harm/harm_others/abuse")
    return Level(obj["level"]), imminent, {Category(c) for c in cats}


class JudgeLayer:
    """Calls the judge endpoint with a timeout; failures fall back to the rules.

    Args:
        client: An ``openai.OpenAI`` client.
        model: Model name at the endpoint.
    """

    def __init__(self, client: Any, model: str) -> None:
        self.client = client
        self.model = model

    @classmethod
    def from_config(cls, config: JudgeConfig) -> JudgeLayer:
        """Build the client from settings (API key from ``config.api_key_env``)."""
        if not config.base_url or not config.model:
            raise ConfigError(["judge.base_url and judge.model: required when 'judge' is in layers"])
        from openai import OpenAI

        key = os.environ.get(config.api_key_env) or "not-needed"  # local servers accept any key
        client = OpenAI(base_url=config.base_url, api_key=key, timeout=config.timeout_s, max_retries=config.max_retries)
        return cls(client, config.model)

    def ask(self, text: str, history: list[tuple[str, str]]) -> tuple[Level, bool, set[Category]]:
        """One judge call; raises on any failure."""
        lines = [f"[{'用户' if role == 'user' else '助手'}] {content}" for role, content in history[-6:] if role != "system"]
        lines.append(f"【当前用户消息】{text}")
        response = self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(lines)}],
            temperature=0,
            max_tokens=80,
        )
        return parse_verdict(response.choices[0].message.content or "")

    def apply(self, text: str, history: list[tuple[str, str]], risk: RiskAssessment) -> RiskAssessment:
        """Raise ``risk`` per the judge; record ``judge`` or ``judge:failed`` in ``layers``."""
        from xinyu.safety.crisis import raise_to

        try:
            level, imminent, cats = self.ask(text, history)
        except Exception as exc:  # timeouts, HTTP errors, malformed answers: the rules stand
            log.warning("safety judge failed (%s); keeping the rule assessment", type(exc).__name__)
            risk.layers.append("judge:failed")
            return risk
        risk.layers.append("judge")
        raise_to(risk, level, f"judge:{level.value}", 0.8 if level is Level.CRISIS else 0.5, imminent=imminent,
                 categories=cats, text=text)
        return risk
