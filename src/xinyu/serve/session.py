"""A conversation's state: its history, in memory or backed by the session store."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xinyu.errors import XinyuError

if TYPE_CHECKING:
    from xinyu.safety.types import RiskAssessment
    from xinyu.serve.store import Store


class SessionEndedError(XinyuError):
    """A message was sent to a session that has ended (end command or deletion)."""


def new_id() -> str:
    """A random id for sessions and messages."""
    return uuid.uuid4().hex


class Session:
    """One conversation: its history, in memory or backed by a :class:`~xinyu.serve.store.Store`.

    Args:
        id: Session id (default: a new random one).
        history: Earlier user/assistant messages, oldest first.
        store: When given, every message is also written there (redacted, optionally encrypted).
        meta: Free metadata kept with the session in the store (client name, preset...).
    """

    def __init__(
        self,
        id: str | None = None,
        history: Sequence[dict[str, str]] | None = None,
        store: Store | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.id = id or new_id()
        self.history: list[dict[str, str]] = [dict(m) for m in history or []]
        self.message_ids: list[str] = [new_id() for _ in self.history]
        self.store = store
        self.meta = dict(meta or {})
        self.ended = False
        self.lock = threading.Lock()  # one turn at a time per session
        if store is not None:
            store.ensure_session(self.id, meta=self.meta)

    @classmethod
    def from_store(cls, store: Store, session_id: str) -> Session:
        """Reopen a stored session (its stored, i.e. redacted, history)."""
        record = store.get_session(session_id)
        session = cls.__new__(cls)
        session.id = session_id
        session.store = store
        session.meta = dict(record.meta)
        session.ended = record.ended
        session.lock = threading.Lock()
        messages = store.messages(session_id)
        session.history = [{"role": m.role, "content": m.content} for m in messages]
        session.message_ids = [m.id for m in messages]
        return session

    def add(
        self,
        role: str,
        content: str,
        *,
        risk: RiskAssessment | None = None,
        screened: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> str:
        """Append a message (and store it); return its id."""
        message_id = new_id()
        if self.store is not None:
            self.store.add_message(
                self.id, role, content, message_id=message_id, risk=risk, screened=screened, meta=meta
            )
        self.history.append({"role": role, "content": content})
        self.message_ids.append(message_id)
        return message_id

    def drop_last(self, n: int) -> list[str]:
        """Take the last ``n`` messages out of the history (kept in the store as superseded); return their ids."""
        n = min(n, len(self.history))
        if n <= 0:
            return []
        ids = self.message_ids[-n:]
        del self.history[-n:]
        del self.message_ids[-n:]
        if self.store is not None:
            self.store.supersede(ids)
        return ids

    def end(self) -> None:
        """Mark the session ended (no more turns)."""
        self.ended = True
        if self.store is not None:
            self.store.end_session(self.id)

    def reset(self) -> None:
        """Forget the in-memory history and start over (a stored session keeps its rows)."""
        self.history.clear()
        self.message_ids.clear()
        self.ended = False

    def to_dialogue(self, persona: str | None = None) -> dict[str, Any]:
        """The session as a Dialogue JSONL record (``/save`` in the terminal)."""
        messages = ([{"role": "system", "content": persona}] if persona else []) + [dict(m) for m in self.history]
        return {"id": self.id, "source": "xinyu-chat", "messages": messages, "meta": dict(self.meta)}

    def save(self, path: str | Path, persona: str | None = None) -> Path:
        """Write the session as one Dialogue JSONL line (atomically)."""
        from xinyu.io import write_jsonl

        path = Path(path)
        write_jsonl(path, [self.to_dialogue(persona)])
        return path
