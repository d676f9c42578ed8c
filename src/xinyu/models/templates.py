"""Chat templates.

The tokenizer's own chat template is always preferred. Base models without one (including the
embedded Gemma-3-270M) get a documented default:

* **gemma** — for tokenizers that have ``<start_of_turn>``/``<end_of_turn>`` (the Gemma family):
  Gemma's own instruct format. A system message is its own ``user``-less preamble folded into the
  first user turn, exactly as Gemma's instruct template does::

      <bos><start_of_turn>user
      {system}

      {user}<end_of_turn>
      <start_of_turn>model
      {assistant}<end_of_turn>

* **chatml** — for every other base model: ChatML markers written as plain text, with the
  tokenizer's EOS token closing each assistant turn so generation stops there::

      <|im_start|>system
      {system}<|im_end|>
      <|im_start|>user
      {user}<|im_end|>
      <|im_start|>assistant
      {assistant}{eos}

Rendering without a tokenizer (e.g. for llama.cpp over a GGUF) goes through :func:`render`, which
uses the same sandboxed Jinja environment conventions as ``transformers``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

GEMMA_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages and messages[0]['role'] == 'system' %}"
    "{% set system = messages[0]['content'] | trim %}{% set loop_messages = messages[1:] %}"
    "{% else %}{% set system = '' %}{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
    "<start_of_turn>{{ role }}\n"
    "{% if loop.first and system %}{{ system }}\n\n{% endif %}"
    "{{ message['content'] | trim }}<end_of_turn>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] | trim }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}\n{% else %}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

DEFAULT_TEMPLATES = {"gemma": GEMMA_TEMPLATE, "chatml": CHATML_TEMPLATE}

# Generation must stop at the end-of-turn marker of the template as well as at EOS.
STOP_STRINGS = {"gemma": ["<end_of_turn>"], "chatml": ["<|im_end|>", "<|im_start|>"]}


def default_template_name(tokenizer: Any) -> str:
    """Pick the default template family for a tokenizer without a chat template."""
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    if "<start_of_turn>" in vocab and "<end_of_turn>" in vocab:
        return "gemma"
    return "chatml"


def ensure_chat_template(tokenizer: Any) -> str | None:
    """Give ``tokenizer`` the default template if it has none; return the default's name or None."""
    if getattr(tokenizer, "chat_template", None):
        return None
    name = default_template_name(tokenizer)
    tokenizer.chat_template = DEFAULT_TEMPLATES[name]
    return name


def stop_token_ids(tokenizer: Any) -> list[int]:
    """Token ids that end an assistant turn: EOS plus the template's end-of-turn token if any."""
    ids: list[int] = []
    if tokenizer.eos_token_id is not None:
        ids.append(int(tokenizer.eos_token_id))
    vocab = tokenizer.get_vocab()
    for marker in ("<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end|>", "<|user|>", "<|observation|>"):
        if marker in vocab and (tokenizer.chat_template or "").find(marker) >= 0:
            ids.append(int(vocab[marker]))
    return sorted(set(ids))


@lru_cache(maxsize=16)
def _compile(template: str) -> Any:
    # The same environment transformers uses for apply_chat_template: sandboxed, trim_blocks and
    # lstrip_blocks on, loopcontrols; so a template renders identically with or without a tokenizer.
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise ValueError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)


def render(
    template: str,
    messages: Sequence[dict[str, str]],
    *,
    add_generation_prompt: bool = True,
    bos_token: str = "",
    eos_token: str = "",
    **kwargs: Any,
) -> str:
    """Render ``messages`` with a Jinja chat template (no tokenizer needed)."""
    return _compile(template).render(
        messages=list(messages),
        add_generation_prompt=add_generation_prompt,
        bos_token=bos_token,
        eos_token=eos_token,
        **kwargs,
    )
