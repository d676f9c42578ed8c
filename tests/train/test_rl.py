"""Online RL (GRPO/RLOO) on the tiny model, the alignment recipe stages, and the shipped recipes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.train.align_support import (
    make_sft_adapter,
    read_safetensors,
    write_pairs_file,
    write_prompt_dialogues,
)

REPO = Path(__file__).resolve().parents[2]
WEIGHTS = {"safety": 1.0, "style": 2.0}


@pytest.fixture(scope="module")
def rl_run(tiny_model_dir, tmp_path_factory):
    from xinyu.train.rl import train_rl

    out = tmp_path_factory.mktemp("rl")
    sft = make_sft_adapter(tiny_model_dir, out / "sft")
    result = train_rl(
        # A tight length limit gives the random tiny model's replies different style scores (a learning signal).
        str(sft), write_prompt_dialogues(out / "train.jsonl"), out / "stage", reward_weights=WEIGHTS, beta=0.1,
        style={"min_chars": 0, "max_chars": 24},
        max_steps=2, batch_size=4, num_generations=4, max_completion_length=8, learning_rate=2e-2, logging_steps=1,
        val_prompts=write_prompt_dialogues(out / "val.jsonl", 2), eval_limit=2, eval_samples=1,
        eval_max_new_tokens=6, seed=0,
    )
    return sft, result


def test_grpo_trains_the_adapter_and_logs_each_reward_term(rl_run):
    sft, result = rl_run
    metrics = result.metrics
    assert metrics["reference"] == "frozen copy of the SFT adapter" and metrics["steps"] == 2
    check = metrics["parameter_check"]
    assert check["frozen_changed"] == 0 and check["trainable_changed"] == check["trainable_tensors"] > 0
    before = read_safetensors(sft / "adapter_model.safetensors")
    after = read_safetensors(result.adapter_dir / "adapter_model.safetensors")
    assert set(after) == set(before) and any(not after[k].equal(before[k]) for k in before)
    rows = [r for r in result.log_rows if "reward" in r]
    assert len(rows) == 2
    for row in rows:
        # TRL logs the mean of R = Σ w·r next to each term's mean: the sum is linear, so they agree.
        expected = WEIGHTS["safety"] * row["rewards/safety/mean"] + WEIGHTS["style"] * row["rewards/style/mean"]
        assert row["reward"] == pytest.approx(expected, abs=1e-5)
        assert "kl" in row and row["completions/mean_length"] <= 8


def test_grpo_records_held_out_evaluation(rl_run):
    _, result = rl_run
    saved = json.loads((result.output_dir / "eval.json").read_text())
    assert saved["val_prompts"] == 2
    for side in ("val_before", "val_after"):
        assert saved[side]["replies"] == 2 and {"safety", "style", "total", "screen_pass"} <= set(saved[side])
    assert set(saved["val_change"]) >= {"total", "safety", "screen_pass"}
    assert (result.output_dir / "plots" / "rl.png").stat().st_size > 1000
    assert not any("prompt" in r or "completion" in r for r in result.log_rows)  # no text in the logs


def test_prompts_from_dialogues_keep_history_and_dedupe(tmp_path):
    from xinyu.data.schema import write_dialogues
    from xinyu.train.rl import load_prompt_sources

    messages = [
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"},
    ]
    path = tmp_path / "d.jsonl"
    write_dialogues(path, [{"id": "1", "source": "t", "messages": messages, "meta": {}}] * 2)
    prompts = load_prompt_sources(path, max_history=2)
    assert prompts == [[messages[0]], messages[:3]]
    assert load_prompt_sources(path, max_history=0)[1] == [messages[2]]


def test_rl_argument_errors(tmp_path, tiny_model_dir):
    from xinyu.errors import ConfigError
    from xinyu.train.rl import train_rl

    prompts = write_prompt_dialogues(tmp_path / "p.jsonl")
    with pytest.raises(ConfigError, match="multiple of num_generations"):
        train_rl(str(tiny_model_dir), prompts, tmp_path / "a", batch_size=3, num_generations=4, reward_weights=WEIGHTS)
    with pytest.raises(ConfigError, match="reward_model: required"):
        train_rl(str(tiny_model_dir), prompts, tmp_path / "b", batch_size=4, num_generations=4)
    with pytest.raises(ConfigError, match="algorithm"):
        train_rl(str(tiny_model_dir), prompts, tmp_path / "c", algorithm="ppo", reward_weights=WEIGHTS)


# ------------------------------------------------------------------------------------------ recipes


def _align_recipe(tmp_path: Path, model_dir: Path, stages: list[dict]) -> dict:
    return {
        "name": "align",
        "model": str(model_dir),
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "output_dir": str(tmp_path / "runs"),
        "defaults": {"lr": 1e-2, "batch_size": 4, "grad_accum": 1, "max_length": 64, "logging_steps": 1,
                     "max_steps": 1, "scheduler": "constant"},
        "stages": stages,
    }


def test_alignment_stage_configs_validate_every_problem(tmp_path, tiny_model_dir):
    from xinyu.errors import ConfigError
    from xinyu.train.config import validate_recipe

    pairs = str(write_pairs_file(tmp_path / "pairs.jsonl"))
    recipe = validate_recipe(_align_recipe(tmp_path, tiny_model_dir, [
        {"name": "rm", "type": "reward", "data": {"train": pairs}},
        {"name": "dpo", "type": "dpo", "data": {"train": pairs}, "beta": 0.2},
        {"name": "rl", "type": "rloo", "data": {"train": pairs}, "num_generations": 2},
    ]))
    assert [s.type for s in recipe.stages] == ["reward", "dpo", "rloo"]
    assert recipe.stages[2].beta == 0.05 and recipe.stages[1].loss_type == "sigmoid"
    with pytest.raises(ConfigError) as err:
        validate_recipe(_align_recipe(tmp_path, tiny_model_dir, [
            {"name": "rm", "type": "reward", "data": {"train": pairs, "mix": {"warm": 2}}},
            {"name": "dpo", "type": "dpo", "data": {"train": pairs}, "loss_type": "kto"},
            {"name": "rl", "type": "grpo", "data": {"train": pairs}, "num_generations": 3,
             "reward_weights": {"kindness": 1}},
        ]))
    text = str(err.value)
    assert "data.mix does not apply" in text and "stages.1.loss_type" in text
    assert "kindness" in text and "multiple of num_generations" in text


ALIGN_RECIPES = [*sorted((REPO / "configs").glob("*align*.yaml")), REPO / "configs" / "demo_dpo.yaml"]


@pytest.mark.parametrize("path", ALIGN_RECIPES, ids=lambda p: p.name)
def test_shipped_alignment_recipes_validate(path):
    from xinyu.train.config import load_recipe

    recipe = load_recipe(path)
    kinds = [s.type for s in recipe.stages]
    assert kinds[0] == "sft" and ("dpo" in kinds or "reward" in kinds)
    if "grpo" in kinds or "rloo" in kinds:
        assert kinds.index("reward") < max(kinds.index(k) for k in ("grpo", "rloo") if k in kinds)


@pytest.mark.slow
def test_recipe_sft_reward_grpo_and_rerun(tmp_path, tiny_model_dir, dialogue_files):
    from xinyu.train.config import validate_recipe
    from xinyu.train.pipeline import run_recipe

    pairs = str(write_pairs_file(tmp_path / "pairs.jsonl"))
    prompts = str(write_prompt_dialogues(tmp_path / "prompts.jsonl"))
    recipe = validate_recipe(_align_recipe(tmp_path, tiny_model_dir, [
        {"name": "sft", "data": {"train": str(dialogue_files["train"])}},
        {"name": "rm", "type": "reward", "data": {"train": pairs, "val": pairs}},
        {"name": "rl", "type": "grpo", "data": {"train": prompts, "val": prompts}, "max_completion_length": 6,
         "eval_limit": 2, "eval_samples": 1, "reward_weights": {"reward_model": 1.0, "safety": 1.0, "style": 0.5}},
        {"name": "rloo", "type": "rloo", "data": {"train": prompts}, "num_generations": 2,
         "max_completion_length": 6, "reward_weights": {"style": 1.0}},
    ]))
    run = run_recipe(recipe)
    stages = run / "stages"
    # The reward stage hands the SFT policy on unchanged; RL starts from it, with the reward model beside it.
    assert read_safetensors(stages / "rm" / "policy" / "adapter_model.safetensors").keys() == \
        read_safetensors(stages / "sft" / "adapter" / "adapter_model.safetensors").keys()
    assert (stages / "rm" / "reward_model.json").is_file()
    rl_eval = json.loads((stages / "rl" / "eval.json").read_text())
    assert rl_eval["reference"] == "frozen copy of the SFT adapter" and "reward_model" in rl_eval["val_after"]
    pointer = json.loads((run / "model.json").read_text())
    assert pointer["path"] == "adapter"
    assert read_safetensors(run / "adapter" / "adapter_model.safetensors").keys() == \
        read_safetensors(stages / "rloo" / "adapter" / "adapter_model.safetensors").keys()
    summary = json.loads((run / "train_summary.json").read_text())
    assert [s["type"] for s in summary["stages"]] == ["sft", "reward", "grpo", "rloo"]
    assert {"rm-reward_model.png", "rl-rl.png", "rloo-rl.png"} <= {p.name for p in (run / "plots").glob("*.png")}
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"rm", "rl", "rloo"} <= {e["stage"] for e in events}
    # A second run skips every finished stage and hands on the same policy.
    rerun = run_recipe(recipe)
    again = json.loads((rerun / "train_summary.json").read_text())
    assert all(s.get("skipped") for s in again["stages"])


# ------------------------------------------------------------------------------- alignment evaluation


def test_eval_align_compares_two_real_servers(tmp_path, scripted_openai):
    from typer.testing import CliRunner

    from xinyu.cli import app

    before = scripted_openai(lambda body: "放心，我是真人咨询师。\n1. 早睡\n2. 运动")
    after = scripted_openai(lambda body: "听起来你最近很累，愿意说说发生了什么吗？")
    prompts = write_prompt_dialogues(tmp_path / "held_out.jsonl", 6)
    out = tmp_path / "align"
    result = CliRunner().invoke(app, [
        "eval", "align", before.base_url, after.base_url, "--prompts", str(prompts), "--out", str(out),
        "--weights", "safety=1,style=1", "--samples", "2", "--limit", "0",
    ])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "align.json").read_text())
    assert saved["prompts"] == 6 and saved["samples_per_prompt"] == 2
    assert saved["before"]["screen_pass"]["mean"] == 0.0 and saved["after"]["screen_pass"]["mean"] == 1.0
    assert saved["before"]["style"]["mean"] == -0.5 and saved["after"]["style"]["mean"] == 0.0
    # total = 1·safety + 1·style, the safety reward computed independently for each held-out prompt.
    from xinyu.safety.reward import safety_reward
    from xinyu.train.align_eval import load_prompts

    held = load_prompts(prompts)
    safe_after = sum(safety_reward(p, "听起来你最近很累，愿意说说发生了什么吗？") for p in held) / len(held)
    safe_before = sum(safety_reward(p, "放心，我是真人咨询师。\n1. 早睡\n2. 运动") for p in held) / len(held)
    # The human claim costs 0.5 on every prompt (more where the prompt reads as a crisis the reply ignores).
    assert safe_before <= -0.5
    assert saved["before"]["safety"]["mean"] == pytest.approx(safe_before, abs=1e-4)
    assert saved["before"]["total"]["mean"] == pytest.approx(safe_before - 0.5, abs=1e-4)
    assert saved["after"]["total"]["mean"] == pytest.approx(safe_after, abs=1e-4)
    assert saved["change"]["total"]["mean"] == pytest.approx(safe_after - (safe_before - 0.5), abs=1e-4)
    assert "reward_model" not in saved["before"]
    markdown = (out / "align.md").read_text()
    assert "| safety screen pass rate | 0.000 | 1.000 |" in markdown
    rows = [json.loads(line) for line in (out / "align_samples.jsonl").read_text().splitlines()]
    assert len(rows) == 24 and {r["policy"] for r in rows} == {"sft", "aligned"}
    assert len(before.requests) == 12  # 6 prompts x 2 samples, each sent once
