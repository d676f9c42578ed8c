"""Helpers of the alignment tests: short hand-written pairs and prompts, a tiny SFT adapter.

Sequences are kept to a few dozen tokens: the tiny model has the real 262k-token vocabulary, and
the preference losses score every position against all of it.
"""

from __future__ import annotations

import json
from pathlib import Path

PROMPTS = ["我睡不着", "我很焦虑", "没人理解我", "我想哭", "考试好难", "我好累"]
GOOD = ["听起来很难受，多久了？", "焦虑很累吧，想聊聊吗？", "被误解很孤单，发生了什么？",
        "想哭就哭吧，我在听。", "压力很大吧，哪科最难？", "辛苦了，最近忙什么？"]
BAD = ["1. 早睡\n2. 运动", "别想太多。", "你太敏感了。", "哭没有用。", "多学习就好。", "**坚持**就好。"]


def short_pairs(n: int = 12) -> list[dict]:
    """``n`` pair dicts over the six prompts (chosen: warm question; rejected: list/cold reply)."""
    return [
        {
            "id": f"p{i}",
            "source": "test",
            "messages": [{"role": "user", "content": PROMPTS[i % 6]}],
            "chosen": [{"role": "assistant", "content": GOOD[i % 6]}],
            "rejected": [{"role": "assistant", "content": BAD[i % 6]}],
            "meta": {"strategy": "cold" if i % 2 else "list_style"},
        }
        for i in range(n)
    ]


def write_pairs_file(path: Path, n: int = 12) -> Path:
    """Write :func:`short_pairs` as JSONL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in short_pairs(n)), encoding="utf-8")
    return path


def write_prompt_dialogues(path: Path, n: int = 6) -> Path:
    """Short one-exchange dialogues whose user turns are RL prompts."""
    rows = [
        {"id": f"d{i}", "source": "test", "messages": [
            {"role": "user", "content": PROMPTS[i % 6]}, {"role": "assistant", "content": GOOD[i % 6]}], "meta": {}}
        for i in range(n)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def make_sft_adapter(model_dir: Path, out: Path, seed: int = 0) -> Path:
    """A LoRA adapter on the tiny model with non-zero weights, standing in for a trained SFT stage."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    peft = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.05)
    peft.save_pretrained(out)
    config_path = out / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = str(model_dir)
    config_path.write_text(json.dumps(config), encoding="utf-8")
    return out


def read_safetensors(path: Path) -> dict:
    """All tensors of a safetensors file."""
    from safetensors.torch import load_file

    return load_file(str(path))
