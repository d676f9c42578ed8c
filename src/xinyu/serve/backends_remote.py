"""Any OpenAI-compatible server as a backend: vLLM, SGLang, llama.cpp server, another xinyu.

This is how xinyu scales out: the GPU engine serves the model, xinyu puts its persona, history budget
and safety layer in front of it (``xinyu serve --model http://vllm-host:8000/v1 --remote-model NAME``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from xinyu.errors import XinyuError
from xinyu.serve.backends import BackendError, BaseBackend, GenerationParams, StreamStats

log = logging.getLogger(__name__)


class OpenAIBackend(BaseBackend):
    """Stream chat completions from an OpenAI-compatible server with the official ``openai`` client.

    Args:
        base_url: Server URL including ``/v1`` (e.g. ``http://vllm-host:8000/v1``).
        model: Model name on the server; ``None`` uses the first one ``/v1/models`` lists.
        api_key_env: Environment variable holding the API key (servers without auth accept any).
        timeout: Seconds per request (connect + read of each chunk).
        max_retries: Retries of failed requests (connection errors, 429, 5xx), with backoff.
        max_concurrency: Streams xinyu lets run at once against this server (engines like vLLM batch
            them; raise it to the engine's capacity).
        name: Model name shown to xinyu's own API clients (default: ``model``).

    ``top_k`` and ``repetition_penalty`` are not in the OpenAI protocol; they are sent as extra
    body fields (vLLM and SGLang read them) only when they differ from their neutral values.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        max_retries: int = 2,
        max_concurrency: int = 8,
        name: str | None = None,
    ) -> None:
        super().__init__()
        import openai

        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        # Local servers (vLLM without --api-key, llama.cpp server) take any key, but the client
        # refuses to start without one.
        api_key = os.environ.get(api_key_env) or "EMPTY"
        self.client = openai.OpenAI(base_url=self.base_url, api_key=api_key, timeout=timeout, max_retries=max_retries)
        self.max_concurrency = max_concurrency
        self._model = model
        self._name = name
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        """The server-side model name (asked from ``/v1/models`` once when not given)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._first_model()
        return self._model

    @property
    def name(self) -> str:  # type: ignore[override]
        """Name shown to clients."""
        return self._name or self.model

    def _first_model(self) -> str:
        import openai

        try:
            models = [m.id for m in self.client.models.list()]
        except openai.OpenAIError as exc:
            raise BackendError(f"cannot list models at {self.base_url}: {exc}") from None
        if not models:
            raise XinyuError(f"{self.base_url}/models lists no model: pass --remote-model NAME")
        return models[0]

    def _request(self, messages: Sequence[dict[str, str]], params: GenerationParams) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if params.top_k > 0:
            extra["top_k"] = params.top_k
        if params.repetition_penalty != 1.0:
            extra["repetition_penalty"] = params.repetition_penalty
        request: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.stop:
            request["stop"] = list(params.stop)
        if params.seed is not None:
            request["seed"] = params.seed
        if extra:
            request["extra_body"] = extra
        return request

    def stream(
        self,
        messages: Sequence[dict[str, str]],
        params: GenerationParams,
        stats: StreamStats | None = None,
    ) -> Iterator[str]:
        """Yield reply pieces; closing the generator closes the HTTP response (the server aborts)."""
        stats = stats if stats is not None else StreamStats()
        return self._run(self._request(messages, params), stats)

    def _run(self, request: dict[str, Any], stats: StreamStats) -> Iterator[str]:
        import openai

        self._begin()
        finished = False
        chunks = 0
        response = None
        try:
            try:
                response = self.client.chat.completions.create(
                    stream=True, stream_options={"include_usage": True}, **request
                )
            except openai.BadRequestError:
                # Some servers reject stream_options; retry once without it.
                response = self.client.chat.completions.create(stream=True, **request)
            for chunk in response:
                if chunk.usage is not None:
                    stats.prompt_tokens = chunk.usage.prompt_tokens or 0
                    stats.completion_tokens = chunk.usage.completion_tokens or 0
                for choice in chunk.choices:
                    if choice.finish_reason:
                        stats.finish_reason = choice.finish_reason
                    if choice.delta is not None and choice.delta.content:
                        chunks += 1
                        yield choice.delta.content
            finished = True
        except openai.APIStatusError as exc:
            raise BackendError(f"{self.base_url} answered {exc.status_code}: {exc.message}") from None
        except openai.APIConnectionError as exc:
            raise BackendError(f"cannot reach {self.base_url}: {exc}") from None
        finally:
            if response is not None:
                response.close()
            if not stats.completion_tokens:
                stats.completion_tokens = chunks  # servers that report no usage: an estimate
            if not finished:
                stats.finish_reason = "cancelled"
            self._end(stats)

    def info(self) -> dict[str, Any]:
        """Kind, server URL and model name."""
        return {"kind": "remote", "name": self.name, "base_url": self.base_url, "model": self._model}
