"""Loss masks: every assistant turn (plus its end token) and nothing else, for real chat templates."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from xinyu.errors import DataError
from xinyu.models.masks import IGNORE_INDEX, tokenize_dialogue, truncate_whole_turns

TEMPLATES = Path(__file__).resolve().parents[1] / "fixtures" / "templates"

# Official chat templates (tokenizer_config.json of each model), stored as fixtures. The embedded
# tokenizer lacks their control tokens, so each test registers them as added special tokens.
FAMILIES = {
    "qwen2.5-7b-instruct": {"end": ["<|im_end|>"] * 3},
    "internlm2.5-7b-chat": {"end": ["<|im_end|>"] * 3},
    "llama-3.1-8b-instruct": {"end": ["<|eot_id|>"] * 3, "bos": "<|begin_of_text|>"},
    "gemma-3-it": {"end": ["<end_of_turn>"] * 3},
    # GLM-4 writes no end token: the next turn's <|user|> is labelled, and EOS after the last turn.
    "glm-4-9b-chat": {"end": ["<|user|>", "<|user|>", "<eos>"]},
}
# Control tokens of those templates (GLM-4 builds its role tokens as '<|' + role + '|>').
CONTROL_TOKENS = [
    "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|eot_id|>", "<|eom_id|>", "<|python_tag|>", "[gMASK]", "<sop>", "<|system|>", "<|user|>",
    "<|assistant|>", "<|observation|>",
]

DIALOGUE = [
    {"role": "system", "content": "你是心语，一个温和的倾听者。你不是人类，也不是执业咨询师。"},
    {"role": "user", "content": "最近总是失眠，我说“好的”也没用😣"},
    {"role": "assistant", "content": "好的"},
    {"role": "user", "content": "你能理解我吗？Can you?"},
    {"role": "assistant", "content": "我在认真听。失眠让人很疲惫，能说说是从什么时候开始的吗？🌙"},
    {"role": "user", "content": "大概两周前，工作压力大。"},
    {"role": "assistant", "content": "谢谢你愿意告诉我。\n我们可以一起想想，压力最大的时候身体有什么感觉。"},
]


@pytest.fixture(scope="module")
def extended_tokenizer(embedded_tokenizer):
    """One copy of the embedded tokenizer with every template's control tokens added (copying is slow)."""
    tok = copy.deepcopy(embedded_tokenizer)
    tok.add_special_tokens({"additional_special_tokens": CONTROL_TOKENS}, replace_extra_special_tokens=False)
    return tok


@pytest.fixture
def tokenizer_for(extended_tokenizer):
    bos = extended_tokenizer.bos_token

    def make(name: str):
        extended_tokenizer.chat_template = (TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8")
        extended_tokenizer.bos_token = FAMILIES[name].get("bos", bos)
        return extended_tokenizer

    yield make
    extended_tokenizer.bos_token = bos


def labelled_runs(tok, input_ids, labels):
    """Decode each contiguous run of labelled tokens."""
    runs, current = [], []
    for tid, lab in zip(input_ids, labels, strict=True):
        if lab != IGNORE_INDEX:
            assert lab == tid
            current.append(tid)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return [tok.decode(run, skip_special_tokens=False) for run in runs]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_labels_are_exactly_the_assistant_turns(tokenizer_for, name):
    tok = tokenizer_for(name)
    ex = tokenize_dialogue(tok, DIALOGUE)
    assistants = [m["content"] for m in DIALOGUE if m["role"] == "assistant"]
    expected = [content + end for content, end in zip(assistants, FAMILIES[name]["end"], strict=True)]
    assert labelled_runs(tok, ex.input_ids, ex.labels) == expected
    # Nothing of the system prompt or user turns carries loss.
    labelled_text = "".join(expected)
    for msg in DIALOGUE:
        if msg["role"] != "assistant":
            assert msg["content"] not in labelled_text
    assert ex.assistant_turns == 3 and not ex.cut and ex.dropped_turns == 0
    # The unlabelled tokens hold every prompt, so the sequence is the full conversation.
    rendered = tok.apply_chat_template(DIALOGUE, tokenize=False)
    assert tok.decode(ex.input_ids, skip_special_tokens=False).startswith(rendered)


def test_default_base_model_template(embedded_tokenizer):
    ex = tokenize_dialogue(embedded_tokenizer, DIALOGUE)
    runs = labelled_runs(embedded_tokenizer, ex.input_ids, ex.labels)
    assert runs == [m["content"] + "<end_of_turn>" for m in DIALOGUE if m["role"] == "assistant"]
    assert ex.input_ids[0] == embedded_tokenizer.bos_token_id


def test_train_on_prompt_labels_everything(embedded_tokenizer):
    ex = tokenize_dialogue(embedded_tokenizer, DIALOGUE, train_on_prompt=True)
    assert ex.labels == ex.input_ids


def test_truncation_drops_whole_trailing_exchanges(embedded_tokenizer):
    full = tokenize_dialogue(embedded_tokenizer, DIALOGUE)
    second_end = full.turn_ends[1]
    ex = tokenize_dialogue(embedded_tokenizer, DIALOGUE, max_length=second_end + 3)
    assert len(ex.input_ids) == second_end and ex.dropped_turns == 1 and not ex.cut
    runs = labelled_runs(embedded_tokenizer, ex.input_ids, ex.labels)
    assert runs == [DIALOGUE[2]["content"] + "<end_of_turn>", DIALOGUE[4]["content"] + "<end_of_turn>"]


def test_overlong_first_exchange_is_cut_and_flagged(embedded_tokenizer):
    full = tokenize_dialogue(embedded_tokenizer, DIALOGUE[:3])
    limit = full.turn_ends[0] - 1  # the end token does not fit
    ex = truncate_whole_turns(tokenize_dialogue(embedded_tokenizer, DIALOGUE), limit)
    assert ex.cut and len(ex.input_ids) == limit and ex.dropped_turns == 2
    prompt_only = tokenize_dialogue(embedded_tokenizer, DIALOGUE, max_length=5)
    assert prompt_only.num_labels == 0 and prompt_only.cut


def test_template_that_rewrites_content_is_reported(extended_tokenizer):
    tok = extended_tokenizer
    tok.chat_template = "{% for m in messages %}{{ m['content'] | upper }}{% endfor %}"
    with pytest.raises(DataError, match=r"messages\[1\]\.content"):
        tokenize_dialogue(tok, [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}])
