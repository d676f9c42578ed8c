"""OpenAI messages records: ``{"messages": [{"role", "content"}, ...]}`` (JSON array or JSONL).

This is also SoulChatCorpus's layout (with ``id`` and ``topic``). ``developer`` is read as ``system``;
``tool``/``function`` messages have no place in a counseling dialogue and are dropped (counted).
Content given as a list of parts keeps its text parts.
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
)
from xinyu.data.schema import Dialogue
from xinyu.data.topics import normalize_topic

NAME = "openai"
DESCRIPTION = "OpenAI messages: {messages: [{role, content}]} per record (SoulChatCorpus too); JSON or JSONL"
ROLE_MAP = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
DROPPED_ROLES = {"tool", "function", "ipython"}


def detect(path: Path) -> bool:
    """Records with a ``messages`` list of ``{role, content}`` objects."""
    sample = first_file(path, (".json", ".jsonl"), recursive=True)
    obj = first_record(sample) if sample else None
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("messages"), list)
        and bool(obj["messages"])
        and isinstance(obj["messages"][0], dict)
        and "role" in obj["messages"][0]
    )


def content_text(value: Any, loc: Loc, field: str) -> str:
    """Message content as text: a string, or the text parts of a content-part list."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, list):
        texts = []
        for part in value:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return "".join(texts)
    raise loc.error(f"expected a string, got {type(value).__name__}", field=field)


def convert_messages(
    raw: Any,
    loc: Loc,
    report: ReadReport,
    field: str = "messages",
    role_key: str = "role",
    content_key: str = "content",
    role_map: dict[str, str] | None = None,
) -> list[dict[str, str]]:
    """Validate and convert a list of role/content dicts."""
    role_map = role_map or ROLE_MAP
    if not isinstance(raw, list):
        raise loc.error(f"expected a list of messages, got {type(raw).__name__}", field=field)
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise loc.error(f"expected a message object, got {type(item).__name__}", field=f"{field}[{i}]")
        role = item.get(role_key)
        if role in DROPPED_ROLES:
            report.notes["tool messages dropped"] += 1
            continue
        if role not in role_map:
            raise loc.error(
                f"expected one of {sorted(role_map)}, got {role!r}", field=f"{field}[{i}].{role_key}"
            )
        if content_key not in item:
            raise loc.error("missing field (expected the message text)", field=f"{field}[{i}].{content_key}")
        out.append(msg(role_map[role], content_text(item[content_key], loc, f"{field}[{i}].{content_key}")))
    return out


def topic_meta(obj: dict[str, Any]) -> dict[str, Any]:
    """``topic`` (normalised key) and ``topic_name`` from a record's ``topic``/``category`` field."""
    for key in ("topic", "category", "label"):
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return {"topic": normalize_topic(value), "topic_name": value.strip()}
    return {}


def read(
    path: Path, *, skip_bad: bool = False, report: ReadReport | None = None, source: str = NAME
) -> Iterator[Dialogue]:
    """Stream dialogues from OpenAI-messages records.

    Args:
        path: A JSON/JSONL file or a directory of them.
        skip_bad: Count and skip bad records instead of raising.
        report: Filled with counts.
        source: Source name used in ids and ``Dialogue.source``.
    """
    report = report if report is not None else ReadReport()

    def convert(obj: Any, loc: Loc, key: str) -> Dialogue:
        obj = require_dict(obj, loc, "a record with 'messages'")
        if "messages" not in obj:
            raise loc.error("missing field (expected a list of {role, content})", field="messages")
        messages = convert_messages(obj["messages"], loc, report)
        meta: dict[str, Any] = {
            "file": loc.path.name,
            "index": loc.record if loc.record is not None else loc.line,
        }
        meta.update(topic_meta(obj))
        if isinstance(obj.get("meta"), dict):
            meta.update(obj["meta"])
        return Dialogue(id=f"{source}-{record_id(obj, key)}", source=source, messages=messages, meta=meta)

    return read_record_files(Path(path), convert, skip_bad=skip_bad, report=report, fmt=NAME)
