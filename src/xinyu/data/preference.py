"""Preference pairs: schema, validation, reading/writing, and the builders that make pairs.

A pair is one JSON object per line, in the dialogue JSONL layout with two extra keys::

    {"id": "demo-001-t2-cold", "source": "xinyu-sample",
     "messages": [... shared prompt, ending with a user turn ...],
     "chosen": [{"role": "assistant", "content": "..."}],
     "rejected": [{"role": "assistant", "content": "..."}],
     "meta": {"builder": "degraded", "strategy": "cold", ...}}

This is TRL's conversational preference format with an explicit prompt (``messages`` is TRL's
``prompt``, see :meth:`PreferencePair.to_trl`) and the format ``xinyu store export-feedback`` writes.

Builders (each returns a list of :class:`PreferencePair`):

* :func:`pairs_from_feedback`: 👍/👎 feedback and regenerations collected by the server's store;
* :func:`degraded_pairs`: the demo builder: gold counselor reply vs. a degraded one
  (:mod:`xinyu.data.pair_banks`);
* :func:`xinyu.data.pair_sources.safety_pairs` and :func:`xinyu.data.pair_sources.sampled_pairs`:
  safety pairs and pairs sampled from a model and ranked by a judge or reward model.

Importers for other layouts (TRL/UltraFeedback, LLaMA-Factory ranking) are in
:mod:`xinyu.data.formats.preference`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinyu.data.schema import ROLES, Dialogue
from xinyu.errors import DataError

PAIR_KEYS = ("id", "source", "messages", "chosen", "rejected", "meta")


@dataclass(slots=True)
class PreferencePair:
    """A prompt with a preferred and a dispreferred assistant reply.

    Attributes:
        id: Unique id.
        source: Where the pair comes from (corpus name, ``feedback``, ``safety``...).
        messages: The shared prompt: optional system message, then alternating turns ending with a
            user turn.
        chosen: ``[{"role": "assistant", "content": ...}]``, the preferred reply.
        rejected: ``[{"role": "assistant", "content": ...}]``, the dispreferred reply.
        meta: Free-form metadata (builder, strategy, scores...).
    """

    id: str
    source: str
    messages: list[dict[str, str]]
    chosen: list[dict[str, str]]
    rejected: list[dict[str, str]]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def chosen_text(self) -> str:
        """Content of the chosen reply."""
        return self.chosen[0]["content"]

    @property
    def rejected_text(self) -> str:
        """Content of the rejected reply."""
        return self.rejected[0]["content"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the canonical key order."""
        return {
            "id": self.id,
            "source": self.source,
            "messages": self.messages,
            "chosen": self.chosen,
            "rejected": self.rejected,
            "meta": self.meta,
        }

    def to_trl(self) -> dict[str, Any]:
        """TRL's conversational preference example with an explicit prompt."""
        return {"prompt": self.messages, "chosen": self.chosen, "rejected": self.rejected}

    @classmethod
    def from_dict(cls, obj: Any, *, path: Any = None, line: int | None = None) -> PreferencePair:
        """Build from a pair JSON object, validating it (errors name file, line and field)."""
        problems = pair_problems(obj)
        if problems:
            key, message = problems[0]
            more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
            pid = obj.get("id") if isinstance(obj, dict) else None
            prefix = f"pair {pid!r}: " if pid is not None else ""
            raise DataError(prefix + message + more, path=path, line=line, field=key)
        return cls(
            id=str(obj["id"]),
            source=str(obj.get("source") or ""),
            messages=[{"role": m["role"], "content": m["content"]} for m in obj["messages"]],
            chosen=[{"role": "assistant", "content": obj["chosen"][0]["content"]}],
            rejected=[{"role": "assistant", "content": obj["rejected"][0]["content"]}],
            meta=dict(obj.get("meta") or {}),
        )


def _reply_problems(value: Any, key: str) -> list[tuple[str, str]]:
    expected = "expected a list holding one assistant message [{'role': 'assistant', 'content': ...}]"
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        return [(key, expected)]
    msg = value[0]
    if msg.get("role") != "assistant":
        return [(f"{key}[0].role", f"expected 'assistant', got {msg.get('role')!r}")]
    content = msg.get("content")
    if not isinstance(content, str):
        return [(f"{key}[0].content", f"expected a string, got {type(content).__name__}")]
    if not content.strip():
        return [(f"{key}[0].content", "empty reply")]
    return []


def pair_problems(obj: Any) -> list[tuple[str, str]]:
    """Every rule a pair object breaks, as ``(field, problem)``; empty when it is valid.

    Rules: an object with ``id``, ``messages``, ``chosen`` and ``rejected``; ``messages`` has known
    roles and string contents, a system message only first, user/assistant turns alternating and
    ending with a non-empty user turn; ``chosen`` and ``rejected`` each hold exactly one non-empty
    assistant message, and they differ.
    """
    if not isinstance(obj, dict):
        return [("", f"expected a JSON object with keys {', '.join(PAIR_KEYS)}, got {type(obj).__name__}")]
    problems: list[tuple[str, str]] = []
    for key in ("id", "messages", "chosen", "rejected"):
        if key not in obj:
            problems.append((key, f"missing required key (a pair has {', '.join(PAIR_KEYS)})"))
    if problems:
        return problems
    messages = obj["messages"]
    if not isinstance(messages, list) or not messages:
        problems.append(("messages", "expected a non-empty list of messages (the prompt)"))
    else:
        prev = None
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict):
                problems.append((f"messages[{i}]", "expected {'role': ..., 'content': ...}"))
                break
            role, content = msg.get("role"), msg.get("content")
            if role not in ROLES:
                problems.append((f"messages[{i}].role", f"expected one of {ROLES}, got {role!r}"))
                break
            if not isinstance(content, str):
                problems.append(
                    (f"messages[{i}].content", f"expected a string, got {type(content).__name__}")
                )
                break
            if role == "system" and i != 0:
                problems.append((f"messages[{i}]", "a system message may only come first"))
            elif role != "system":
                expected = "user" if prev in (None, "system", "assistant") else "assistant"
                if role != expected:
                    problems.append(
                        (f"messages[{i}]", f"expected a {expected} turn, got {role} (turns alternate)")
                    )
            prev = role
        else:
            if prev != "user":
                problems.append(("messages", "the prompt must end with a user turn"))
            elif not messages[-1]["content"].strip():
                problems.append((f"messages[{len(messages) - 1}].content", "empty user turn"))
    problems += _reply_problems(obj["chosen"], "chosen")
    problems += _reply_problems(obj["rejected"], "rejected")
    if not problems and obj["chosen"][0]["content"].strip() == obj["rejected"][0]["content"].strip():
        problems.append(("rejected", "chosen and rejected replies are identical"))
    meta = obj.get("meta")
    if meta is not None and not isinstance(meta, dict):
        problems.append(("meta", f"expected an object, got {type(meta).__name__}"))
    return problems


def iter_pairs(
    path: str | Path, skip_bad: bool = False, on_bad: Callable[[DataError], None] | None = None
) -> Iterator[PreferencePair]:
    """Stream and validate pairs from a pair JSONL file.

    Args:
        path: The file.
        skip_bad: Pass bad lines to ``on_bad`` and go on instead of raising.
        on_bad: Receives the :class:`DataError` of each skipped line.
    """
    from xinyu.io import iter_jsonl

    if not Path(path).is_file():
        raise DataError("no such file (expected a preference pair JSONL file)", path=path)
    for lineno, obj in iter_jsonl(path, skip_bad=skip_bad, on_bad=on_bad):
        try:
            yield PreferencePair.from_dict(obj, path=path, line=lineno)
        except DataError as err:
            if not skip_bad:
                raise
            if on_bad:
                on_bad(err)


def read_pairs(path: str | Path, skip_bad: bool = False) -> list[PreferencePair]:
    """Read a whole pair JSONL file (every line validated; errors name the line and field)."""
    return list(iter_pairs(path, skip_bad=skip_bad))


def write_pairs(path: str | Path, pairs: Iterable[PreferencePair | dict[str, Any]]) -> int:
    """Atomically write pairs as JSONL; returns the count."""
    from xinyu.io import write_jsonl

    return write_jsonl(path, (p.to_dict() if isinstance(p, PreferencePair) else p for p in pairs))


def prompts_of(
    dialogue: Dialogue, max_history: int | None = None
) -> Iterator[tuple[int, list[dict[str, str]], str]]:
    """Each assistant turn of a dialogue with the prompt that precedes it.

    Args:
        dialogue: The dialogue.
        max_history: Keep at most this many messages before the final user turn (the system prompt
            is always kept); ``None`` keeps the whole history.

    Yields:
        ``(turn number (1-based, counting assistant turns), prompt messages, gold reply)``.
    """
    system = [m for m in dialogue.messages[:1] if m["role"] == "system"]
    turns = dialogue.turns
    n = 0
    for i, msg in enumerate(turns):
        if msg["role"] != "assistant" or i == 0 or turns[i - 1]["role"] != "user":
            continue
        n += 1
        history = turns[: i - 1]
        if max_history is not None:
            history = history[len(history) - max_history :] if max_history > 0 else []
            while history and history[0]["role"] != "user":  # the kept history must start with a user turn
                history = history[1:]
        prompt = [*system, *history, turns[i - 1]]
        yield n, [{"role": m["role"], "content": m["content"]} for m in prompt], msg["content"]


def pairs_from_feedback(store: Any, system: str | None = None) -> list[PreferencePair]:
    """Pairs from the server store's feedback (see :mod:`xinyu.serve.feedback` for the rules).

    Args:
        store: A :class:`xinyu.serve.store.Store`, or a store URL (``sqlite:///...``); ``None`` opens
            the default store.
        system: A system prompt to put first in each prompt (the persona the replies were made with).
    """
    from xinyu.serve.feedback import preference_pairs
    from xinyu.serve.store import Store

    own = not isinstance(store, Store)
    handle = Store(store) if own else store
    try:
        records = preference_pairs(handle, system=system)
    finally:
        if own:
            handle.close()
    return [PreferencePair.from_dict(r, line=None) for r in records]


def degraded_pairs(
    dialogues: Iterable[Dialogue],
    *,
    per_turn: int = 1,
    strategies: Iterable[str] | None = None,
    max_history: int | None = 4,
    seed: int = 0,
) -> list[PreferencePair]:
    """Demo pairs: the gold counselor reply (chosen) vs. a degraded reply (rejected).

    Every assistant turn of every dialogue gives ``per_turn`` pairs, each with a different
    degradation strategy drawn with a seeded RNG from ``strategies`` (default: all of
    :data:`xinyu.data.pair_banks.STRATEGIES`): generic, cold, lecturing, list-style and
    feelings-ignoring replies from the project's bank, plus deterministic rewrites of the gold reply
    (a Markdown list of its statements, a lecture made of them, a curt first clause).

    Args:
        dialogues: Source dialogues (gold replies are their assistant turns).
        per_turn: Pairs per assistant turn (distinct strategies).
        strategies: Strategy names to draw from.
        max_history: Messages of history kept before the user turn (shorter sequences on CPU).
        seed: RNG seed: the same inputs and seed give the same pairs.
    """
    from xinyu.data.pair_banks import STRATEGIES, degrade

    names = list(strategies) if strategies is not None else list(STRATEGIES)
    unknown = sorted(set(names) - set(STRATEGIES))
    if unknown:
        raise DataError(f"unknown degradation strategies {unknown}; expected some of {list(STRATEGIES)}")
    if not 1 <= per_turn <= len(names):
        raise DataError(f"per_turn must be between 1 and {len(names)} (the number of strategies)")
    pairs = []
    for dialogue in dialogues:
        for turn, prompt, gold in prompts_of(dialogue, max_history=max_history):
            # One RNG per turn, seeded from the ids: a pair does not change when others are added.
            rng = random.Random(f"{seed}:{dialogue.id}:{turn}")
            for strategy in rng.sample(names, per_turn):
                rejected = degrade(strategy, gold, rng)
                if rejected.strip() == gold.strip():
                    continue
                pairs.append(
                    PreferencePair(
                        id=f"{dialogue.id}-t{turn}-{strategy}",
                        source=dialogue.source,
                        messages=prompt,
                        chosen=[{"role": "assistant", "content": gold}],
                        rejected=[{"role": "assistant", "content": rejected}],
                        meta={
                            "builder": "degraded",
                            "strategy": strategy,
                            "dialogue_id": dialogue.id,
                            "turn": turn,
                            **{k: dialogue.meta[k] for k in ("topic", "crisis") if k in dialogue.meta},
                        },
                    )
                )
    return pairs


def pair_stats(pairs: Iterable[PreferencePair]) -> dict[str, Any]:
    """Counts by source, builder and strategy, and mean reply lengths (characters)."""
    from collections import Counter

    pairs = list(pairs)
    by_source = Counter(p.source for p in pairs)
    by_builder = Counter(str(p.meta.get("builder", "")) for p in pairs)
    by_strategy = Counter(str(p.meta["strategy"]) for p in pairs if "strategy" in p.meta)
    n = max(len(pairs), 1)
    return {
        "pairs": len(pairs),
        "by_source": dict(by_source.most_common()),
        "by_builder": dict(by_builder.most_common()),
        "by_strategy": dict(by_strategy.most_common()),
        "mean_chars": {
            "prompt_last_user": round(sum(len(p.messages[-1]["content"]) for p in pairs) / n, 1),
            "chosen": round(sum(len(p.chosen_text) for p in pairs) / n, 1),
            "rejected": round(sum(len(p.rejected_text) for p in pairs) / n, 1),
        },
    }
