"""Turn user feedback into preference pairs for alignment (DPO / reward model training).

A pair needs two replies to the same context (the same conversation up to and including the user
turn, compared after redaction): a **rejected** reply rated 👎 and a **chosen** one that was rated 👍,
or, failing that, the reply that replaced the rejected one when the user asked to regenerate it.
Replies written by the safety layer (policy templates, screened replies) are never rejected in a
pair: whether they appear is the safety policy's decision, not a matter of taste.

Each pair is one JSONL record in the project's preference format::

    {"id", "source": "feedback", "messages": [...prompt ending with the user turn],
     "chosen": [{"role": "assistant", "content"}], "rejected": [{"role": "assistant", "content"}],
     "meta": {"session_id", "chosen_message_id", "rejected_message_id", "chosen_by", "comments"}}
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from xinyu.serve.store import MessageRecord, Store


def _net(message: MessageRecord) -> int:
    return sum(message.ratings)


def _safety_written(message: MessageRecord) -> bool:
    return message.screened or message.meta.get("action") in ("template", "end")


def preference_pairs(store: Store, system: str | None = None) -> list[dict[str, Any]]:
    """Build preference pairs from the store's feedback.

    Args:
        store: The session store.
        system: A system prompt to put first in each prompt (e.g. the persona the replies were
            generated with); none by default.

    Returns:
        Pair records, oldest rejected reply first.
    """
    groups: dict[str, list[MessageRecord]] = defaultdict(list)
    for message in store.rated_messages():
        if message.role == "assistant" and message.context_hash:
            groups[message.context_hash].append(message)
    comments = defaultdict(list)
    for entry in store.feedback():
        if entry.comment:
            comments[entry.message_id].append(entry.comment)
    pairs = []
    for group in groups.values():
        liked = [m for m in group if _net(m) > 0]
        for rejected in (m for m in group if _net(m) < 0 and not _safety_written(m)):
            chosen, how = None, ""
            if liked:
                chosen, how = liked[-1], "thumbs_up"
            else:
                regenerations = [
                    m
                    for m in group
                    if m.session_id == rejected.session_id and m.seq > rejected.seq and _net(m) >= 0
                ]
                if regenerations:
                    chosen, how = regenerations[0], "regenerated"
            if chosen is None or chosen.content.strip() == rejected.content.strip():
                continue
            prompt = store.prompt_of(rejected.id)
            if system:
                prompt = [{"role": "system", "content": system}, *prompt]
            pairs.append(
                (
                    rejected.created_at,
                    rejected.seq,
                    {
                        "id": f"feedback-{rejected.id[:12]}-{chosen.id[:12]}",
                        "source": "feedback",
                        "messages": prompt,
                        "chosen": [{"role": "assistant", "content": chosen.content}],
                        "rejected": [{"role": "assistant", "content": rejected.content}],
                        "meta": {
                            "session_id": rejected.session_id,
                            "chosen_message_id": chosen.id,
                            "rejected_message_id": rejected.id,
                            "chosen_by": how,
                            "comments": {"chosen": comments[chosen.id], "rejected": comments[rejected.id]},
                        },
                    },
                )
            )
    pairs.sort(key=lambda p: (p[0], p[1]))
    return [pair for _, _, pair in pairs]


def export_feedback(store: Store, path: str | Path, system: str | None = None) -> int:
    """Write :func:`preference_pairs` to a JSONL file (atomically); return the number of pairs."""
    from xinyu.io import write_jsonl

    return write_jsonl(Path(path), preference_pairs(store, system=system))
