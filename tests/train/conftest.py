"""Fixtures for training tests: small hand-written dialogue files and recipes on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SYSTEM = "你是心语，一个AI倾听助手，不是人类，也不是执业咨询师。"
USER_LINES = [
    "最近工作压力很大，晚上总是睡不着。",
    "我和父母总是吵架，不知道怎么沟通。",
    "考试快到了，我特别焦虑😟",
    "感觉身边没有人真正理解我。",
    "分手以后一直走不出来。",
    "我是不是太敏感了？",
]
ASSISTANT_LINES = [
    "听起来你最近承受了很多，睡不好一定很辛苦。能说说压力主要来自哪里吗？",
    "和家人沟通不顺会让人很无力。你们通常在什么事情上起争执？",
    "考前紧张很常见，你愿意和我说说最担心的是什么吗？🌱",
    "被理解的需要很重要。最近有没有哪一刻让你特别觉得孤单？",
    "一段关系结束后难过是很自然的。你现在最常想起的是什么？",
    "敏感也意味着你很在意自己和他人的感受。是什么让你这样问自己？",
]


def write_dialogues(path: Path, n: int, *, turns: int = 2, styles=("warm", "direct"), seed: int = 0) -> Path:
    """Write ``n`` Dialogue JSONL records of ``turns`` exchanges each (deterministic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        messages = [{"role": "system", "content": SYSTEM}]
        for t in range(turns):
            k = (i * 7 + t * 3 + seed) % len(USER_LINES)
            messages.append({"role": "user", "content": f"{USER_LINES[k]}（{i}-{t}）"})
            messages.append({"role": "assistant", "content": ASSISTANT_LINES[k]})
        rows.append({"id": f"t-{seed}-{i}", "source": "test", "messages": messages,
                     "meta": {"style": styles[i % len(styles)]}})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def build_small_tokenizer():
    """A byte-level BPE tokenizer (600 tokens) trained on the fixture lines, with Gemma's turn markers.

    Training tests use it with a tiny Gemma-3 model so that a run takes seconds: the embedded
    tokenizer's 262k vocabulary makes every model that uses it pay for a 262k-row LM head and a
    33 MB tokenizer load per stage. The masks and the loss are tested on the real tokenizer elsewhere.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from xinyu.models.templates import ensure_chat_template

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    texts = [*USER_LINES, *ASSISTANT_LINES, SYSTEM, "user model \n（0123456789-）"]
    bpe.train_from_iterator(texts * 3, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                        unk_token="<unk>", additional_special_tokens=specials[4:])
    ensure_chat_template(tokenizer)  # Gemma's default template: the vocabulary has its turn markers
    return tokenizer


@pytest.fixture(scope="session")
def small_model_dir(tmp_path_factory) -> Path:
    """A tiny random Gemma-3 (2 layers, hidden 32) with the 600-token fixture tokenizer (read-only)."""
    from tests.conftest import build_tiny_model

    return build_tiny_model(build_small_tokenizer(), tmp_path_factory.mktemp("small-gemma"))


@pytest.fixture
def dialogue_files(tmp_path):
    """``train.jsonl`` (24 dialogues), ``val.jsonl`` (6) and ``persona.jsonl`` (8) in ``tmp_path/data``."""
    data = tmp_path / "data"
    return {
        "train": write_dialogues(data / "train.jsonl", 24, seed=1),
        "val": write_dialogues(data / "val.jsonl", 6, seed=2),
        "persona": write_dialogues(data / "persona.jsonl", 8, turns=1, seed=3),
    }


def tiny_recipe(tmp_path: Path, model_dir: Path, files: dict, **top) -> dict:
    """A two-stage recipe dict on the tiny model, small enough to train in seconds."""
    recipe = {
        "name": "tiny",
        "model": str(model_dir),
        "method": "lora",
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "output_dir": str(tmp_path / "runs"),
        "seed": 7,
        "defaults": {"lr": 5e-3, "batch_size": 4, "grad_accum": 1, "max_length": 128, "logging_steps": 1,
                     "epochs": 1, "scheduler": "linear"},
        "stages": [
            {"name": "self_cognition", "data": {"train": str(files["persona"])}, "max_steps": 2},
            {"name": "counseling", "data": {"train": str(files["train"]), "val": str(files["val"])}, "max_steps": 4},
        ],
    }
    recipe.update(top)
    return recipe


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread; two OpenMP threads on a busy 2-core machine stall each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
