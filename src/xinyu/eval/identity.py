"""What identifies a model for caching generations: its files, not just its name.

``runs/demo`` retrained in place keeps its name but changes its weights, so the generation cache
key includes a fingerprint of the model files (name, size and modification time of weights,
configs and tokenizer files). Remote servers are identified by URL and model name only: xinyu
cannot see their weights, so clear the cache (or change the output directory) after redeploying.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

_PATTERNS = ("*.safetensors", "*.bin", "*.gguf", "*.json", "*.model", "*.jinja", "*.pt")


def files_signature(path: str | Path) -> list[list[Any]]:
    """``[[name, size, mtime_ns], ...]`` for a model file or the model files of a directory."""
    path = Path(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted({f for pattern in _PATTERNS for f in path.glob(pattern) if f.is_file()})
    else:
        return []
    out = []
    for f in files:
        st = f.stat()
        out.append([f.name, st.st_size, st.st_mtime_ns])
    return out


def _local_parts(model: str) -> list[Any]:
    """Signatures of every directory/file a local model argument loads from."""
    from xinyu.models import resolve_model
    from xinyu.paths import models_dir

    resolved = resolve_model(model)
    if resolved.kind == "alias":
        converted = models_dir() / resolved.name / "hf"
        return [resolved.name, files_signature(converted)]
    if resolved.kind == "adapter":
        return [resolved.path, files_signature(resolved.path), _local_parts(resolved.base or "")]
    return [resolved.path, files_signature(resolved.path)]


def model_identity(backend: Any, model: str | None = None) -> dict[str, Any]:
    """Describe the model behind ``backend`` (for ``info.json``) with a ``fingerprint`` for cache keys.

    Args:
        backend: Any :class:`~xinyu.serve.backends.Backend`.
        model: The model argument the backend was built from, when known.
    """
    info = dict(backend.info()) if hasattr(backend, "info") else {}
    kind = info.get("kind", type(backend).__name__)
    parts: list[Any] = [kind]
    try:
        if kind == "remote":
            parts += [info.get("base_url"), getattr(backend, "model", info.get("model"))]
        elif kind == "llama.cpp" and info.get("path"):
            parts += [info["path"], files_signature(info["path"]), info.get("chat_template")]
        elif kind == "transformers":
            parts += [_local_parts(str(info.get("model") or model)), info.get("dtype")]
            if info.get("adapter"):
                parts.append(files_signature(info["adapter"]))
        else:
            parts.append(json.dumps(info, sort_keys=True, default=str))
    except Exception as exc:  # identity must never stop an evaluation; fall back to the description
        parts.append(f"unresolved: {type(exc).__name__}")
        parts.append(json.dumps(info, sort_keys=True, default=str))
    fingerprint = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return {
        "name": getattr(backend, "name", None) or info.get("name"),
        "model": model,
        "kind": kind,
        "fingerprint": fingerprint,
    }
