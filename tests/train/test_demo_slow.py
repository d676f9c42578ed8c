"""End to end on the embedded model (slow tier): demo data -> configs/demo.yaml -> Q8_0 GGUF -> llama.cpp chat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_demo_recipe_trains_exports_and_chats(tmp_path, monkeypatch):
    pytest.importorskip("llama_cpp")
    from llama_cpp import Llama

    from xinyu.data.build import build_dataset
    from xinyu.models import gguf_file
    from xinyu.models.templates import GEMMA_TEMPLATE, render
    from xinyu.train.config import load_recipe
    from xinyu.train.export import export_run
    from xinyu.train.pipeline import run_recipe

    monkeypatch.chdir(tmp_path)  # the recipe's data/ and runs/ paths are relative to the working directory
    build_dataset(REPO / "configs" / "data" / "demo.yaml", ["stats.tokenizer=none"])
    run_dir = run_recipe(load_recipe(REPO / "configs" / "demo.yaml"))

    summary = json.loads((run_dir / "train_summary.json").read_text())
    assert [s["name"] for s in summary["stages"]] == ["self_cognition", "counseling"]
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for stage in ("self_cognition", "counseling"):
        losses = [e["loss"] for e in events if e["stage"] == stage and "loss" in e]
        assert losses[-1] < losses[0], (stage, losses)
    assert summary["total"]["final_val_loss"] is not None
    assert (run_dir / "plots" / "loss.png").stat().st_size > 10_000

    result = export_run(run_dir, gguf="q8_0")
    assert result.verification.passed, result.verification
    assert gguf_file(str(run_dir)) == result.gguf

    llama = Llama(model_path=str(result.gguf), n_ctx=512, n_threads=2, verbose=False)
    prompt = render(GEMMA_TEMPLATE, [{"role": "user", "content": "你好，你是谁？"}])
    reply = llama(prompt, max_tokens=48, temperature=0.0, stop=["<end_of_turn>"])["choices"][0]["text"]
    assert reply.strip()
