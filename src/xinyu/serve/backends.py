"""The Backend contract: every front end and the evaluator generate through it.

A backend turns OpenAI-style messages into streamed text. Concrete backends:

* :class:`~xinyu.serve.backends_llama.LlamaCppBackend`: GGUF through llama-cpp-python (CPU default),
* :class:`~xinyu.serve.backends_hf.TransformersBackend`: a Hugging Face model (+ LoRA adapter),
* :class:`~xinyu.serve.backends_remote.OpenAIBackend`: any OpenAI-compatible server (vLLM, SGLang,
  llama.cpp server, another xinyu).

Use :func:`load_backend` to build one from a model argument.

Every stream, once finished (or closed early), leaves a :class:`StreamStats` in ``backend.last_stats``.
Backends built on :class:`BaseBackend` also accept ``stream(..., stats=StreamStats())`` so concurrent
callers each get their own accounting; :func:`open_stream` does the right thing for any backend.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from xinyu.errors import XinyuError


class BackendError(XinyuError):
    """The model server failed or could not be reached while generating (HTTP API: 502)."""


@dataclass(slots=True)
class GenerationParams:
    """Sampling parameters, shared by every backend.

    ``temperature == 0`` means greedy decoding. ``seed`` makes sampling reproducible where the
    backend supports it.
    """

    max_new_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 0
    repetition_penalty: float = 1.0
    stop: list[str] = field(default_factory=list)
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (recorded with evaluation results)."""
        return asdict(self)

    def replace(self, **changes: Any) -> GenerationParams:
        """A copy with some fields changed (``None`` values are ignored)."""
        data = self.to_dict()
        data.update({k: v for k, v in changes.items() if v is not None})
        data["stop"] = list(data["stop"])
        return GenerationParams(**data)


# HearMeGLM's deployment settings, as a named preset.
PRESETS: dict[str, GenerationParams] = {
    "default": GenerationParams(),
    "hearmeglm": GenerationParams(temperature=0.95, top_p=0.7, max_new_tokens=512),
    "greedy": GenerationParams(temperature=0.0, top_p=1.0),
}


def preset(name: str) -> GenerationParams:
    """A fresh copy of a named preset; a clear error lists the known names."""
    if name not in PRESETS:
        raise XinyuError(f"unknown generation preset '{name}': expected one of {', '.join(PRESETS)}")
    return PRESETS[name].replace()


@dataclass(slots=True)
class StreamStats:
    """Token accounting for one call of :meth:`Backend.stream` (filled by the backend).

    Attributes:
        prompt_tokens: Tokens in the rendered prompt.
        completion_tokens: Tokens generated (for remote servers that report no usage: the number of
            streamed chunks, an estimate).
        finish_reason: ``"stop"`` (end of turn or a stop string), ``"length"`` (``max_new_tokens``
            reached) or ``"cancelled"`` (the consumer closed the stream early).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


@runtime_checkable
class Backend(Protocol):
    """Anything that streams a reply for a list of messages."""

    name: str

    def stream(self, messages: Sequence[dict[str, str]], params: GenerationParams) -> Iterator[str]:
        """Yield text pieces of the assistant reply to ``messages``.

        Closing the returned generator early (``.close()``) must stop generation.
        """
        ...

    def info(self) -> dict[str, Any]:
        """Describe the backend (model path/name, kind, context length...)."""
        ...


def complete(backend: Backend, messages: Sequence[dict[str, str]], params: GenerationParams) -> str:
    """Collect a whole reply from :meth:`Backend.stream`."""
    return "".join(backend.stream(messages, params))


class BaseBackend:
    """Shared bookkeeping for xinyu's own backends.

    Attributes:
        name: Model name shown to clients (``/v1/models``).
        last_stats: Accounting of the most recent finished stream.
        max_concurrency: How many streams the backend runs at once usefully (local models: 1,
            they serialise on one lock; remote servers batch many).
        streams_started: Streams opened (counters are for monitoring and tests).
        streams_finished: Streams that ran to a stop or the length limit.
        streams_cancelled: Streams closed early by their consumer.
    """

    name: str = "backend"
    max_concurrency: int = 1

    def __init__(self) -> None:
        self.last_stats: StreamStats | None = None
        self.streams_started = 0
        self.streams_finished = 0
        self.streams_cancelled = 0
        self._counter_lock = threading.Lock()

    def count_tokens(self, text: str) -> int | None:
        """Tokens in ``text`` with the backend's tokenizer, or None when it has none locally."""
        return None

    def _begin(self) -> None:
        with self._counter_lock:
            self.streams_started += 1

    def _end(self, stats: StreamStats) -> None:
        with self._counter_lock:
            if stats.finish_reason == "cancelled":
                self.streams_cancelled += 1
            else:
                self.streams_finished += 1
        self.last_stats = stats

    def close(self) -> None:
        """Release model resources (optional)."""


def open_stream(
    backend: Backend, messages: Sequence[dict[str, str]], params: GenerationParams
) -> tuple[Iterator[str], StreamStats]:
    """Start a stream and return it with the :class:`StreamStats` it fills.

    xinyu backends fill a per-call stats object (safe with concurrent streams); any other backend's
    ``last_stats`` is copied in when its stream ends.
    """
    stats = StreamStats()
    if isinstance(backend, BaseBackend):
        return backend.stream(messages, params, stats=stats), stats  # type: ignore[call-arg]

    def relay() -> Iterator[str]:
        inner = backend.stream(messages, params)
        finished = False
        try:
            yield from inner
            finished = True
        finally:
            close = getattr(inner, "close", None)
            if close is not None:
                close()
            last = getattr(backend, "last_stats", None)
            if last is not None:
                stats.prompt_tokens = last.prompt_tokens
                stats.completion_tokens = last.completion_tokens
                stats.finish_reason = last.finish_reason
            if not finished:
                stats.finish_reason = "cancelled"

    return relay(), stats


class StopStrings:
    """Cut a text stream at the first stop string, holding back text that may start one.

    Used by backends whose engine does not handle stop strings while streaming.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self._buffer = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Add ``piece``; return the text that is safe to emit now."""
        if not self.stops:
            return piece
        self._buffer += piece
        hits = [self._buffer.find(s) for s in self.stops if s in self._buffer]
        if hits:
            self.stopped = True
            out, self._buffer = self._buffer[: min(hits)], ""
            return out
        # Keep the longest suffix that is a prefix of some stop string.
        keep = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(self._buffer)), 0, -1):
                if self._buffer.endswith(stop[:n]):
                    keep = max(keep, n)
                    break
        out = self._buffer[: len(self._buffer) - keep]
        self._buffer = self._buffer[len(out) :]
        return out

    def flush(self) -> str:
        """Text still held back when the stream ends without a stop string."""
        out, self._buffer = ("" if self.stopped else self._buffer), ""
        return out


_BACKEND_OPTS = {
    "llama": {"n_ctx", "n_threads", "chat_template", "name"},
    "transformers": {"adapter", "device", "dtype", "name"},
    "remote": {"remote_model", "api_key_env", "timeout", "max_retries", "max_concurrency", "name"},
}


def is_remote(model: str) -> bool:
    """True for an ``http(s)://`` model argument (an OpenAI-compatible server)."""
    return model.startswith(("http://", "https://"))


def llama_available() -> bool:
    """Whether llama-cpp-python imports."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def pick_kind(model: str, kind: str = "auto", adapter: str | None = None) -> str:
    """Which backend ``load_backend`` uses for ``model``: ``llama``, ``transformers`` or ``remote``."""
    if kind not in ("auto", "llama", "transformers", "remote"):
        raise XinyuError(f"unknown backend kind '{kind}': expected auto, llama, transformers or remote")
    if kind != "auto":
        return kind
    if is_remote(model):
        return "remote"
    if adapter:
        return "transformers"
    from xinyu.errors import ModelNotFoundError
    from xinyu.models import gguf_file

    try:
        gguf_file(model)
    except ModelNotFoundError:
        return "transformers"
    return "llama" if llama_available() else "transformers"


def default_name(model: str) -> str:
    """The model name clients see for a local model argument (alias, or the file/dir name)."""
    from pathlib import Path

    from xinyu.models import ALIASES

    if model in ALIASES:
        return model
    path = Path(model)
    return path.stem if path.suffix == ".gguf" else path.resolve().name or model


def load_backend(model: str, kind: str = "auto", **opts: Any) -> BaseBackend:
    """Build a backend for a model argument.

    Args:
        model: ``http(s)://host/v1`` (remote OpenAI-compatible server), a ``.gguf`` file, the embedded
            alias, a run directory (``runs/<name>``, with or without an exported GGUF), a Hugging
            Face directory or a LoRA adapter directory.
        kind: ``auto`` (GGUF → llama.cpp when ``llama_cpp`` imports, else transformers; HF dirs and
            adapters → transformers; URLs → remote) or one of ``llama``, ``transformers``, ``remote``.
        **opts: Backend options; ``None`` values are ignored. llama: ``n_ctx``, ``n_threads``,
            ``chat_template``; transformers: ``adapter``, ``device``, ``dtype``; remote:
            ``remote_model``, ``api_key_env``, ``timeout``, ``max_retries``, ``max_concurrency``;
            all: ``name`` (model name shown to API clients).

    Returns:
        The backend.

    Raises:
        XinyuError: Unknown kind or an option the chosen backend does not take.
    """
    opts = {k: v for k, v in opts.items() if v is not None}
    chosen = pick_kind(model, kind, opts.get("adapter"))
    unknown = sorted(set(opts) - _BACKEND_OPTS[chosen])
    if unknown:
        raise XinyuError(
            f"option(s) {', '.join(unknown)} do not apply to the {chosen} backend "
            f"(it takes {', '.join(sorted(_BACKEND_OPTS[chosen]))})"
        )
    if chosen != "remote":
        opts.setdefault("name", default_name(model))
    if chosen == "remote":
        from xinyu.serve.backends_remote import OpenAIBackend

        return OpenAIBackend(model, opts.pop("remote_model", None), **opts)
    if chosen == "llama":
        from xinyu.models import gguf_file
        from xinyu.serve.backends_llama import LlamaCppBackend

        return LlamaCppBackend(gguf_file(model), **opts)
    from xinyu.serve.backends_hf import TransformersBackend

    return TransformersBackend(model, **opts)
