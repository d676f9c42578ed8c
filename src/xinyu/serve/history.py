"""History budget: which earlier exchanges go into the model's context.

MindGLM keeps the last 12 turns and at most 600 characters of history; here the same idea is stated
in the model's own unit. Two limits apply, oldest exchanges dropped first, the system prompt and the
current user turn always kept:

* ``max_turns``: at most this many earlier exchanges (a user turn and the assistant's reply),
* ``max_tokens``: system prompt + kept history + current user turn fit in this many tokens, counted
  with the backend's tokenizer when it has one locally. Otherwise (remote servers) a character
  estimate is used: **one token per character plus 4 per message** for the chat-template markers.
  That overestimates for Chinese (Gemma, Qwen and GLM tokenizers spend 0.5-1 token per Hanzi) and
  for English words, so the estimate never lets a prompt overrun the context window.

The budget is for the prompt only: keep ``max_tokens + max_new_tokens`` within the context window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Template markers around each message (e.g. "<start_of_turn>user\n" ... "<end_of_turn>\n").
MESSAGE_OVERHEAD = 4


def estimate_tokens(text: str) -> int:
    """The documented fallback token count: one per character."""
    return len(text)


def exchanges(history: Sequence[dict[str, str]]) -> list[list[dict[str, str]]]:
    """Group user/assistant messages into exchanges, each starting at a user message."""
    groups: list[list[dict[str, str]]] = []
    for message in history:
        if message["role"] == "system":
            continue
        if message["role"] == "user" or not groups:
            groups.append([message])
        else:
            groups[-1].append(message)
    return groups


@dataclass(slots=True)
class HistoryBudget:
    """Limits on the history sent to the model.

    Attributes:
        max_turns: Earlier exchanges kept at most (0 keeps none).
        max_tokens: Token budget of the whole prompt (system + history + current user turn).
    """

    max_turns: int = 12
    max_tokens: int = 2048

    def fit(
        self,
        system: str,
        history: Sequence[dict[str, str]],
        user: str,
        count: Callable[[str], int] | None = None,
    ) -> list[dict[str, str]]:
        """The part of ``history`` that fits, as a flat message list (oldest exchanges dropped first).

        Args:
            system: The system prompt (persona and any safety preamble); always kept.
            history: Earlier messages of the session, oldest first.
            user: The current user turn; always kept.
            count: Token counter for a text; default :func:`estimate_tokens`.

        Returns:
            The kept history messages.
        """
        count = count or estimate_tokens
        kept = exchanges(history)
        kept = kept[-self.max_turns :] if self.max_turns > 0 else []
        fixed = (count(system) + MESSAGE_OVERHEAD if system else 0) + count(user) + MESSAGE_OVERHEAD
        sizes = [sum(count(m["content"]) + MESSAGE_OVERHEAD for m in group) for group in kept]
        total = fixed + sum(sizes)
        while kept and total > self.max_tokens:
            total -= sizes.pop(0)
            kept.pop(0)
        return [message for group in kept for message in group]
