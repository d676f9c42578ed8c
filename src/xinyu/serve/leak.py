"""Degenerate-output guards: stop a reply that recites the system prompt or loops.

Small models (the embedded 270M one above all) often continue a reply by copying their instructions
verbatim ("你是“心语”，一个中文心理支持AI助手。你以温暖…"). Those instructions are not meant for the
user, and a recited rule list reads as nonsense in a counseling conversation. The guard looks for a
run of ``min_chars`` consecutive characters that also occurs in the system prompt. Generation stops
there, and the reply is cut at the last sentence end before the copy (or at the end of the sentence
the copy starts in, when that sentence ends within ``min_chars`` characters, so a short self-introduction
such as "我是心语，一个中文心理支持AI助手。" survives).

Small models also loop ("能在身边陪伴你，是最好的陪伴。能在身边陪伴你，是最好的陪伴。…") where a
token-window repetition penalty does not reach. :func:`repeated_clause` finds the first sentence or
clause of at least ``min_chars`` characters that repeats an earlier one; the reply ends before it.

Written by hand because these are plain substring checks over a few hundred characters: a set of the
prompt's ``min_chars``-character windows and one pass over the reply.
"""

from __future__ import annotations

import re

MIN_CHARS = 16
_SENTENCE_END = re.compile(r"[。！？!?…\n]")
# Said instead of a reply that was nothing but recited instructions.
FALLBACK_REPLY = "抱歉，我刚才没有组织好语言。你愿意再多说一些吗？我在听。"


class LeakGuard:
    """Finds verbatim copies of a system prompt in a reply."""

    def __init__(self, system: str | None, min_chars: int = MIN_CHARS) -> None:
        self.min_chars = min_chars
        text = system or ""
        self._windows = {text[i : i + min_chars] for i in range(len(text) - min_chars + 1)}

    def find(self, reply: str, start: int = 0) -> int | None:
        """Index in ``reply`` (at or after ``start``) where a copy of the system prompt starts, or None."""
        if not self._windows:
            return None
        n = self.min_chars
        for i in range(max(0, start), len(reply) - n + 1):
            if reply[i : i + n] in self._windows:
                return i
        return None

    def cut(self, reply: str) -> tuple[str, bool]:
        """``(reply without the copied part, whether anything was cut)``; see the module docstring."""
        start = self.find(reply)
        if start is None:
            return reply, False
        within = _SENTENCE_END.search(reply, start, start + self.min_chars)
        if within is not None:
            end = within.end()
        else:
            ends = [m.end() for m in _SENTENCE_END.finditer(reply, 0, start)]
            end = ends[-1] if ends else start
        kept = reply[:end].rstrip()
        return (kept if kept.strip() else FALLBACK_REPLY), True


_CLAUSE = re.compile(r"[^。！？!?…\n，,；;]+[。！？!?…\n，,；;]*")
LOOP_MIN_CHARS = 6


def repeated_clause(reply: str, min_chars: int = LOOP_MIN_CHARS) -> int | None:
    """Index where a clause of at least ``min_chars`` characters repeats an earlier one, or None."""
    seen: set[str] = set()
    for match in _CLAUSE.finditer(reply):
        key = match.group().strip().rstrip("。！？!?…，,；; ")
        if len(key) >= min_chars:
            if key in seen:
                return match.start()
            seen.add(key)
    return None


def looping(partial: str, min_chars: int = LOOP_MIN_CHARS) -> bool:
    """True when the complete clauses of a reply still being generated already repeat one."""
    end = max(partial.rfind(c) for c in "。！？!?…\n，,；;")
    return end > 0 and repeated_clause(partial[: end + 1], min_chars) is not None


def cut_loop(reply: str, min_chars: int = LOOP_MIN_CHARS) -> tuple[str, bool]:
    """``(reply up to the first repeated clause, whether anything was cut)``."""
    start = repeated_clause(reply, min_chars)
    if start is None:
        return reply, False
    kept = reply[:start].rstrip(" ，,；;")
    if kept and kept[-1] not in "。！？!?…":
        kept += "。"
    return kept, True
