"""Turn-based evaluation samples (the CPsyCoun protocol) from a Dialogue JSONL test split.

Every assistant turn of every dialogue is one sample: the model sees the gold history up to the
user turn before it (plus an optional system/persona prompt) and writes one reply, which is
compared with the gold assistant turn.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinyu.data.schema import Dialogue, read_dialogues
from xinyu.errors import DataError


@dataclass(slots=True)
class Sample:
    """One turn to generate.

    Attributes:
        id: ``<dialogue id>#<turn>``; stable across runs (the cache key of a sample).
        dialogue_id: The dialogue's id.
        turn: 1-based number of the assistant turn within its dialogue.
        context: Messages the model sees, ending with a user turn.
        reference: The gold assistant reply.
    """

    id: str
    dialogue_id: str
    turn: int
    context: list[dict[str, str]]
    reference: str
    meta: dict[str, Any] = field(default_factory=dict)


def dialogue_samples(dialogue: Dialogue, system_prompt: str | None = None, max_turns: int | None = None) -> list[Sample]:
    """Samples of one dialogue.

    Args:
        dialogue: The dialogue.
        system_prompt: Replaces the dialogue's own system message when given (``""`` removes it).
        max_turns: Keep only the first ``max_turns`` assistant turns.
    """
    messages = [m for m in dialogue.messages if m["role"] != "system"]
    if system_prompt is None:
        prefix = [m for m in dialogue.messages[:1] if m["role"] == "system"]
    else:
        prefix = [{"role": "system", "content": system_prompt}] if system_prompt else []
    out: list[Sample] = []
    turn = 0
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant":
            continue
        turn += 1
        if max_turns is not None and turn > max_turns:
            break
        if i == 0 or messages[i - 1]["role"] != "user":
            continue  # an opening greeting or two assistant turns in a row: nothing to answer
        context = prefix + [{"role": m["role"], "content": m["content"]} for m in messages[:i]]
        out.append(
            Sample(
                id=f"{dialogue.id}#{turn}",
                dialogue_id=dialogue.id,
                turn=turn,
                context=context,
                reference=msg["content"],
                meta={"source": dialogue.source, **({"topic": dialogue.meta["topic"]} if "topic" in dialogue.meta else {})},
            )
        )
    return out


def build_samples(
    path: str | Path,
    *,
    system_prompt: str | None = None,
    max_turns: int | None = None,
    limit: int | None = None,
) -> list[Sample]:
    """Read a Dialogue JSONL file and turn it into samples (file order).

    Args:
        path: The test split.
        system_prompt: See :func:`dialogue_samples`.
        max_turns: Assistant turns per dialogue (the first ones).
        limit: Keep the first ``limit`` samples.

    Raises:
        DataError: Unreadable file, a malformed dialogue (naming its line), duplicate ids, or no sample.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("test data not found (expected a Dialogue JSONL file)", path=path)
    samples: list[Sample] = []
    seen: set[str] = set()
    for d in read_dialogues(path):
        if d.id in seen:
            raise DataError(f"duplicate dialogue id {d.id!r}: sample ids must be unique", path=path, field="id")
        seen.add(d.id)
        samples.extend(dialogue_samples(d, system_prompt, max_turns))
        if limit is not None and len(samples) >= limit:
            break
    if limit is not None:
        samples = samples[:limit]
    if not samples:
        raise DataError("no assistant turn that follows a user turn: nothing to evaluate", path=path)
    return samples


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
