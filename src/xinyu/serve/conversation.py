"""The conversation engine: persona, history budget, safety before and after the model, end command.

Front ends stay thin: the terminal, the HTTP API and the web page all call :class:`Counselor`.

    counselor = Counselor("gemma-3-270m")
    session = Session()
    reply = counselor.chat("最近总是睡不着", session)
    print(reply.text, reply.risk.level, reply.banner)

One user turn goes through these steps:

1. the end command (``结束对话``...) closes the session with :data:`~xinyu.serve.persona.CLOSING_MESSAGE`;
2. ``assess(text, history)`` rates the risk of the turn; ``SafetyPolicy.decide(risk)`` says what to do:
   ``generate``, ``generate_with_preamble`` (safety instructions added to the system prompt) or
   ``template`` (a fixed reply replaces the model);
3. the model streams a reply from persona + budgeted history + the user turn;
4. the guards of :mod:`xinyu.serve.leak` stop a reply that starts reciting the system prompt or repeats a
   clause, and cut the recitation or the loop off; ``screen(reply, history, risk)`` then checks the whole reply; the policy's
   ``append`` text follows it.

**Streaming and screening.** The model's text is streamed as it comes and screened once complete.
When the screen changed it, :attr:`ReplyStream.correction` holds the full corrected reply and each front
end replaces what it showed (API: a final SSE chunk with the ``xinyu.correction`` field; web page: the
bubble is replaced; terminal: the reply is printed again). This is chosen over holding text back
sentence by sentence because the screen's rules (concealment, claims of being a clinician, method
details) look at the reply as a whole, and because repairs are rare while waiting costs every turn.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xinyu.errors import XinyuError
from xinyu.serve.backends import Backend, GenerationParams, StreamStats, open_stream
from xinyu.serve.history import HistoryBudget
from xinyu.serve.leak import LeakGuard, cut_loop, looping
from xinyu.serve.persona import CLOSING_MESSAGE, DEFAULT_PERSONA, END_COMMANDS
from xinyu.serve.session import Session, SessionEndedError, new_id

if TYPE_CHECKING:
    from xinyu.safety.types import PolicyDecision, RiskAssessment
    from xinyu.serve.store import Store

__all__ = ["Counselor", "Reply", "ReplyStream", "Session", "SessionEndedError", "new_id"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Reply:
    """The assistant's answer to one user turn.

    Attributes:
        text: What the user sees (screened, with the policy's appended referral).
        risk: The risk assessment of the user turn (None for the end command).
        screened: True when the output screen changed the model's reply.
        banner: Prominent text (hotlines) a UI shows when the turn was flagged; empty otherwise.
        ended: True when this turn ended the session.
        action: The policy's action (``generate``, ``generate_with_preamble``, ``template``, ``end``).
        resources: Hotline entries to show, ``{"name", "number", "note"}``.
        violations: Screen rules that fired.
        message_id: Id of the stored assistant message (for feedback).
        user_message_id: Id of the stored user message.
        stats: Token accounting of the model call (zeros when the model was not called).
    """

    text: str
    risk: RiskAssessment | None = None
    screened: bool = False
    banner: str = ""
    ended: bool = False
    action: str = "generate"
    resources: list[dict[str, str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    message_id: str = ""
    user_message_id: str = ""
    stats: StreamStats = field(default_factory=StreamStats)

    def risk_info(self) -> dict[str, Any]:
        """Risk and safety fields for API responses (evidence spans left out: they quote the user)."""
        risk = self.risk.to_dict() if self.risk is not None else {"level": "none", "categories": []}
        return {
            "level": risk["level"],
            "imminent": risk.get("imminent", False),
            "categories": risk["categories"],
            "action": self.action,
            "banner": self.banner,
            "resources": self.resources,
            "screened": self.screened,
            "violations": self.violations,
        }


class ReplyStream:
    """An answer in progress: iterate for text pieces, then read :attr:`reply`.

    The risk assessment and the policy decision happen when the stream is created, so
    :attr:`risk` and :attr:`banner` are known before the first piece. Closing the stream stops the
    model; the partial reply is screened and kept in the history.

    Attributes:
        risk: Assessment of the user turn.
        decision: The policy decision.
        banner: The crisis banner to show now ("" when none).
        streamed: Text yielded so far.
        correction: The full final reply when it differs from what was streamed (after the end).
        reply: The final :class:`Reply` (after the end, or after :meth:`close`).
    """

    def __init__(
        self,
        counselor: Counselor,
        text: str,
        session: Session,
        params: GenerationParams,
        regenerates: str | None = None,
        persona: str | None = None,
    ) -> None:
        self.counselor = counselor
        self.regenerates = regenerates
        self.persona = persona
        self.session = session
        self.params = params
        self.text = text
        self.streamed = ""
        self.correction: str | None = None
        self.reply: Reply | None = None
        self.risk: RiskAssessment | None = None
        self.decision: PolicyDecision | None = None
        self.banner = ""
        self._guard: LeakGuard | None = None
        self.ending = counselor.is_end_command(text)
        if not self.ending:
            self.risk, self.decision = counselor.assess(text, session.history)
            self.banner = self.decision.banner
        self._gen = self._run()

    def __iter__(self) -> Iterator[str]:
        return self._gen

    def __next__(self) -> str:
        return next(self._gen)

    def close(self) -> None:
        """Stop generating; the partial reply is screened and recorded."""
        self._gen.close()

    def text_until_end(self) -> Reply:
        """Consume the rest of the stream and return the final reply."""
        for _ in self._gen:
            pass
        assert self.reply is not None
        return self.reply

    def _run(self) -> Iterator[str]:
        with self.session.lock:
            if self.session.ended:
                raise SessionEndedError(f"session {self.session.id} has ended; start a new session")
            if self.ending:
                yield from self._end_session()
                return
            yield from self._answer()

    def _end_session(self) -> Iterator[str]:
        session = self.session
        user_id = session.add("user", self.text)
        closing = self.counselor.closing_message
        message_id = session.add("assistant", closing, meta={"action": "end", "reply_to": user_id})
        session.end()
        self.streamed = closing
        self.reply = Reply(text=closing, ended=True, action="end", message_id=message_id, user_message_id=user_id)
        log.info("session %s ended by the end command", session.id)
        yield closing

    def _answer(self) -> Iterator[str]:
        counselor, session, decision = self.counselor, self.session, self.decision
        assert decision is not None
        history = list(session.history)
        stats = StreamStats()
        model_text = ""
        try:
            if decision.action == "template":
                model_text = decision.reply
                self.streamed = model_text
                yield model_text
            else:
                messages = counselor.build_messages(self.text, history, decision, persona=self.persona)
                system = messages[0]["content"] if messages[0]["role"] == "system" else None
                self._guard = LeakGuard(system)
                pieces, stats = open_stream(counselor.backend, messages, self.params)
                try:
                    for piece in pieces:
                        checked = len(model_text) - self._guard.min_chars
                        model_text += piece
                        self.streamed += piece
                        yield piece
                        if self._guard.find(model_text, checked) is not None or looping(model_text):
                            break  # reciting its instructions or looping: stop the model (cut in _finalize)
                finally:
                    pieces.close()
        except (GeneratorExit, KeyboardInterrupt):
            # Interrupted by the consumer (closed, or Ctrl-C in the terminal): keep the screened partial
            # reply in the history. A backend error, by contrast, records nothing, so the user can
            # simply send the turn again.
            if stats.finish_reason != "cancelled" and model_text:
                stats.finish_reason = "cancelled"
            self._finalize(model_text, history, stats)
            raise
        final = self._finalize(model_text, history, stats)
        if final.startswith(self.streamed):
            rest = final[len(self.streamed) :]
            if rest:
                self.streamed = final
                yield rest
        else:
            self.correction = final

    def _finalize(self, model_text: str, history: list[dict[str, str]], stats: StreamStats) -> str:
        """Screen the reply, add the policy's appendix, record both turns; return the final text."""
        counselor, decision = self.counselor, self.decision
        assert decision is not None
        violations: list[str] = []
        screened = False
        text = model_text
        if self._guard is not None:
            text, leaked = self._guard.cut(text)
            text, looped = cut_loop(text)
            if leaked:
                violations.append("system_prompt_leak")
            if looped:
                violations.append("repetition_loop")
            screened = leaked or looped
        if decision.action != "template" and counselor.safety_enabled:
            # The function, not the package attribute: importing the submodule `xinyu.safety.screen`
            # rebinds `xinyu.safety.screen` to the module.
            from xinyu.safety.screen import screen

            result = screen(text, history, self.risk)
            text = result.reply
            violations += list(result.violations)
            screened = screened or not result.ok
        if decision.append and decision.append not in text:
            text = f"{text.rstrip()}\n\n{decision.append}" if text.strip() else decision.append
        user_id = self.session.add("user", self.text, risk=self.risk)
        meta: dict[str, Any] = {
            "action": decision.action,
            "violations": violations,
            "finish_reason": stats.finish_reason,
            "reply_to": user_id,
        }
        if self.regenerates:
            meta["regenerates"] = self.regenerates
        message_id = self.session.add("assistant", text, screened=screened, meta=meta)
        level = self.risk.level.value if self.risk is not None else "none"
        log.info(
            "session %s turn: risk=%s action=%s screened=%s prompt_tokens=%d completion_tokens=%d finish=%s",
            self.session.id, level, decision.action, screened, stats.prompt_tokens, stats.completion_tokens,
            stats.finish_reason,
        )
        self.reply = Reply(
            text=text,
            risk=self.risk,
            screened=screened,
            banner=decision.banner,
            action=decision.action,
            resources=list(decision.resources),
            violations=violations,
            message_id=message_id,
            user_message_id=user_id,
            stats=stats,
        )
        return text


class Counselor:
    """A counseling assistant: a backend plus persona, history budget and the safety layer.

    Args:
        model_or_backend: A :class:`~xinyu.serve.backends.Backend`, or a model argument for
            :func:`~xinyu.serve.backends.load_backend`.
        persona: The system prompt (default :data:`~xinyu.serve.persona.DEFAULT_PERSONA`).
        safety: A ``SafetyPolicy`` instance, ``True`` for the default policy, or ``False`` to switch
            the safety layer off (for research comparisons only; a warning is logged).
        params: Default generation parameters (per call overridable).
        max_history_turns: Earlier exchanges kept at most.
        max_history_tokens: Token budget of the prompt (see :mod:`xinyu.serve.history`).
        end_commands: Messages that end the session.
        closing_message: The reply to an end command.
        store: Default store for sessions created by :meth:`new_session`.
    """

    def __init__(
        self,
        model_or_backend: Backend | str,
        persona: str = DEFAULT_PERSONA,
        safety: Any = True,
        params: GenerationParams | None = None,
        max_history_turns: int = 12,
        max_history_tokens: int = 2048,
        end_commands: Sequence[str] = END_COMMANDS,
        closing_message: str = CLOSING_MESSAGE,
        store: Store | None = None,
    ) -> None:
        if isinstance(model_or_backend, str):
            from xinyu.serve.backends import load_backend

            model_or_backend = load_backend(model_or_backend)
        self.backend = model_or_backend
        self.persona = persona
        self.params = params or GenerationParams()
        self.budget = HistoryBudget(max_turns=max_history_turns, max_tokens=max_history_tokens)
        self.end_commands = tuple(c.strip() for c in end_commands if c.strip())
        self.closing_message = closing_message
        self.store = store
        self.safety_enabled = safety is not False
        if safety is True:
            from xinyu.safety.policy import SafetyPolicy

            safety = SafetyPolicy()
        self.policy = safety if self.safety_enabled else None
        if not self.safety_enabled:
            log.warning("the safety layer is OFF: crisis turns get no policy response and replies are not screened")

    # -- building blocks -------------------------------------------------------------------------
    def new_session(self, meta: dict[str, Any] | None = None) -> Session:
        """A fresh session (in the counselor's store when it has one)."""
        return Session(store=self.store, meta=meta)

    def is_end_command(self, text: str) -> bool:
        """True when ``text`` is one of the end commands."""
        return text.strip() in self.end_commands

    def assess(self, text: str, history: Sequence[dict[str, str]]) -> tuple[RiskAssessment, PolicyDecision]:
        """Risk of a user turn in context, and the policy's decision for it."""
        from xinyu.safety.types import PolicyDecision, RiskAssessment

        if not self.safety_enabled:
            return RiskAssessment(), PolicyDecision()
        from xinyu.safety.crisis import assess

        risk = assess(text, list(history))
        return risk, self.policy.decide(risk)

    def count_tokens(self, text: str) -> int | None:
        """Tokens in ``text`` with the backend's tokenizer, or None (then the estimate is used)."""
        counter = getattr(self.backend, "count_tokens", None)
        return counter(text) if counter is not None else None

    def build_messages(
        self,
        text: str,
        history: Sequence[dict[str, str]],
        decision: PolicyDecision | None = None,
        persona: str | None = None,
    ) -> list[dict[str, str]]:
        """System prompt (persona + safety preamble) + budgeted history + the user turn."""
        system = self.persona if persona is None else persona
        if decision is not None and decision.action == "generate_with_preamble" and decision.system_preamble:
            system = f"{system}\n\n{decision.system_preamble}" if system else decision.system_preamble
        counter = self.count_tokens if self.count_tokens("") is not None else None
        kept = self.budget.fit(system, history, text, counter)
        messages = [{"role": "system", "content": system}] if system else []
        return [*messages, *kept, {"role": "user", "content": text}]

    # -- the public API --------------------------------------------------------------------------
    def stream(
        self,
        text: str,
        session: Session,
        params: GenerationParams | None = None,
        persona: str | None = None,
    ) -> ReplyStream:
        """Answer ``text`` in ``session``, streaming; see :class:`ReplyStream`.

        Args:
            text: The user turn.
            session: The conversation it belongs to.
            params: Generation parameters (default: the counselor's).
            persona: A system prompt for this turn instead of the counselor's persona.
        """
        text = text.strip()
        if not text:
            raise XinyuError("empty message: type something to say")
        if session.ended:
            raise SessionEndedError(f"session {session.id} has ended; start a new session")
        return ReplyStream(self, text, session, params or self.params, persona=persona)

    def regenerate(self, session: Session, params: GenerationParams | None = None) -> ReplyStream:
        """Answer the last user turn again; the previous reply stays in the store as superseded.

        A thumbs-down reply and its regeneration become a preference pair in
        ``xinyu store export-feedback``.
        """
        if len(session.history) < 2 or session.history[-1]["role"] != "assistant":
            raise XinyuError("nothing to regenerate: the session has no assistant reply yet")
        if session.ended:
            raise SessionEndedError(f"session {session.id} has ended; start a new session")
        text = session.history[-2]["content"]
        old_reply = session.drop_last(2)[-1]
        return ReplyStream(self, text, session, params or self.params, regenerates=old_reply)

    def chat(self, text: str, session: Session, params: GenerationParams | None = None) -> Reply:
        """Answer ``text`` in ``session`` and return the whole :class:`Reply`."""
        return self.stream(text, session, params).text_until_end()

    def info(self) -> dict[str, Any]:
        """Backend description plus the engine's settings."""
        return {
            "backend": self.backend.info(),
            "safety": self.safety_enabled,
            "max_history_turns": self.budget.max_turns,
            "max_history_tokens": self.budget.max_tokens,
            "end_commands": list(self.end_commands),
        }
