"""Fixtures for the serving tests: one tiny transformers backend shared by the session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir):
    """A :class:`TransformersBackend` over the tiny random Gemma-3 model (loads in ~1 s)."""
    from xinyu.serve.backends_hf import TransformersBackend

    return TransformersBackend(str(tiny_model_dir), name="tiny")


@pytest.fixture
def greedy():
    """Short greedy generation parameters (deterministic, fast)."""
    from xinyu.serve.backends import GenerationParams

    return GenerationParams(temperature=0.0, top_p=1.0, max_new_tokens=8)
