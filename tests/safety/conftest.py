"""Fixtures for the safety tests (all offline and CPU-only)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def policy():
    from xinyu.safety.policy import SafetyPolicy

    return SafetyPolicy()


@pytest.fixture
def levels():
    """assess(text, history) -> (level, imminent, categories) for compact assertions."""
    from xinyu.safety import assess

    def run(text, history=None):
        risk = assess(text, history)
        return risk.level.value, risk.imminent, sorted(c.value for c in risk.categories)

    return run


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    """A tiny random BERT (2 layers, hidden 32) with a character vocabulary, saved with its tokenizer.

    Chinese classifiers are usually BERT-style (bert-base-chinese); this one loads in milliseconds.
    """
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    chars = sorted(set("我想死不活了今天气很好周末去爬山最近压力大心里难受的是你他她们一个人也有没在这"))
    root = tmp_path_factory.mktemp("tiny-bert")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(str(vocab))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    out = root / "model"
    BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
