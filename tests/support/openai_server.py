"""A real HTTP server on loopback that speaks the OpenAI chat-completions protocol with scripted replies.

Used where a test needs a remote model whose output the test controls (an LLM judge that returns a
given verdict, a server that fails twice then answers). The client side under test is the real
``openai`` client or plain HTTP; nothing is patched.

    with ScriptedOpenAIServer(lambda req: "[2, 3, 3, 1]") as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


class ScriptedError(Exception):
    """Raise from a responder to make the server answer with an HTTP error status."""

    def __init__(self, status: int, message: str = "scripted error") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Responder = Callable[[dict[str, Any]], str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ScriptedOpenAIServer:
    """Serve ``POST /v1/chat/completions`` (streaming and not) and ``GET /v1/models``.

    Args:
        responder: Called with the parsed request body; returns the assistant text, or raises
            :class:`ScriptedError` to answer with an error status.
        model: Model id listed by ``/v1/models``.
    """

    def __init__(self, responder: Responder, model: str = "scripted") -> None:
        self.responder = responder
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.port = _free_port()
        self._lock = threading.Lock()
        app = FastAPI()

        @app.get("/v1/models")
        def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "test"}]}

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            with self._lock:
                self.requests.append(body)
            try:
                text = self.responder(body)
            except ScriptedError as err:
                return JSONResponse({"error": {"message": err.message, "type": "scripted"}}, status_code=err.status)
            created = int(time.time())
            usage = {"prompt_tokens": 1, "completion_tokens": max(1, len(text)), "total_tokens": 1 + max(1, len(text))}
            if body.get("stream"):
                def events():
                    base = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": created,
                            "model": body.get("model", self.model)}
                    first = {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                  "finish_reason": None}]}
                    yield f"data: {json.dumps(first, ensure_ascii=False)}\n\n"
                    for piece in [text[i : i + 4] for i in range(0, len(text), 4)]:
                        chunk = {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                        yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
                    last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                    yield f"data: {json.dumps(last)}\n\n"
                    yield "data: [DONE]\n\n"

                return StreamingResponse(events(), media_type="text/event-stream")
            return {
                "id": "chatcmpl-scripted",
                "object": "chat.completion",
                "created": created,
                "model": body.get("model", self.model),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": usage,
            }

        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        """Base URL for an OpenAI client (ends in ``/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedOpenAIServer:
        """Start serving and wait until the port accepts connections."""
        self._thread.start()
        deadline = time.time() + 20
        while time.time() < deadline:
            if self._server.started:
                return self
            time.sleep(0.02)
        raise RuntimeError("scripted OpenAI server did not start")

    def stop(self) -> None:
        """Shut the server down."""
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
