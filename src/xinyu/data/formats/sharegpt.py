"""ShareGPT records: ``{"conversations": [{"from", "value"}, ...], "system"?}`` (JSON array or JSONL).

Speaker names: ``human``/``user`` → user, ``gpt``/``assistant``/``model``/``bot``/``chatgpt`` →
assistant, ``system`` → system. Following LLaMA-Factory, ``observation`` takes the user slot and
``function_call`` the assistant slot (counted in the report; counseling data normally has neither).
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
from xinyu.data.formats.openai import content_text, topic_meta
from xinyu.data.schema import Dialogue

NAME = "sharegpt"
DESCRIPTION = "ShareGPT: {conversations: [{from: human|gpt|system|observation, value}], system?}"
ROLE_MAP = {
    "human": "user",
    "user": "user",
    "observation": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "bot": "assistant",
    "chatgpt": "assistant",
    "function_call": "assistant",
    "system": "system",
}
TOOL_ROLES = {"observation", "function_call"}


def detect(path: Path) -> bool:
    """Records with a ``conversations`` list of ``{from, value}`` objects."""
    sample = first_file(path, (".json", ".jsonl"), recursive=True)
    obj = first_record(sample) if sample else None
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("conversations"), list)
        and bool(obj["conversations"])
        and isinstance(obj["conversations"][0], dict)
        and "from" in obj["conversations"][0]
    )


def sharegpt_messages(
    obj: dict[str, Any],
    loc: Loc,
    report: ReadReport,
    *,
    messages_key: str = "conversations",
    role_tag: str = "from",
    content_tag: str = "value",
    system_key: str = "system",
    role_map: dict[str, str] | None = None,
) -> list[dict[str, str]]:
    """Convert one ShareGPT record (column and tag names configurable, as in LLaMA-Factory)."""
    role_map = role_map or ROLE_MAP
    if messages_key not in obj:
        raise loc.error("missing field (expected a list of {from, value})", field=messages_key)
    raw = obj[messages_key]
    if not isinstance(raw, list):
        raise loc.error(f"expected a list, got {type(raw).__name__}", field=messages_key)
    messages = []
    system = require_str(obj, system_key, loc, optional=True) if system_key else ""
    if system.strip():
        messages.append(msg("system", system))
    for i, item in enumerate(raw):
        field = f"{messages_key}[{i}]"
        if not isinstance(item, dict):
            raise loc.error(f"expected an object, got {type(item).__name__}", field=field)
        speaker = item.get(role_tag)
        if speaker not in role_map:
            raise loc.error(
                f"expected one of {sorted(role_map)}, got {speaker!r}", field=f"{field}.{role_tag}"
            )
        if content_tag not in item:
            raise loc.error("missing field (expected the message text)", field=f"{field}.{content_tag}")
        if speaker in TOOL_ROLES or role_map[speaker] not in ("user", "assistant", "system"):
            report.notes["tool turns kept in user/assistant slots"] += 1
        messages.append(
            msg(role_map[speaker], content_text(item[content_tag], loc, f"{field}.{content_tag}"))
        )
    return messages


def read(
    path: Path, *, skip_bad: bool = False, report: ReadReport | None = None, source: str = NAME
) -> Iterator[Dialogue]:
    """Stream dialogues from ShareGPT records.

    Args:
        path: A JSON/JSONL file or a directory of them.
        skip_bad: Count and skip bad records instead of raising.
        report: Filled with counts.
        source: Source name used in ids and ``Dialogue.source``.
    """
    report = report if report is not None else ReadReport()

    def convert(obj: Any, loc: Loc, key: str) -> Dialogue:
        obj = require_dict(obj, loc, "a record with 'conversations'")
        messages = sharegpt_messages(obj, loc, report)
        meta: dict[str, Any] = {
            "file": loc.path.name,
            "index": loc.record if loc.record is not None else loc.line,
        }
        meta.update(topic_meta(obj))
        return Dialogue(id=f"{source}-{record_id(obj, key)}", source=source, messages=messages, meta=meta)

    return read_record_files(Path(path), convert, skip_bad=skip_bad, report=report, fmt=NAME)
