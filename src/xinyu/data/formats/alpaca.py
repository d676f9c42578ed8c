"""Alpaca records: ``{"instruction", "input"?, "output", "system"?, "history"?: [[q, a], ...]}``.

The user turn is ``instruction`` followed by ``input`` on a new line when both are present; ``history``
pairs come before it. EmoLLM's self-cognition set uses this layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xinyu.data.formats._base import (
    Loc,
    ReadReport,
    first_file,
    first_record,
    msg,
    read_record_files,
    record_id,
    require_dict,
    require_str,
)
from xinyu.data.formats.openai import topic_meta
from xinyu.data.schema import Dialogue

NAME = "alpaca"
DESCRIPTION = "Alpaca: {instruction, input?, output, system?, history?: [[q, a], ...]}"


def detect(path: Path) -> bool:
    """Records with ``instruction`` and ``output``."""
    sample = first_file(path, (".json", ".jsonl"), recursive=True)
    obj = first_record(sample) if sample else None
    return isinstance(obj, dict) and "instruction" in obj and "output" in obj


def alpaca_messages(
    obj: dict[str, Any],
    loc: Loc,
    *,
    prompt: str = "instruction",
    query: str = "input",
    response: str = "output",
    system: str = "system",
    history: str = "history",
) -> list[dict[str, str]]:
    """Convert one Alpaca record (column names configurable, as in LLaMA-Factory)."""
    instruction = require_str(obj, prompt, loc, what="the user's request")
    extra = require_str(obj, query, loc, optional=True) if query else ""
    output = require_str(obj, response, loc, what="the assistant's answer")
    messages = []
    sys_text = require_str(obj, system, loc, optional=True) if system else ""
    if sys_text.strip():
        messages.append(msg("system", sys_text))
    pairs = obj.get(history) if history else None
    if pairs:
        if not isinstance(pairs, list):
            raise loc.error(
                f"expected a list of [question, answer] pairs, got {type(pairs).__name__}", field=history
            )
        for i, pair in enumerate(pairs):
            if (
                not isinstance(pair, (list, tuple))
                or len(pair) != 2
                or not all(isinstance(x, str) for x in pair)
            ):
                raise loc.error("expected a [question, answer] pair of strings", field=f"{history}[{i}]")
            messages.append(msg("user", pair[0]))
            messages.append(msg("assistant", pair[1]))
    user = "\n".join(part for part in (instruction, extra) if part.strip()) if extra.strip() else instruction
    messages.append(msg("user", user))
    messages.append(msg("assistant", output))
    return messages


def read(
    path: Path, *, skip_bad: bool = False, report: ReadReport | None = None, source: str = NAME
) -> Iterator[Dialogue]:
    """Stream dialogues from Alpaca records.

    Args:
        path: A JSON/JSONL file or a directory of them.
        skip_bad: Count and skip bad records instead of raising.
        report: Filled with counts.
        source: Source name used in ids and ``Dialogue.source``.
    """

    def convert(obj: Any, loc: Loc, key: str) -> Dialogue:
        obj = require_dict(obj, loc, "a record with 'instruction' and 'output'")
        meta: dict[str, Any] = {
            "file": loc.path.name,
            "index": loc.record if loc.record is not None else loc.line,
        }
        meta.update(topic_meta(obj))
        return Dialogue(
            id=f"{source}-{record_id(obj, key)}", source=source, messages=alpaca_messages(obj, loc), meta=meta
        )

    return read_record_files(Path(path), convert, skip_bad=skip_bad, report=report, fmt=NAME)
