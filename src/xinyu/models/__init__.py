"""Model registry, loading and chat templates.

Importing this package is cheap; torch/transformers load when a function needs them.
"""

from xinyu.models.registry import ALIASES, DEFAULT_MODEL, ModelSpec, ResolvedModel, resolve_model

__all__ = [
    "ALIASES",
    "DEFAULT_MODEL",
    "ModelSpec",
    "ResolvedModel",
    "embedded_gguf",
    "gguf_file",
    "hf_dir",
    "load_model",
    "load_tokenizer",
    "resolve_model",
]


def __getattr__(name: str):
    if name in {"embedded_gguf", "gguf_file", "hf_dir", "load_model", "load_tokenizer"}:
        from xinyu.models import loading

        return getattr(loading, name)
    raise AttributeError(name)
