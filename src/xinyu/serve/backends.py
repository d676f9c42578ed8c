"""The Backend contract: every front end and the evaluator generate through it.

A backend turns OpenAI-style messages into streamed text. Concrete backends:

* :class:`~xinyu.serve.backends_llama.LlamaCppBackend`: GGUF through llama-cpp-python (CPU default),
* :class:`~xinyu.serve.backends_hf.TransformersBackend`: a Hugging Face model (+ LoRA adapter),
* :class:`~xinyu.serve.backends_remote.OpenAIBackend`: any OpenAI-compatible server (vLLM, SGLang,
  llama.cpp server, another xinyu).

Use :func:`load_backend` to build one from a model argument.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable


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


# HearMeGLM's deployment settings, as a named preset.
PRESETS: dict[str, GenerationParams] = {
    "default": GenerationParams(),
    "hearmeglm": GenerationParams(temperature=0.95, top_p=0.7, max_new_tokens=512),
    "greedy": GenerationParams(temperature=0.0, top_p=1.0),
}


@dataclass(slots=True)
class StreamStats:
    """Token accounting for the last call of :meth:`Backend.stream` (filled by the backend)."""

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
