"""The one conversation schema every importer converts into.

A dialogue is one JSON object per line (Dialogue JSONL), in the OpenAI messages format that TRL,
LLaMA-Factory (``openai`` format) and vLLM read::

    {"id": "smile-0", "source": "smile", "messages": [{"role": "user", "content": "..."},
     {"role": "assistant", "content": "..."}], "meta": {"topic": "..."}}

Messages are plain dicts (not objects) so that 55k-dialogue corpora stream without conversion
overhead. A *preference pair* adds ``chosen`` and ``rejected`` (each a list holding one assistant
message) after a shared prompt in ``messages`` that ends with a user turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xinyu.errors import DataError

ROLES = ("system", "user", "assistant")


@dataclass(slots=True)
class Dialogue:
    """One conversation.

    Attributes:
        id: Unique id, conventionally ``<source>-<original id>``.
        source: Corpus name (``smile``, ``cpsycound``, ``persona``...).
        messages: ``[{"role": "system"|"user"|"assistant", "content": str}, ...]``.
        meta: Free-form metadata (``topic``, ``style`` tags, original file...).
    """

    id: str
    source: str
    messages: list[dict[str, str]]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the canonical key order."""
        return {"id": self.id, "source": self.source, "messages": self.messages, "meta": self.meta}

    @classmethod
    def from_dict(cls, obj: Any, *, path: Any = None, line: int | None = None) -> Dialogue:
        """Build from a Dialogue JSONL object, checking structure (not conversation rules)."""
        if not isinstance(obj, dict):
            raise DataError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=line)
        for key in ("id", "messages"):
            if key not in obj:
                raise DataError("missing required key (expected id, source, messages, meta)", path=path,
                                line=line, field=key)
        messages = obj["messages"]
        if not isinstance(messages, list):
            raise DataError("expected a list of messages", path=path, line=line, field="messages")
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict) or "role" not in msg or "content" not in msg:
                raise DataError("expected {'role': ..., 'content': ...}", path=path, line=line,
                                field=f"messages[{i}]")
        meta = obj.get("meta") or {}
        if not isinstance(meta, dict):
            raise DataError("expected an object", path=path, line=line, field="meta")
        return cls(id=str(obj["id"]), source=str(obj.get("source", "")), messages=messages, meta=meta)

    @property
    def turns(self) -> list[dict[str, str]]:
        """Messages without the system prompt."""
        return [m for m in self.messages if m["role"] != "system"]

    @property
    def system(self) -> str | None:
        """The system prompt, if any."""
        if self.messages and self.messages[0]["role"] == "system":
            return self.messages[0]["content"]
        return None


def dialogue_problems(messages: list[dict[str, Any]], strict: bool = True) -> list[str]:
    """Return every rule a message list breaks (empty list means valid).

    Always checked: known roles, string contents, system only first, non-empty assistant turns, at
    least one user turn followed by an assistant turn. With ``strict`` (the form written to a
    dataset after cleaning): turns alternate user/assistant starting with user and ending with
    assistant, and user turns are non-empty.
    """
    problems: list[str] = []
    has_exchange = False
    prev_role = None
    for i, msg in enumerate(messages):
        role, content = msg.get("role"), msg.get("content")
        if role not in ROLES:
            problems.append(f"messages[{i}].role: expected one of {ROLES}, got {role!r}")
            continue
        if not isinstance(content, str):
            problems.append(f"messages[{i}].content: expected a string, got {type(content).__name__}")
            continue
        if role == "system" and i != 0:
            problems.append(f"messages[{i}]: a system message may only come first")
        if role == "assistant" and not content.strip():
            problems.append(f"messages[{i}]: empty assistant turn")
        if role == "assistant" and prev_role == "user":
            has_exchange = True
        if strict and role != "system":
            if role == "user" and not content.strip():
                problems.append(f"messages[{i}]: empty user turn")
            expected = "user" if prev_role in (None, "system", "assistant") else "assistant"
            if role != expected:
                problems.append(f"messages[{i}]: expected a {expected} turn, got {role} (turns must alternate)")
        prev_role = role
    if not has_exchange:
        problems.append("no user turn followed by an assistant turn")
    if strict and prev_role != "assistant" and not problems:
        problems.append("the last turn must be an assistant turn")
    return problems


def validate_dialogue(d: Dialogue, strict: bool = True, *, path: Any = None, line: int | None = None) -> Dialogue:
    """Raise a :class:`DataError` naming the dialogue if it breaks a rule; return it otherwise."""
    problems = dialogue_problems(d.messages, strict=strict)
    if problems:
        raise DataError(f"dialogue {d.id!r}: " + "; ".join(problems), path=path, line=line)
    return d


def read_dialogues(path: Any, strict: bool = False) -> list[Dialogue]:
    """Read a Dialogue JSONL file, validating each line (errors name the line)."""
    from xinyu.io import iter_jsonl

    out = []
    for lineno, obj in iter_jsonl(path):
        d = Dialogue.from_dict(obj, path=path, line=lineno)
        out.append(validate_dialogue(d, strict=strict, path=path, line=lineno))
    return out


def write_dialogues(path: Any, dialogues: Any) -> int:
    """Atomically write dialogues (objects or dicts) as JSONL; returns the count."""
    from xinyu.io import write_jsonl

    return write_jsonl(path, (d.to_dict() if isinstance(d, Dialogue) else d for d in dialogues))
