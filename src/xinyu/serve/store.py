"""Session store: sessions, messages and feedback in SQLite (default) or any SQLAlchemy database.

* SQLite at ``$XINYU_HOME/xinyu.db`` by default, in WAL mode with a busy timeout so the API's worker
  threads and a second process (``xinyu store purge``) can use it at once. Pass a URL such as
  ``postgresql+psycopg://user@host/xinyu`` to share one store between several server instances.
* Message text (and feedback comments) is **redacted for personal data** before it is written
  (:func:`xinyu.safety.pii.redact`: phone numbers, ID cards, e-mail, QQ/WeChat ids, bank cards).
* With a key in ``XINYU_STORE_KEY`` (``xinyu store keygen`` makes one) text is also **encrypted at
  rest** with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``). Reading an encrypted row
  without the key, or with another key, raises a clear :class:`StoreKeyError`.
* Risk flags are stored without the evidence text (it quotes the user): level, imminence,
  categories, the rules that fired and the score.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker
from sqlalchemy.orm import Session as DbSession

from xinyu.errors import XinyuError

if TYPE_CHECKING:
    from xinyu.safety.types import RiskAssessment

log = logging.getLogger(__name__)

KEY_ENV = "XINYU_STORE_KEY"
_ENCRYPTED_PREFIX = "fernet:"


class StoreError(XinyuError):
    """A store operation failed (unknown session or message, bad argument)."""


class StoreKeyError(StoreError):
    """Encrypted rows cannot be read: the key is missing or is not the one they were written with."""


def utcnow() -> datetime:
    """Naive UTC now (SQLite keeps no time zone; every timestamp in the store is UTC)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""


class SessionRow(Base):
    """A conversation."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    ended: Mapped[bool] = mapped_column(Boolean, default=False)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    messages: Mapped[list[MessageRow]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True, order_by="MessageRow.seq"
    )


class MessageRow(Base):
    """One message of a session (redacted; encrypted when a key is set)."""

    __tablename__ = "messages"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    risk_level: Mapped[str | None] = mapped_column(String(16), nullable=True)
    risk: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    screened: Mapped[bool] = mapped_column(Boolean, default=False)
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    context_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    session: Mapped[SessionRow] = relationship(back_populates="messages")
    feedback: Mapped[list[FeedbackRow]] = relationship(
        back_populates="message", cascade="all, delete-orphan", passive_deletes=True
    )


class FeedbackRow(Base):
    """A thumbs up (+1) or down (-1) on an assistant message, with an optional comment."""

    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    message: Mapped[MessageRow] = relationship(back_populates="feedback")


@dataclass(slots=True)
class SessionRecord:
    """A session as read from the store."""

    id: str
    created_at: datetime
    updated_at: datetime
    ended: bool
    meta: dict[str, Any]
    n_messages: int = 0


@dataclass(slots=True)
class MessageRecord:
    """A message as read from the store (text decrypted, already redacted)."""

    id: str
    session_id: str
    seq: int
    role: str
    content: str
    created_at: datetime
    risk: dict[str, Any] | None = None
    screened: bool = False
    superseded: bool = False
    context_hash: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    ratings: list[int] = field(default_factory=list)


@dataclass(slots=True)
class FeedbackRecord:
    """A feedback entry as read from the store."""

    id: int
    message_id: str
    rating: int
    comment: str | None
    created_at: datetime


def default_url() -> str:
    """``sqlite:///$XINYU_HOME/xinyu.db``."""
    from xinyu.paths import xinyu_home

    return f"sqlite:///{xinyu_home() / 'xinyu.db'}"


def _risk_flags(risk: RiskAssessment | None) -> dict[str, Any] | None:
    if risk is None:
        return None
    data = risk.to_dict()
    # Evidence spans quote the user's words: keep which rules fired and where, not the text.
    data["evidence"] = [{k: v for k, v in e.items() if k != "text"} for e in data.get("evidence", [])]
    return data


def context_hash(messages: Sequence[dict[str, str]]) -> str:
    """Key of a reply's context (the conversation before it), to match alternative replies."""
    canon = json.dumps([[m["role"], m["content"]] for m in messages], ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


class Store:
    """Sessions, messages and feedback in a SQL database.

    Args:
        url: SQLAlchemy URL (default :func:`default_url`).
        key: Fernet key for encryption at rest (default: ``$XINYU_STORE_KEY``; none → plain text).
        redact: Redact personal data before writing (on by default; turn off only for synthetic data).
    """

    def __init__(self, url: str | None = None, *, key: str | None = None, redact: bool = True) -> None:
        self.url = url or default_url()
        self.redact = redact
        key = key if key is not None else os.environ.get(KEY_ENV) or None
        self._fernet = _fernet(key) if key else None
        connect_args = {"check_same_thread": False, "timeout": 30} if self.url.startswith("sqlite") else {}
        self.engine = create_engine(self.url, connect_args=connect_args)
        if self.url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def encrypting(self) -> bool:
        """Whether new text is encrypted."""
        return self._fernet is not None

    # -- text in and out -------------------------------------------------------------------------
    def _seal(self, text: str) -> tuple[str, bool]:
        if self.redact:
            from xinyu.safety.pii import redact

            text = redact(text)
        if self._fernet is None:
            return text, False
        return _ENCRYPTED_PREFIX + self._fernet.encrypt(text.encode("utf-8")).decode("ascii"), True

    def _open(self, text: str | None, encrypted: bool, what: str) -> str | None:
        if text is None or not encrypted:
            return text
        if self._fernet is None:
            raise StoreKeyError(
                f"{what} is encrypted: set {KEY_ENV} to the key the store was written with"
            )
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(text.removeprefix(_ENCRYPTED_PREFIX).encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise StoreKeyError(
                f"{what} cannot be decrypted with the key in {KEY_ENV}: it was written with another key"
            ) from None

    # -- sessions --------------------------------------------------------------------------------
    def ensure_session(self, session_id: str, meta: dict[str, Any] | None = None) -> None:
        """Create the session row if it does not exist."""
        with self._sessions.begin() as db:
            if db.get(SessionRow, session_id) is None:
                db.add(SessionRow(id=session_id, meta=dict(meta or {})))

    def get_session(self, session_id: str) -> SessionRecord:
        """A session by id; :class:`StoreError` when unknown."""
        with self._sessions() as db:
            row = db.get(SessionRow, session_id)
            if row is None:
                raise StoreError(f"unknown session '{session_id}'")
            count = db.scalar(select(func.count()).where(MessageRow.session_id == session_id)) or 0
            return SessionRecord(row.id, row.created_at, row.updated_at, row.ended, dict(row.meta or {}), count)

    def list_sessions(self, limit: int = 100) -> list[SessionRecord]:
        """Most recently active sessions first."""
        with self._sessions() as db:
            counts = (
                select(MessageRow.session_id, func.count().label("n")).group_by(MessageRow.session_id).subquery()
            )
            rows = db.execute(
                select(SessionRow, counts.c.n)
                .outerjoin(counts, counts.c.session_id == SessionRow.id)
                .order_by(SessionRow.updated_at.desc())
                .limit(limit)
            ).all()
            return [
                SessionRecord(r.id, r.created_at, r.updated_at, r.ended, dict(r.meta or {}), n or 0) for r, n in rows
            ]

    def end_session(self, session_id: str) -> None:
        """Mark a session ended."""
        with self._sessions.begin() as db:
            row = db.get(SessionRow, session_id)
            if row is None:
                raise StoreError(f"unknown session '{session_id}'")
            row.ended = True
            row.updated_at = utcnow()

    def delete_session(self, session_id: str) -> bool:
        """Delete a session with its messages and feedback; False when it did not exist."""
        with self._sessions.begin() as db:
            row = db.get(SessionRow, session_id)
            if row is None:
                return False
            db.delete(row)
            return True

    # -- messages --------------------------------------------------------------------------------
    def add_message(
        self,
        session_id: str,
        role: str,
        content: str,
        *,
        message_id: str | None = None,
        risk: RiskAssessment | None = None,
        screened: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> str:
        """Append a message to a session (redacted, encrypted when a key is set); return its id."""
        import uuid

        if role not in ("system", "user", "assistant"):
            raise StoreError(f"role must be system, user or assistant, not '{role}'")
        message_id = message_id or uuid.uuid4().hex
        sealed, encrypted = self._seal(content)
        with self._sessions.begin() as db:
            session = db.get(SessionRow, session_id)
            if session is None:
                session = SessionRow(id=session_id, meta={})
                db.add(session)
                db.flush()
            seq = (db.scalar(select(func.max(MessageRow.seq)).where(MessageRow.session_id == session_id)) or 0) + 1
            ctx = None
            if role == "assistant":
                prior = self._active(db, session_id)
                ctx = context_hash([{"role": m.role, "content": self._open(m.content, m.encrypted, "a message") or ""}
                                    for m in prior])
            db.add(
                MessageRow(
                    id=message_id, session_id=session_id, seq=seq, role=role, content=sealed, encrypted=encrypted,
                    risk_level=risk.level.value if risk is not None else None, risk=_risk_flags(risk),
                    screened=screened, context_hash=ctx, meta=dict(meta or {}),
                )
            )
            session.updated_at = utcnow()
        return message_id

    @staticmethod
    def _active(db: DbSession, session_id: str) -> list[MessageRow]:
        return list(
            db.scalars(
                select(MessageRow)
                .where(MessageRow.session_id == session_id, MessageRow.superseded.is_(False))
                .order_by(MessageRow.seq)
            )
        )

    def _record(self, row: MessageRow) -> MessageRecord:
        return MessageRecord(
            id=row.id, session_id=row.session_id, seq=row.seq, role=row.role,
            content=self._open(row.content, row.encrypted, f"message {row.id}") or "",
            created_at=row.created_at, risk=row.risk, screened=row.screened, superseded=row.superseded,
            context_hash=row.context_hash, meta=dict(row.meta or {}), ratings=[f.rating for f in row.feedback],
        )

    def messages(self, session_id: str, include_superseded: bool = False) -> list[MessageRecord]:
        """A session's messages in order (superseded alternatives left out unless asked for)."""
        with self._sessions() as db:
            if db.get(SessionRow, session_id) is None:
                raise StoreError(f"unknown session '{session_id}'")
            query = select(MessageRow).where(MessageRow.session_id == session_id).order_by(MessageRow.seq)
            if not include_superseded:
                query = query.where(MessageRow.superseded.is_(False))
            return [self._record(row) for row in db.scalars(query)]

    def get_message(self, message_id: str) -> MessageRecord:
        """A message by id; :class:`StoreError` when unknown."""
        with self._sessions() as db:
            row = db.get(MessageRow, message_id)
            if row is None:
                raise StoreError(f"unknown message '{message_id}'")
            return self._record(row)

    def supersede(self, message_ids: Sequence[str]) -> None:
        """Mark messages as replaced (a regenerated reply); they stay for feedback export."""
        with self._sessions.begin() as db:
            for message_id in message_ids:
                row = db.get(MessageRow, message_id)
                if row is not None:
                    row.superseded = True

    # -- feedback --------------------------------------------------------------------------------
    def add_feedback(self, message_id: str, rating: int, comment: str | None = None) -> int:
        """Record 👍 (+1) or 👎 (-1) on an assistant message; return the feedback id."""
        if rating not in (1, -1):
            raise StoreError(f"rating must be 1 (thumbs up) or -1 (thumbs down), not {rating!r}")
        sealed, encrypted = self._seal(comment) if comment else (None, False)
        with self._sessions.begin() as db:
            message = db.get(MessageRow, message_id)
            if message is None:
                raise StoreError(f"unknown message '{message_id}'")
            if message.role != "assistant":
                raise StoreError(f"message '{message_id}' is a {message.role} message; rate assistant replies")
            row = FeedbackRow(message_id=message_id, rating=rating, comment=sealed, encrypted=encrypted)
            db.add(row)
            db.flush()
            return row.id

    def update_feedback_comment(self, feedback_id: int, comment: str) -> None:
        """Attach a comment (redacted, encrypted when a key is set) to an existing feedback entry."""
        sealed, encrypted = self._seal(comment)
        with self._sessions.begin() as db:
            row = db.get(FeedbackRow, feedback_id)
            if row is None:
                raise StoreError(f"unknown feedback {feedback_id}")
            row.comment, row.encrypted = sealed, encrypted

    def feedback(self, message_id: str | None = None) -> list[FeedbackRecord]:
        """Feedback entries, oldest first (for one message when given)."""
        with self._sessions() as db:
            query = select(FeedbackRow).order_by(FeedbackRow.id)
            if message_id is not None:
                query = query.where(FeedbackRow.message_id == message_id)
            return [
                FeedbackRecord(f.id, f.message_id, f.rating, self._open(f.comment, f.encrypted, f"feedback {f.id}"),
                               f.created_at)
                for f in db.scalars(query)
            ]

    # -- retention -------------------------------------------------------------------------------
    def purge(self, older_than: timedelta) -> dict[str, int]:
        """Delete sessions idle for longer than ``older_than``, with their messages and feedback."""
        cutoff = utcnow() - older_than
        with self._sessions.begin() as db:
            ids = list(db.scalars(select(SessionRow.id).where(SessionRow.updated_at < cutoff)))
            if not ids:
                return {"sessions": 0, "messages": 0, "feedback": 0}
            message_ids = select(MessageRow.id).where(MessageRow.session_id.in_(ids))
            n_feedback = db.execute(delete(FeedbackRow).where(FeedbackRow.message_id.in_(message_ids))).rowcount
            n_messages = db.execute(delete(MessageRow).where(MessageRow.session_id.in_(ids))).rowcount
            n_sessions = db.execute(delete(SessionRow).where(SessionRow.id.in_(ids))).rowcount
        log.info("purged %d sessions, %d messages, %d feedback entries", n_sessions, n_messages, n_feedback)
        return {"sessions": n_sessions, "messages": n_messages, "feedback": n_feedback}

    def rated_messages(self) -> list[MessageRecord]:
        """Assistant messages that have feedback, plus every alternative sharing their context."""
        with self._sessions() as db:
            rated = select(FeedbackRow.message_id)
            hashes = select(MessageRow.context_hash).where(MessageRow.id.in_(rated))
            rows = db.scalars(
                select(MessageRow).where(MessageRow.context_hash.in_(hashes)).order_by(MessageRow.created_at)
            )
            return [self._record(row) for row in rows]

    def prompt_of(self, message_id: str) -> list[dict[str, str]]:
        """The conversation a reply answered: the active messages before it in its session."""
        with self._sessions() as db:
            target = db.get(MessageRow, message_id)
            if target is None:
                raise StoreError(f"unknown message '{message_id}'")
            rows = db.scalars(
                select(MessageRow)
                .where(MessageRow.session_id == target.session_id, MessageRow.seq < target.seq)
                .order_by(MessageRow.seq)
            )
            prompt: list[dict[str, str]] = []
            for row in rows:
                # Superseded rows after the reply's own user turn belong to other branches; the reply's
                # user turn itself may be superseded (then the reply was regenerated).
                if row.superseded and row.id != target.meta.get("reply_to"):
                    continue
                prompt.append({"role": row.role, "content": self._open(row.content, row.encrypted, "a message")})
            return prompt

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _fernet(key: str) -> Any:
    try:
        from cryptography.fernet import Fernet
    except ImportError:
        raise XinyuError("encryption at rest needs cryptography: pip install 'xinyu[serve]'") from None
    try:
        return Fernet(key.encode("ascii") if isinstance(key, str) else key)
    except (ValueError, UnicodeEncodeError):
        raise StoreKeyError(
            f"{KEY_ENV} is not a valid Fernet key (32 url-safe base64-encoded bytes); make one with `xinyu store keygen`"
        ) from None


def new_key() -> str:
    """A new random Fernet key for ``XINYU_STORE_KEY``."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")
