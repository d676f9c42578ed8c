"""Hugging Face transformers backend (+ LoRA adapters): freshly trained runs, GPUs, batched evaluation.

Streaming runs ``model.generate`` in a worker thread that feeds a ``TextIteratorStreamer``; a
``StoppingCriteria`` watches an event that is set when the consumer closes the stream, so an
abandoned request stops after the current decoding step instead of running to ``max_new_tokens``.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from xinyu.serve.backends import BaseBackend, GenerationParams, StopStrings, StreamStats, default_name

log = logging.getLogger(__name__)


class TransformersBackend(BaseBackend):
    """Stream replies from a transformers causal LM.

    Args:
        model: Any model argument :func:`xinyu.models.load_model` takes (alias, HF dir, adapter dir,
            run dir, GGUF file, cached hub id).
        adapter: An extra LoRA adapter directory applied on top.
        device: ``cpu``, ``cuda``... (default: CUDA when available).
        dtype: ``float32``/``bfloat16``/``float16`` (default: bf16 on CUDA, fp32 on CPU).
        name: Model name shown to API clients.

    Thread-safe: generation holds one lock per model (on CPU, interleaving two generations is slower
    than running them one after another).
    """

    max_concurrency = 1

    def __init__(
        self,
        model: str,
        adapter: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__()
        from xinyu.models import load_model
        from xinyu.models.templates import stop_token_ids

        self.model_arg = model
        self.adapter = adapter
        self.name = name or default_name(model)
        self.model, self.tokenizer = load_model(model, adapter=adapter, device=device, dtype=dtype)
        self.stop_ids = stop_token_ids(self.tokenizer)
        self._lock = threading.Lock()
        log.info("transformers backend: %s on %s", self.name, self.model.device)

    # -- prompts ---------------------------------------------------------------------------------
    def render(self, messages: Sequence[dict[str, str]]) -> str:
        """The prompt text (chat template applied, generation prompt added)."""
        return self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` (no special tokens added)."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _generation_config(self, params: GenerationParams, max_new_tokens: int | None = None) -> Any:
        gen = copy.deepcopy(self.model.generation_config)
        sample = params.temperature > 0
        gen.update(
            do_sample=sample,
            # Greedy decoding gets neutral sampling values so transformers does not warn about
            # sampling flags that would be ignored.
            temperature=params.temperature if sample else 1.0,
            top_p=params.top_p if sample else 1.0,
            top_k=(params.top_k if params.top_k > 0 else None) if sample else None,
            repetition_penalty=params.repetition_penalty,
            max_new_tokens=max_new_tokens or params.max_new_tokens,
            eos_token_id=self.stop_ids,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        gen.max_length = None
        return gen

    # -- streaming -------------------------------------------------------------------------------
    def stream(
        self,
        messages: Sequence[dict[str, str]],
        params: GenerationParams,
        stats: StreamStats | None = None,
    ) -> Iterator[str]:
        """Yield reply pieces; closing the generator stops generation after the current step."""
        stats = stats if stats is not None else StreamStats()
        return self._run(self.render(messages), params, stats)

    def _run(self, prompt: str, params: GenerationParams, stats: StreamStats) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        cancel = threading.Event()

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=input_ids.device)

        self._begin()
        inputs = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt").to(self.model.device)
        prompt_len = int(inputs["input_ids"].shape[1])
        stats.prompt_tokens = prompt_len
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                if params.seed is not None:
                    torch.manual_seed(params.seed)
                with torch.inference_mode():
                    result["output"] = self.model.generate(
                        **inputs,
                        generation_config=self._generation_config(params),
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([_Cancelled()]),
                    )
            except BaseException as exc:  # handed to the consumer thread below
                result["error"] = exc
            finally:
                streamer.end()  # unblocks the consumer even when generate failed early

        stops = StopStrings(params.stop)
        finished = False
        with self._lock:
            thread = threading.Thread(target=work, name="xinyu-generate", daemon=True)
            thread.start()
            try:
                for piece in streamer:
                    out = stops.feed(piece)
                    if out:
                        yield out
                    if stops.stopped:
                        break
                tail = stops.flush()
                if tail:
                    yield tail
                finished = True
            finally:
                cancel.set()
                thread.join()
                if "error" in result and finished:
                    self._end(stats)
                    raise result["error"]
                self._finish(stats, result.get("output"), prompt_len, params, finished, stops.stopped)

    def _finish(
        self, stats: StreamStats, output: Any, prompt_len: int, params: GenerationParams, finished: bool, hit_stop: bool
    ) -> None:
        if output is not None:
            generated = output[0, prompt_len:].tolist()
            stats.completion_tokens = len(generated)
            ended_on_stop = bool(generated) and generated[-1] in self.stop_ids
            if not finished:
                stats.finish_reason = "cancelled"
            elif hit_stop or ended_on_stop or len(generated) < params.max_new_tokens:
                stats.finish_reason = "stop"
            else:
                stats.finish_reason = "length"
        elif not finished:
            stats.finish_reason = "cancelled"
        self._end(stats)

    # -- offline batches -------------------------------------------------------------------------
    def generate_batch(
        self,
        conversations: Sequence[Sequence[dict[str, str]]],
        params: GenerationParams,
        batch_size: int = 8,
    ) -> list[str]:
        """Generate one reply per conversation, ``batch_size`` at a time (left padding).

        With greedy parameters the replies equal those of :meth:`stream` one conversation at a
        time. Conversations are grouped by prompt length to waste little compute on padding; the
        result keeps the input order.

        Args:
            conversations: Message lists, each ending with the user turn to answer.
            params: Generation parameters (``seed`` seeds the whole run once).
            batch_size: Conversations per ``generate`` call.

        Returns:
            The replies, in input order.
        """
        import torch
        from tqdm.auto import tqdm

        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        prompts = [self.render(messages) for messages in conversations]
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        replies: list[str] = [""] * len(prompts)
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        side = self.tokenizer.padding_side
        self.tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
        try:
            with self._lock, torch.inference_mode():
                if params.seed is not None:
                    torch.manual_seed(params.seed)
                for batch in tqdm(batches, desc="generate", unit="batch", disable=len(batches) < 2):
                    enc = self.tokenizer(
                        [prompts[i] for i in batch], add_special_tokens=False, padding=True, return_tensors="pt"
                    ).to(self.model.device)
                    out = self.model.generate(**enc, generation_config=self._generation_config(params))
                    width = enc["input_ids"].shape[1]
                    for row, index in enumerate(batch):
                        text = self.tokenizer.decode(out[row, width:], skip_special_tokens=True)
                        stops = StopStrings(params.stop)
                        replies[index] = stops.feed(text) + stops.flush()
        finally:
            self.tokenizer.padding_side = side
        return replies

    def info(self) -> dict[str, Any]:
        """Kind, model argument, adapter, device and dtype."""
        return {
            "kind": "transformers",
            "name": self.name,
            "model": self.model_arg,
            "adapter": self.adapter,
            "device": str(self.model.device),
            "dtype": str(self.model.dtype).replace("torch.", ""),
            "max_position_embeddings": getattr(self.model.config, "max_position_embeddings", None),
        }
