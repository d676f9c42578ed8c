"""GGUF models through llama-cpp-python: the default backend on CPU.

The prompt is rendered here rather than by llama-cpp-python's chat handlers so that the GGUF's own
``tokenizer.chat_template`` and xinyu's documented defaults (for GGUFs without one, such as the
embedded Gemma-3-270M) render exactly like the transformers path does.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from xinyu.errors import ModelNotFoundError, XinyuError
from xinyu.models import templates
from xinyu.serve.backends import BaseBackend, GenerationParams, StreamStats

log = logging.getLogger(__name__)


def default_threads() -> int:
    """Threads for llama.cpp: every CPU on small machines, half of them (≈ physical cores) on big ones."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return cpus if cpus <= 4 else cpus // 2


class LlamaCppBackend(BaseBackend):
    """Stream replies from a GGUF model with llama.cpp.

    Args:
        gguf_path: The ``.gguf`` file.
        n_ctx: Context window in tokens.
        n_threads: CPU threads (default: :func:`default_threads`).
        chat_template: A Jinja chat template overriding the GGUF's own (and the family default).
        name: Model name shown to API clients (default: the file name without ``.gguf``).

    Thread-safe: one lock per model, because a llama.cpp context is not re-entrant; streams run one
    at a time and a waiting stream starts when the previous one finishes or is closed.
    """

    max_concurrency = 1

    def __init__(
        self,
        gguf_path: str | Path,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        chat_template: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__()
        path = Path(gguf_path)
        if not path.is_file():
            raise ModelNotFoundError(f"GGUF file not found: {path}")
        try:
            from llama_cpp import Llama, StoppingCriteriaList
        except ImportError:
            raise XinyuError(
                "the llama.cpp backend needs llama-cpp-python: pip install 'xinyu[llama]' "
                "(or use --backend transformers)"
            ) from None
        self.path = path
        self.name = name or path.stem
        self.n_threads = n_threads or default_threads()
        self._lock = threading.Lock()
        self._criteria_list = StoppingCriteriaList
        self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=self.n_threads, verbose=False)
        self.n_ctx = self.llm.n_ctx()
        metadata = dict(self.llm.metadata or {})
        self.architecture = metadata.get("general.architecture", "")
        own = metadata.get("tokenizer.chat_template")
        if chat_template:
            self.template, self.template_source = chat_template, "argument"
        elif own:
            self.template, self.template_source = own, "gguf"
        else:
            family = "gemma" if self.architecture.startswith("gemma") else "chatml"
            self.template, self.template_source = templates.DEFAULT_TEMPLATES[family], f"default:{family}"
        self.eos_text = self.llm._model.token_get_text(self.llm.token_eos())
        # Stop at every end-of-turn marker the template writes (llama.cpp also stops at EOG tokens).
        self.stop_strings = sorted(
            {s for family in templates.STOP_STRINGS.values() for s in family if s in self.template}
        )
        log.info("llama.cpp backend: %s (ctx %d, %d threads, template %s)", path.name, self.n_ctx,
                 self.n_threads, self.template_source)

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        """The prompt text, without BOS (llama.cpp adds it when tokenizing)."""
        return templates.render(self.template, messages, bos_token="", eos_token=self.eos_text)

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` (no BOS)."""
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream(
        self,
        messages: Sequence[dict[str, str]],
        params: GenerationParams,
        stats: StreamStats | None = None,
    ) -> Iterator[str]:
        """Yield reply pieces; closing the generator stops llama.cpp after the current token."""
        stats = stats if stats is not None else StreamStats()
        prompt = self.render(messages)
        return self._run(prompt, params, stats)

    def _run(self, prompt: str, params: GenerationParams, stats: StreamStats) -> Iterator[str]:
        self._begin()
        sampled = 0

        def count(_input_ids: Any, _logits: Any) -> bool:
            nonlocal sampled
            sampled += 1
            return False

        finished = False
        max_tokens = params.max_new_tokens
        with self._lock:
            try:
                prompt_tokens = self.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
                stats.prompt_tokens = len(prompt_tokens)
                budget = self.n_ctx - len(prompt_tokens)
                if budget <= 0:
                    raise XinyuError(
                        f"the prompt has {len(prompt_tokens)} tokens, the context window {self.n_ctx}: "
                        "shorten the history or raise n_ctx"
                    )
                max_tokens = min(params.max_new_tokens, budget)
                chunks = self.llm.create_completion(
                    prompt_tokens,
                    max_tokens=max_tokens,
                    temperature=max(params.temperature, 0.0),
                    top_p=params.top_p,
                    top_k=params.top_k,
                    min_p=0.0,
                    repeat_penalty=params.repetition_penalty,
                    stop=[*self.stop_strings, *params.stop],
                    seed=params.seed,
                    stream=True,
                    stopping_criteria=self._criteria_list([count]),
                )
                try:
                    for chunk in chunks:
                        choice = chunk["choices"][0]
                        if choice["text"]:
                            yield choice["text"]
                        if choice.get("finish_reason"):
                            stats.finish_reason = choice["finish_reason"]
                    finished = True
                finally:
                    chunks.close()
            finally:
                if finished and stats.finish_reason == "length":
                    stats.completion_tokens = max_tokens
                elif finished:
                    # Tokens fed back into the context: the reply's tokens, without the end-of-turn
                    # token that stopped it (llama.cpp samples that one but never evaluates it).
                    stats.completion_tokens = max(0, self.llm.n_tokens - stats.prompt_tokens)
                else:
                    stats.completion_tokens = sampled
                if not finished:
                    stats.finish_reason = "cancelled"
                self._end(stats)

    def info(self) -> dict[str, Any]:
        """Kind, GGUF path, context length, threads and which chat template is used."""
        return {
            "kind": "llama.cpp",
            "name": self.name,
            "path": str(self.path),
            "architecture": self.architecture,
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "chat_template": self.template_source,
        }

    def close(self) -> None:
        """Free the llama.cpp model and context."""
        with self._lock:
            self.llm.close()
