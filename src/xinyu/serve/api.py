"""The HTTP API: OpenAI-compatible chat completions plus sessions and feedback (FastAPI).

Build it with :func:`create_app` (no module globals; tests and ``xinyu serve`` each make their own).
Routes (see ``docs/serving.md``):

* ``POST /v1/chat/completions`` (streaming SSE and not), ``GET /v1/models``: the OpenAI protocol. The
  safety layer runs on the last user message; responses carry an extra ``xinyu`` object (risk
  level, banner, correction) that OpenAI clients ignore. When the request has no system message the
  server's persona is used.
* ``POST/GET /v1/sessions``, ``GET/DELETE /v1/sessions/{id}``, ``GET/POST /v1/sessions/{id}/messages``,
  ``POST /v1/sessions/{id}/regenerate``, ``POST /v1/feedback``: server-side sessions in the store.
* ``GET /health`` (alive), ``GET /ready`` (model loaded, store reachable); no auth on these two.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from xinyu.errors import XinyuError
from xinyu.serve import schemas
from xinyu.serve.backends import BackendError, GenerationParams
from xinyu.serve.conversation import Counselor, Reply, ReplyStream, Session, SessionEndedError
from xinyu.serve.security import APIKeys, BodyLimitMiddleware, RateLimiter, error_body, presented_key
from xinyu.serve.settings import ServeSettings, is_loopback
from xinyu.serve.store import Store, StoreError, StoreKeyError
from xinyu.serve.streaming import ClientGone, Slots, pump

log = logging.getLogger(__name__)

_ERROR_TYPES = {
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


def _error_response(err: APIError) -> JSONResponse:
    return JSONResponse(
        error_body(err.message, _ERROR_TYPES.get(err.status, "api_error"), err.code, err.param),
        status_code=err.status,
        headers=err.headers,
    )


def _from_xinyu(exc: XinyuError) -> APIError:
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


def _params(state: AppState, body: schemas.SamplingFields) -> GenerationParams:
    return state.counselor.params.replace(**body.overrides())


def _usage(reply: Reply) -> schemas.Usage:
    prompt, completion = reply.stats.prompt_tokens, reply.stats.completion_tokens
    return schemas.Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _risk(reply: Reply | None, stream: ReplyStream, correction: str | None = None) -> schemas.RiskInfo:
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


def _sse(data: Any) -> str:
    payload = data.model_dump(exclude_none=True) if hasattr(data, "model_dump") else data
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def create_app(
    counselor: Counselor, settings: ServeSettings | None = None, store: Store | None = None
) -> FastAPI:
    """Build the API application.

    Args:
        counselor: The conversation engine (backend, persona, safety).
        settings: Server settings (keys, limits, UI).
        store: Session store (default: the counselor's, else a new one at the default location).

    Returns:
        The FastAPI app; serve it with uvicorn.
    """
    from xinyu import __version__

    settings = settings or ServeSettings()
    store = store or counselor.store or Store()
    state = AppState(counselor, settings, store)
    if not state.keys.enabled and not is_loopback(settings.host):
        log.warning(
            "the API is open (no API key configured) and bound to %s: anyone who can reach it can use it. "
            "Set XINYU_API_KEYS or --api-key.",
            settings.host,
        )

    app = FastAPI(title="xinyu", version=__version__, description="心语 counseling assistant API")
    app.state.xinyu = state
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"], allow_headers=["*"]
        )
    _install_error_handlers(app)

    async def guard(request: Request) -> None:
        key = presented_key({k.lower(): v for k, v in request.headers.items()})
        if not state.keys.check(key):
            raise APIError(
                401,
                "missing or invalid API key (send 'Authorization: Bearer KEY')",
                "invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if key:
            client = "key:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
        else:
            client = "ip:" + (request.client.host if request.client else "unknown")
        wait = state.limiter.acquire(client)
        if wait > 0:
            raise APIError(
                429,
                f"rate limit exceeded: retry in {wait:.1f} s",
                "rate_limit_exceeded",
                headers={"Retry-After": str(max(1, int(wait + 0.999)))},
            )

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(guard)])
    _chat_routes(v1, state)
    _session_routes(v1, state)
    app.include_router(v1)

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"])
    def ready() -> JSONResponse:
        try:
            from sqlalchemy import text

            with state.store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse(
                {"status": "unavailable", "reason": f"store: {type(exc).__name__}"}, status_code=503
            )
        return JSONResponse(
            {
                "status": "ready",
                "models": state.model_names,
                "backend": state.counselor.backend.info(),
                "queue": {"running": state.slots.running, "waiting": state.slots.waiting},
            }
        )

    if settings.ui:
        from xinyu.serve.webui import mount_ui

        mount_ui(app, counselor, store, path=settings.ui_path)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def api_error(_request: Request, exc: APIError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(XinyuError)
    async def xinyu_error(_request: Request, exc: XinyuError) -> JSONResponse:
        return _error_response(_from_xinyu(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"msg": "invalid request", "loc": (), "type": ""}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        if first.get("type") == "json_invalid":
            message = f"invalid JSON body: {first.get('ctx', {}).get('error', first['msg'])}"
            return _error_response(APIError(400, message, "invalid_json"))
        param = ".".join(loc) or None
        message = f"{param}: {first['msg']}" if param else str(first["msg"])
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        return _error_response(APIError(400, message, "invalid_request", param))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return _error_response(APIError(exc.status_code, message, headers=getattr(exc, "headers", None)))

    @app.exception_handler(Exception)
    async def internal(_request: Request, exc: Exception) -> JSONResponse:
        # The type only: exception messages could quote request content.
        log.error("internal error while handling a request: %s", type(exc).__name__)
        return _error_response(APIError(500, "internal server error", "internal_error"))


async def _run(
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
        raise _from_xinyu(exc) from None
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


def _check_model(state: AppState, model: str) -> None:
    if model not in state.model_names:
        raise APIError(
            404,
            f"model '{model}' does not exist; this server serves {', '.join(state.model_names)}",
            "model_not_found",
            "model",
        )


def _chat_routes(router: APIRouter, state: AppState) -> None:
    @router.get("/models", response_model=schemas.ModelList)
    def models() -> schemas.ModelList:
        return schemas.ModelList(
            data=[schemas.ModelCard(id=name, created=state.created) for name in state.model_names]
        )

    @router.post(
        "/chat/completions",
        response_model=schemas.ChatCompletion,
        response_model_exclude_none=True,
        responses={400: {"model": schemas.ErrorResponse}, 404: {"model": schemas.ErrorResponse}},
    )
    async def chat_completions(body: schemas.ChatCompletionRequest, request: Request) -> Any:
        _check_model(state, body.model)
        messages = [m.plain() for m in body.messages]
        systems = [m["content"] for m in messages if m["role"] == "system"]
        history = [m for m in messages[:-1] if m["role"] != "system"]
        persona = "\n\n".join(systems) if systems else None
        params = _params(state, body)
        # Stateless: the client holds the history; nothing is stored for plain completions.
        session = Session(history=history)
        stream, pieces = await _run(
            state,
            request,
            lambda: state.counselor.stream(messages[-1]["content"], session, params, persona=persona),
        )
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if not body.stream:
            async with contextlib.aclosing(pieces) as it:
                try:
                    async for _ in it:
                        pass
                except ClientGone:
                    return Response(status_code=499)
                except XinyuError as exc:
                    raise _from_xinyu(exc) from None
            reply = stream.reply
            assert reply is not None
            return schemas.ChatCompletion(
                id=completion_id,
                created=created,
                model=body.model,
                choices=[
                    schemas.Choice(
                        message=schemas.ResponseMessage(content=reply.text), finish_reason=_finish(reply)
                    )
                ],
                usage=_usage(reply),
                xinyu=_risk(reply, stream),
            ).model_dump(exclude_none=True)

        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": body.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }

        async def events() -> AsyncIterator[str]:
            first = _risk(None, stream).model_dump(exclude_none=True)
            yield _sse(chunk({"role": "assistant", "content": ""}, xinyu=first))
            try:
                async with contextlib.aclosing(pieces) as it:
                    async for piece in it:
                        yield _sse(chunk({"content": piece}))
            except ClientGone:
                return
            except XinyuError as exc:
                err = _from_xinyu(exc)
                yield _sse(error_body(err.message, _ERROR_TYPES.get(err.status, "api_error"), err.code))
                yield "data: [DONE]\n\n"
                return
            reply = stream.reply
            assert reply is not None
            final = _risk(reply, stream, stream.correction).model_dump(exclude_none=True)
            yield _sse(chunk({}, _finish(reply), xinyu=final))
            if include_usage:
                usage = _usage(reply).model_dump()
                yield _sse(
                    {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": body.model,
                        "choices": [],
                        "usage": usage,
                    }
                )
            yield "data: [DONE]\n\n"

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def _finish(reply: Reply) -> str:
    return "length" if reply.stats.finish_reason == "length" else "stop"


def _session_info(record: Any) -> schemas.SessionInfo:
    return schemas.SessionInfo(
        id=record.id,
        created_at=record.created_at.isoformat() + "Z",
        updated_at=record.updated_at.isoformat() + "Z",
        ended=record.ended,
        meta=record.meta,
        n_messages=record.n_messages,
    )


def _session_routes(router: APIRouter, state: AppState) -> None:
    store = state.store

    @router.post("/sessions", response_model=schemas.SessionInfo, status_code=201)
    def create_session(body: schemas.SessionCreate | None = None) -> schemas.SessionInfo:
        session = Session(store=store, meta=body.meta if body else None)
        return _session_info(store.get_session(session.id))

    @router.get("/sessions", response_model=list[schemas.SessionInfo])
    def list_sessions(limit: int = 50) -> list[schemas.SessionInfo]:
        return [_session_info(r) for r in store.list_sessions(limit=max(1, min(limit, 500)))]

    @router.get("/sessions/{session_id}", response_model=schemas.SessionInfo)
    def get_session(session_id: str) -> schemas.SessionInfo:
        return _session_info(store.get_session(session_id))

    @router.delete("/sessions/{session_id}")
    def delete_session(session_id: str) -> dict[str, Any]:
        state._session_locks.pop(session_id, None)
        if not store.delete_session(session_id):
            raise APIError(404, f"unknown session '{session_id}'", "session_not_found")
        return {"id": session_id, "deleted": True}

    @router.get("/sessions/{session_id}/messages", response_model=list[schemas.StoredMessage])
    def get_messages(session_id: str) -> list[schemas.StoredMessage]:
        return [
            schemas.StoredMessage(
                id=m.id,
                role=m.role,
                content=m.content,
                created_at=m.created_at.isoformat() + "Z",
                risk=m.risk,
                screened=m.screened,
            )
            for m in store.messages(session_id)
        ]

    async def answer(
        request: Request,
        session_id: str,
        body: schemas.SamplingFields,
        stream_it: bool,
        start: Callable[[Session, GenerationParams], ReplyStream],
    ) -> Any:
        session = Session.from_store(store, session_id)
        session.lock = state.session_lock(session_id)  # one turn at a time per session, across requests
        params = _params(state, body)
        stream, pieces = await _run(state, request, lambda: start(session, params))

        def reply_body(reply: Reply) -> schemas.SessionReply:
            return schemas.SessionReply(
                id=reply.message_id,
                session_id=session_id,
                user_message_id=reply.user_message_id,
                content=reply.text,
                ended=reply.ended,
                usage=_usage(reply),
                xinyu=_risk(reply, stream),
            )

        if not stream_it:
            async with contextlib.aclosing(pieces) as it:
                try:
                    async for _ in it:
                        pass
                except ClientGone:
                    return Response(status_code=499)
                except XinyuError as exc:
                    raise _from_xinyu(exc) from None
            assert stream.reply is not None
            return reply_body(stream.reply).model_dump(exclude_none=True)

        async def events() -> AsyncIterator[str]:
            yield _sse(
                {
                    "type": "start",
                    "session_id": session_id,
                    "xinyu": _risk(None, stream).model_dump(exclude_none=True),
                }
            )
            try:
                async with contextlib.aclosing(pieces) as it:
                    async for piece in it:
                        yield _sse({"type": "delta", "content": piece})
            except ClientGone:
                return
            except XinyuError as exc:
                err = _from_xinyu(exc)
                yield _sse(
                    {
                        "type": "error",
                        **error_body(err.message, _ERROR_TYPES.get(err.status, "api_error"), err.code),
                    }
                )
                return
            assert stream.reply is not None
            if stream.correction is not None:
                yield _sse({"type": "correction", "content": stream.correction})
            yield _sse({"type": "done", "reply": reply_body(stream.reply).model_dump(exclude_none=True)})
            yield "data: [DONE]\n\n"

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.post(
        "/sessions/{session_id}/messages",
        response_model=schemas.SessionReply,
        response_model_exclude_none=True,
    )
    async def post_message(session_id: str, body: schemas.SessionMessageRequest, request: Request) -> Any:
        return await answer(
            request,
            session_id,
            body,
            body.stream,
            lambda session, params: state.counselor.stream(body.content, session, params),
        )

    @router.post(
        "/sessions/{session_id}/regenerate",
        response_model=schemas.SessionReply,
        response_model_exclude_none=True,
    )
    async def regenerate(
        request: Request, session_id: str, body: schemas.RegenerateRequest | None = None
    ) -> Any:
        body = body or schemas.RegenerateRequest()
        return await answer(
            request,
            session_id,
            body,
            body.stream,
            lambda session, params: state.counselor.regenerate(session, params),
        )

    @router.post("/feedback", response_model=schemas.FeedbackCreated, status_code=201)
    def feedback(body: schemas.FeedbackRequest) -> schemas.FeedbackCreated:
        feedback_id = store.add_feedback(body.message_id, body.score(), body.comment)
        return schemas.FeedbackCreated(id=feedback_id, message_id=body.message_id, rating=body.score())
