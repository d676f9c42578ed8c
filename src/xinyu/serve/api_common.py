"""Shared pieces of the HTTP API: error shape, app state, response helpers, the generation driver."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from xinyu.errors import XinyuError
from xinyu.serve import schemas
from xinyu.serve.backends import BackendError, GenerationParams
from xinyu.serve.conversation import Counselor, Reply, ReplyStream, SessionEndedError
from xinyu.serve.security import APIKeys, RateLimiter, error_body
from xinyu.serve.settings import ServeSettings
from xinyu.serve.store import Store, StoreError, StoreKeyError
from xinyu.serve.streaming import Slots, pump

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "api_error",
    503: "api_error",
}


class APIError(Exception):
    """An error answered in the OpenAI shape."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.headers = status, message, code, param, headers


def error_response(err: APIError) -> JSONResponse:
    """The JSON response for an :class:`APIError`."""
    return JSONResponse(
        error_body(err.message, ERROR_TYPES.get(err.status, "api_error"), err.code, err.param),
        status_code=err.status,
        headers=err.headers,
    )


def from_xinyu(exc: XinyuError) -> APIError:
    """Map a xinyu error to an HTTP status and code."""
    if isinstance(exc, SessionEndedError):
        return APIError(409, str(exc), "session_ended")
    if isinstance(exc, StoreKeyError):
        return APIError(503, str(exc), "store_key")
    if isinstance(exc, StoreError):
        return APIError(404 if "unknown" in str(exc) else 400, str(exc))
    if isinstance(exc, BackendError):
        return APIError(502, str(exc), "backend_error")
    return APIError(400, str(exc))


class AppState:
    """Everything the routes share: the counselor, the store, limits and the generation queue."""

    def __init__(self, counselor: Counselor, settings: ServeSettings, store: Store) -> None:
        self.counselor = counselor
        self.settings = settings
        self.store = store
        self.keys = APIKeys(settings.all_keys())
        self.limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
        self.slots = Slots(getattr(counselor.backend, "max_concurrency", 1))
        self.model_names = settings.model_names or [counselor.backend.name]
        self.created = int(time.time())
        self._session_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def session_lock(self, session_id: str) -> threading.Lock:
        """The lock that serialises turns of one session in this process."""
        with self._locks_guard:
            return self._session_locks.setdefault(session_id, threading.Lock())

    def forget_session(self, session_id: str) -> None:
        """Drop the lock of a deleted session."""
        with self._locks_guard:
            self._session_locks.pop(session_id, None)


def request_params(state: AppState, body: schemas.SamplingFields) -> GenerationParams:
    """The server's generation parameters with the request's fields applied."""
    return state.counselor.params.replace(**body.overrides())


def usage_of(reply: Reply) -> schemas.Usage:
    """Token usage of a reply."""
    prompt, completion = reply.stats.prompt_tokens, reply.stats.completion_tokens
    return schemas.Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def risk_info(reply: Reply | None, stream: ReplyStream, correction: str | None = None) -> schemas.RiskInfo:
    """The ``xinyu`` object: from the final reply, or (before generation) from the stream's assessment."""
    if reply is not None:
        return schemas.RiskInfo(**reply.risk_info(), correction=correction)
    risk = stream.risk.to_dict() if stream.risk is not None else {"level": "none", "categories": []}
    decision = stream.decision
    return schemas.RiskInfo(
        level=risk["level"],
        imminent=risk.get("imminent", False),
        categories=risk["categories"],
        action=decision.action if decision is not None else "end",
        banner=stream.banner,
        resources=list(decision.resources) if decision is not None else [],
    )


def sse(data: Any) -> str:
    """One server-sent event with a JSON payload."""
    payload = data.model_dump(exclude_none=True) if hasattr(data, "model_dump") else data
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


async def start_generation(
    state: AppState, request: Request, start: Callable[[], ReplyStream]
) -> tuple[ReplyStream, AsyncIterator[str]]:
    """Create the reply stream (safety assessment) and return it with its async piece iterator.

    The iterator holds a generation slot (FIFO) for its lifetime, and stops generation when the client
    disconnects.
    """
    import anyio.to_thread

    try:
        stream = await anyio.to_thread.run_sync(start)
    except XinyuError as exc:
        raise from_xinyu(exc) from None
    poll = state.settings.disconnect_poll_s

    async def pieces() -> AsyncIterator[str]:
        await state.slots.acquire(request.is_disconnected, poll)
        try:
            async with contextlib.aclosing(pump(lambda: stream, request.is_disconnected, poll)) as it:
                async for piece in it:
                    yield piece
        finally:
            state.slots.release()

    return stream, pieces()


def finish_reason(reply: Reply) -> str:
    """OpenAI finish reason (a cancelled stream never reaches a client, so stop or length)."""
    return "length" if reply.stats.finish_reason == "length" else "stop"
