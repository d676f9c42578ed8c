"""API keys, per-key rate limits and request size limits for the HTTP API."""

from __future__ import annotations

import hmac
import json
import math
import threading
import time
from collections.abc import Iterable
from typing import Any

Scope = dict[str, Any]


class APIKeys:
    """The accepted API keys; an empty set means the API is open.

    Keys are compared with :func:`hmac.compare_digest` against every configured key, so the time a
    check takes does not tell how much of a guess was right.
    """

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._keys = [k.encode("utf-8") for k in keys if k]

    @property
    def enabled(self) -> bool:
        """True when at least one key is configured."""
        return bool(self._keys)

    def check(self, presented: str | None) -> bool:
        """True when ``presented`` is one of the keys (or when no key is configured)."""
        if not self._keys:
            return True
        if not presented:
            return False
        candidate = presented.encode("utf-8")
        ok = False
        for key in self._keys:
            ok |= hmac.compare_digest(candidate, key)
        return ok


def presented_key(headers: dict[str, str]) -> str | None:
    """The key from ``Authorization: Bearer KEY`` (or ``X-API-Key: KEY``)."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return headers.get("x-api-key") or None


class RateLimiter:
    """Token buckets per client: ``per_minute`` requests a minute on average, bursts up to ``burst``.

    Args:
        per_minute: Refill rate; 0 disables the limit.
        burst: Bucket size (default: ``per_minute``, at least 1).
    """

    def __init__(self, per_minute: float, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else max(1, math.ceil(per_minute)))
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """True when a limit is set."""
        return self.rate > 0

    def acquire(self, client: str, now: float | None = None) -> float:
        """Take one token for ``client``; return 0 when allowed, else the seconds until one is free."""
        if not self.enabled:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.rate


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    """The OpenAI error shape."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class BodyLimitMiddleware:
    """Answer 413 to requests whose body is larger than ``max_bytes`` (declared or streamed).

    Pure ASGI (not ``BaseHTTPMiddleware``) so streaming responses and disconnect detection pass
    through untouched.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """ASGI entry point."""
        if scope["type"] != "http" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        seen = 0
        too_big = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen, too_big
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_big = True
                    raise _TooLarge
            return message

        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send)
        except Exception:
            if too_big and not started:
                await self._reject(send)
            else:
                raise

    async def _reject(self, send: Any) -> None:
        body = json.dumps(
            error_body(f"request body larger than {self.max_bytes} bytes", "invalid_request_error", "request_too_large")
        ).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    """Raised inside the app when the streamed body passes the limit."""
