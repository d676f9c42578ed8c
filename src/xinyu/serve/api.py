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
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from xinyu.errors import XinyuError
from xinyu.serve import schemas
from xinyu.serve.api_common import (
    ERROR_TYPES,
    APIError,
    AppState,
    error_response,
    finish_reason,
    from_xinyu,
    request_params,
    risk_info,
    sse,
    start_generation,
    usage_of,
)
from xinyu.serve.api_sessions import session_routes
from xinyu.serve.conversation import Counselor, Session
from xinyu.serve.security import BodyLimitMiddleware, error_body, presented_key
from xinyu.serve.settings import ServeSettings, is_loopback
from xinyu.serve.store import Store
from xinyu.serve.streaming import ClientGone

log = logging.getLogger(__name__)


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
    session_routes(v1, state)
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

        if state.keys.enabled:
            log.warning("the web page at %s is not behind the API keys; use --no-ui to leave it out", settings.ui_path)

        mount_ui(app, counselor, store, path=settings.ui_path)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def api_error(_request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(XinyuError)
    async def xinyu_error(_request: Request, exc: XinyuError) -> JSONResponse:
        return error_response(from_xinyu(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"msg": "invalid request", "loc": (), "type": ""}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        if first.get("type") == "json_invalid":
            message = f"invalid JSON body: {first.get('ctx', {}).get('error', first['msg'])}"
            return error_response(APIError(400, message, "invalid_json"))
        param = ".".join(loc) or None
        message = f"{param}: {first['msg']}" if param else str(first["msg"])
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        return error_response(APIError(400, message, "invalid_request", param))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return error_response(APIError(exc.status_code, message, headers=getattr(exc, "headers", None)))

    @app.exception_handler(Exception)
    async def internal(_request: Request, exc: Exception) -> JSONResponse:
        # The type only: exception messages could quote request content.
        log.error("internal error while handling a request: %s", type(exc).__name__)
        return error_response(APIError(500, "internal server error", "internal_error"))


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
        params = request_params(state, body)
        # Stateless: the client holds the history; nothing is stored for plain completions.
        session = Session(history=history)
        stream, pieces = await start_generation(
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
                    raise from_xinyu(exc) from None
            reply = stream.reply
            assert reply is not None
            return schemas.ChatCompletion(
                id=completion_id,
                created=created,
                model=body.model,
                choices=[
                    schemas.Choice(
                        message=schemas.ResponseMessage(content=reply.text),
                        finish_reason=finish_reason(reply),
                    )
                ],
                usage=usage_of(reply),
                xinyu=risk_info(reply, stream),
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
            first = risk_info(None, stream).model_dump(exclude_none=True)
            yield sse(chunk({"role": "assistant", "content": ""}, xinyu=first))
            try:
                async with contextlib.aclosing(pieces) as it:
                    async for piece in it:
                        yield sse(chunk({"content": piece}))
            except ClientGone:
                return
            except XinyuError as exc:
                err = from_xinyu(exc)
                yield sse(error_body(err.message, ERROR_TYPES.get(err.status, "api_error"), err.code))
                yield "data: [DONE]\n\n"
                return
            reply = stream.reply
            assert reply is not None
            final = risk_info(reply, stream, stream.correction).model_dump(exclude_none=True)
            yield sse(chunk({}, finish_reason(reply), xinyu=final))
            if include_usage:
                usage = usage_of(reply).model_dump()
                yield sse(
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
