"""Token ids and loss masks for chat fine-tuning, for any chat template.

Loss is computed on **every assistant turn and nothing else**. Few real templates carry
``{% generation %}`` markers (Qwen2.5, InternLM2.5, GLM-4, Llama-3 and Gemma do not), so the mask is
found from the rendered text instead:

1. Render the whole conversation once with the tokenizer's chat template (``add_generation_prompt``
   off).
2. Locate each assistant content in the rendered text, in order. The search for assistant turn *i*
   starts where the template's prompt for that turn ends (the conversation up to *i*, rendered with
   ``add_generation_prompt``) when that prompt is a prefix of the full text, so an assistant reply
   that repeats a user sentence is never matched inside the user turn. Templates that strip
   contents (Gemma, Llama-3) are matched on the stripped content.
3. Tokenise the rendered text once with the fast tokenizer's offset mapping; a token is labelled when
   it starts inside an assistant content span.
4. Label the end of the turn, so the model learns to stop. The rule, per template family:

   * **Gemma** (``<end_of_turn>``), **Qwen2.5 / InternLM2.5 / ChatML** (``<|im_end|>``),
     **Llama-3** (``<|eot_id|>``) and xinyu's ChatML default for base models (EOS): the template
     writes a special token right after the content; that token is labelled (and any whitespace
     tokens the template puts between content and that token).
   * **GLM-4**: the template writes no end token; the next turn's role token follows
     (``<|user|>``, which GLM-4's generation config treats as a stop token), so that token is
     labelled. After the *last* assistant turn nothing follows, so EOS is appended and labelled.
   * Any template whose content is followed by ordinary text (no special token) gets no end label
     for that turn, with a one-time warning: such a template cannot teach the model to stop.

Truncation to ``max_length`` keeps whole turns: trailing exchanges are dropped whole. Only when the
first exchange alone is too long is the sequence cut at ``max_length`` (counted by the caller, who
warns once with the total). A dialogue left without any labelled token is reported as empty.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from xinyu.errors import DataError

log = logging.getLogger(__name__)

IGNORE_INDEX = -100

_special_cache: dict[int, frozenset[int]] = {}
_warned: set[str] = set()


@dataclass
class TokenizedDialogue:
    """One dialogue as model inputs.

    Attributes:
        input_ids: Token ids of the rendered conversation (BOS included when the template writes it).
        labels: Same length; the token id where the loss applies, ``-100`` elsewhere.
        cut: True when the first exchange alone exceeded ``max_length`` and was cut mid-turn.
        dropped_turns: Assistant turns dropped whole by truncation.
        assistant_turns: Assistant turns kept (with at least one labelled token).
    """

    input_ids: list[int]
    labels: list[int]
    cut: bool = False
    dropped_turns: int = 0
    assistant_turns: int = 0
    turn_ends: list[int] = field(default_factory=list)

    @property
    def num_labels(self) -> int:
        """Number of tokens that carry loss."""
        return sum(1 for t in self.labels if t != IGNORE_INDEX)


def special_token_ids(tokenizer: Any) -> frozenset[int]:
    """Ids of the tokenizer's special tokens (EOS/BOS/PAD and added tokens marked special)."""
    key = id(tokenizer)
    cached = _special_cache.get(key)
    if cached is not None and len(cached) >= len(tokenizer.all_special_ids):
        return cached
    ids = set(tokenizer.all_special_ids)
    for idx, added in getattr(tokenizer, "added_tokens_decoder", {}).items():
        if getattr(added, "special", False):
            ids.add(int(idx))
    result = frozenset(ids)
    _special_cache[key] = result
    return result


def _render(tokenizer: Any, messages: Sequence[dict[str, str]], template: str | None, generation: bool) -> str:
    return tokenizer.apply_chat_template(
        list(messages), chat_template=template, tokenize=False, add_generation_prompt=generation
    )


def assistant_char_spans(
    tokenizer: Any, messages: Sequence[dict[str, str]], text: str, template: str | None = None
) -> list[tuple[int, int]]:
    """Character spans ``[start, end)`` of each assistant content inside the rendered ``text``.

    Raises:
        DataError: An assistant content does not appear in the rendered text (a template that
            rewrites contents), naming the message index.
    """
    spans: list[tuple[int, int]] = []
    cursor = 0
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant":
            continue
        start = cursor
        try:
            prompt = _render(tokenizer, messages[:i], template, generation=True)
        except Exception:  # a template may refuse a partial conversation; fall back to the cursor
            prompt = None
        if prompt is not None and text.startswith(prompt):
            start = max(start, len(prompt))
        content = msg["content"]
        found: tuple[int, int] | None = None
        for variant in (content, content.strip()):
            if not variant:
                continue
            pos = text.find(variant, start)
            if pos >= 0 and (found is None or pos < found[0]):
                found = (pos, pos + len(variant))
        if found is None:
            raise DataError(
                "the chat template does not reproduce this assistant message verbatim, so its loss mask "
                "cannot be located (use a template that writes message contents unchanged)",
                field=f"messages[{i}].content",
            )
        spans.append(found)
        cursor = found[1]
    return spans


def _is_blank(tokenizer: Any, token_id: int) -> bool:
    return tokenizer.decode([token_id]).strip() == ""


def tokenize_dialogue(
    tokenizer: Any,
    messages: Sequence[dict[str, str]],
    *,
    max_length: int | None = None,
    chat_template: str | None = None,
    train_on_prompt: bool = False,
) -> TokenizedDialogue:
    """Render, tokenise and mask one conversation (see the module docstring for the rules).

    Args:
        tokenizer: A fast tokenizer with a chat template (or pass ``chat_template``).
        messages: OpenAI-style messages; system/user/assistant.
        max_length: Truncate to at most this many tokens, keeping whole exchanges.
        chat_template: Template to use instead of the tokenizer's own.
        train_on_prompt: Put loss on every token (prompts too), not only on assistant turns.

    Returns:
        The token ids and labels.
    """
    text = _render(tokenizer, messages, chat_template, generation=False)
    spans = assistant_char_spans(tokenizer, messages, text, chat_template)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(enc["input_ids"])
    offsets: list[tuple[int, int]] = [tuple(o) for o in enc["offset_mapping"]]
    labels = [IGNORE_INDEX] * len(ids)
    specials = special_token_ids(tokenizer)
    turn_ends: list[int] = []
    tok = 0
    for span_start, span_end in spans:
        while tok < len(ids) and offsets[tok][0] < span_start:
            tok += 1
        first = tok
        while tok < len(ids) and offsets[tok][0] < span_end:
            labels[tok] = ids[tok]
            tok += 1
        if tok == first:
            continue  # content produced no token of its own (cannot happen for non-empty text)
        # End of turn: whitespace tokens then the first special token, if a special token comes first.
        probe = tok
        while probe < len(ids) and ids[probe] not in specials and _is_blank(tokenizer, ids[probe]):
            probe += 1
        if probe < len(ids) and ids[probe] in specials:
            for j in range(tok, probe + 1):
                labels[j] = ids[j]
            tok = probe + 1
        elif probe >= len(ids) and tokenizer.eos_token_id is not None:
            # Nothing follows the last assistant turn (GLM-4): append EOS so the model learns to stop.
            eos = int(tokenizer.eos_token_id)
            ids.append(eos)
            labels.append(eos)
            offsets.append((len(text), len(text)))
            tok = len(ids)
        else:
            key = (tokenizer.chat_template if chat_template is None else chat_template) or ""
            if key not in _warned:
                _warned.add(key)
                log.warning(
                    "the chat template writes no end-of-turn token after assistant turns; the model will not "
                    "learn when to stop. Use a template that closes each assistant turn with a special token."
                )
        turn_ends.append(tok)
    if train_on_prompt:
        labels = list(ids)
    result = TokenizedDialogue(ids, labels, assistant_turns=len(turn_ends), turn_ends=turn_ends)
    if max_length is not None and len(ids) > max_length:
        result = truncate_whole_turns(result, max_length)
    return result


def truncate_whole_turns(example: TokenizedDialogue, max_length: int) -> TokenizedDialogue:
    """Drop trailing exchanges until the dialogue fits; cut the first exchange only if it alone is too long."""
    keep = [end for end in example.turn_ends if end <= max_length]
    if keep:
        cut_at, cut = keep[-1], False
    else:
        cut_at, cut = max_length, True
    kept_turns = len(keep) + (1 if cut else 0)
    return TokenizedDialogue(
        input_ids=example.input_ids[:cut_at],
        labels=example.labels[:cut_at],
        cut=cut,
        dropped_turns=example.assistant_turns - kept_turns,
        assistant_turns=kept_turns,
        turn_ends=keep,
    )


__all__ = [
    "IGNORE_INDEX",
    "TokenizedDialogue",
    "assistant_char_spans",
    "special_token_ids",
    "tokenize_dialogue",
    "truncate_whole_turns",
]
