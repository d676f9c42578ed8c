"""Shared fixtures. Tests are offline and CPU-only; heavy fixtures are session-scoped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """``../shared/datasets`` beside the repository; tests using it skip when it is absent."""
    path = SHARED / "datasets"
    if not path.is_dir():
        pytest.skip("../shared/datasets is not present")
    return path


@pytest.fixture
def scripted_openai():
    """Factory: ``scripted_openai(responder)`` starts a real OpenAI-protocol server on loopback."""
    from tests.support.openai_server import ScriptedOpenAIServer

    servers = []

    def make(responder, model: str = "scripted"):
        server = ScriptedOpenAIServer(responder, model=model).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def embedded_tokenizer():
    """The embedded model's real tokenizer (Gemma-3, 262k vocab), with the default chat template."""
    from xinyu.models import load_tokenizer

    return load_tokenizer("gemma-3-270m")


def build_tiny_model(tokenizer, out_dir: Path, seed: int = 0, layers: int = 2) -> Path:
    """Save a tiny randomly initialised Gemma-3 text model with the real tokenizer to ``out_dir``."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, GenerationConfig

    from xinyu.models.templates import stop_token_ids

    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=4096,
        sliding_window=64,
        layer_types=["sliding_attention"] * (layers - 1) + ["full_attention"],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = Gemma3ForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=stop_token_ids(tokenizer), pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, embedded_tokenizer) -> Path:
    """A tiny random Gemma-3 causal LM (2 layers, hidden 32) saved with the real tokenizer.

    Session-scoped and read-only: tests that train must copy it or save elsewhere.
    """
    return build_tiny_model(embedded_tokenizer, tmp_path_factory.mktemp("tiny-gemma"))
