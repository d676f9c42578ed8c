"""Session and feedback routes of the HTTP API (xinyu's extension of the OpenAI protocol)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from xinyu.errors import XinyuError
from xinyu.serve import schemas
from xinyu.serve.api_common import (
    ERROR_TYPES,
    APIError,
    AppState,
    from_xinyu,
    request_params,
    risk_info,
    sse,
    start_generation,
    usage_of,
)
from xinyu.serve.backends import GenerationParams
from xinyu.serve.conversation import Reply, ReplyStream, Session
from xinyu.serve.security import error_body
from xinyu.serve.streaming import ClientGone


def _session_info(record: Any) -> schemas.SessionInfo:
    return schemas.SessionInfo(
        id=record.id,
        created_at=record.created_at.isoformat() + "Z",
        updated_at=record.updated_at.isoformat() + "Z",
        ended=record.ended,
        meta=record.meta,
        n_messages=record.n_messages,
    )


def session_routes(router: APIRouter, state: AppState) -> None:
    """Add ``/sessions...`` and ``/feedback`` to ``router``."""
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
        state.forget_session(session_id)
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
        params = request_params(state, body)
        stream, pieces = await start_generation(state, request, lambda: start(session, params))

        def reply_body(reply: Reply) -> schemas.SessionReply:
            return schemas.SessionReply(
                id=reply.message_id,
                session_id=session_id,
                user_message_id=reply.user_message_id,
                content=reply.text,
                ended=reply.ended,
                usage=usage_of(reply),
                xinyu=risk_info(reply, stream),
            )

        if not stream_it:
            async with contextlib.aclosing(pieces) as it:
                try:
                    async for _ in it:
                        pass
                except ClientGone:
                    return Response(status_code=499)
                except XinyuError as exc:
                    raise from_xinyu(exc) from None
            assert stream.reply is not None
            return reply_body(stream.reply).model_dump(exclude_none=True)

        async def events() -> AsyncIterator[str]:
            yield sse(
                {
                    "type": "start",
                    "session_id": session_id,
                    "xinyu": risk_info(None, stream).model_dump(exclude_none=True),
                }
            )
            try:
                async with contextlib.aclosing(pieces) as it:
                    async for piece in it:
                        yield sse({"type": "delta", "content": piece})
            except ClientGone:
                return
            except XinyuError as exc:
                err = from_xinyu(exc)
                yield sse(
                    {
                        "type": "error",
                        **error_body(err.message, ERROR_TYPES.get(err.status, "api_error"), err.code),
                    }
                )
                return
            assert stream.reply is not None
            if stream.correction is not None:
                yield sse({"type": "correction", "content": stream.correction})
            yield sse({"type": "done", "reply": reply_body(stream.reply).model_dump(exclude_none=True)})
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
