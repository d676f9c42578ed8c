"""Reward model stage on the tiny model, and the RL reward terms and their combination."""

from __future__ import annotations

import json
import math

import pytest

from tests.train.align_support import read_safetensors, short_pairs, write_pairs_file


@pytest.fixture(scope="module")
def rm_run(tiny_model_dir, tmp_path_factory):
    from xinyu.train.reward import train_reward_model

    out = tmp_path_factory.mktemp("rm")
    pairs = short_pairs(12)
    result = train_reward_model(
        str(tiny_model_dir), pairs[:8], out / "stage", val_pairs=pairs[8:], max_steps=4, batch_size=4,
        learning_rate=5e-3, lora_r=4, lora_alpha=8, logging_steps=1, seed=0, max_length=64,
    )
    return result


@pytest.fixture(scope="module")
def scorer(rm_run):
    from xinyu.train.reward import RewardScorer

    return RewardScorer(rm_run.output_dir)


def test_reward_model_trains_lora_and_head_only(rm_run, scorer):
    check = rm_run.metrics["parameter_check"]
    assert check["frozen_tensors"] > 0 and check["frozen_changed"] == 0
    assert check["trainable_tensors"] > 0 and check["trainable_changed"] == check["trainable_tensors"]
    weights = read_safetensors(rm_run.adapter_dir / "adapter_model.safetensors")
    assert any("score" in k for k in weights), "the score head is saved with the adapter (modules_to_save)"
    assert all(float(t.abs().sum()) > 0 for k, t in weights.items() if "lora_B" in k)  # moved away from 0
    assert scorer.model.config.pad_token_id == scorer.tokenizer.pad_token_id == 0


def test_reward_model_records(rm_run):
    stage = rm_run.output_dir
    pointer = json.loads((stage / "reward_model.json").read_text())
    assert pointer["kind"] == "reward_model" and pointer["adapter"] == "adapter"
    evaluation = json.loads((stage / "eval.json").read_text())
    assert evaluation["steps"] == 4 and evaluation["val_pairs"] == 4
    assert {"accuracy", "mean_margin", "score_mean", "score_std"} <= set(evaluation["val_after"])
    rows = [json.loads(line) for line in (stage / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]
    assert all(r["stage"] == "reward" and "accuracy" in r for r in rows if "loss" in r)
    assert (stage / "plots" / "reward_model.png").stat().st_size > 1000


def test_scorer_reproduces_pairwise_eval(rm_run, scorer):
    from xinyu.data.preference import PreferencePair
    from xinyu.train.reward import pairwise_eval

    pairs = [PreferencePair.from_dict(p) for p in short_pairs(12)[8:]]
    chosen = scorer.score_batch([p.messages + p.chosen for p in pairs])
    rejected = scorer.score_batch([p.messages + p.rejected for p in pairs])
    # Scores of the merged, reloaded model equal those measured right after training.
    summary = pairwise_eval(scorer.model, scorer.tokenizer, pairs)
    assert math.isclose(summary["mean_margin"], rm_run.metrics["val_after"]["mean_margin"], abs_tol=1e-3)
    assert summary["accuracy"] == rm_run.metrics["val_after"]["accuracy"]
    margins = [c - r for c, r in zip(chosen, rejected, strict=True)]
    assert summary["accuracy"] == pytest.approx(sum(m > 0 for m in margins) / len(margins))
    assert summary["mean_margin"] == pytest.approx(sum(margins) / len(margins), abs=1e-3)
    assert scorer.score(pairs[0].messages + pairs[0].chosen) == pytest.approx(chosen[0], abs=1e-5)
    with pytest.raises(Exception, match="last message must be the assistant reply"):
        scorer.score(pairs[0].messages)


def test_reward_model_term_standardises_with_held_out_stats(rm_run, scorer):
    from xinyu.train.rewards import RewardModelTerm

    term = RewardModelTerm(rm_run.output_dir, scorer=scorer)
    stats = rm_run.metrics["val_after"]
    assert (term.mean, term.std) == (stats["score_mean"], stats["score_std"])
    prompts = [[{"role": "user", "content": "我睡不着"}]] * 2
    completions = [[{"role": "assistant", "content": "多久了？"}], [{"role": "assistant", "content": "睡吧。"}]]
    raw = scorer.score_batch([p + c for p, c in zip(prompts, completions, strict=True)])
    assert term(prompts=prompts, completions=completions) == pytest.approx([(r - term.mean) / term.std for r in raw])


def test_reward_stage_files_name_their_problem(tmp_path, tiny_model_dir):
    from xinyu.errors import DataError
    from xinyu.train.reward import train_reward_model

    bad = write_pairs_file(tmp_path / "pairs.jsonl", 2)
    bad.write_text(bad.read_text().replace('"rejected"', '"rejekted"', 1), encoding="utf-8")
    with pytest.raises(DataError, match=r"line 1.*field 'rejected'"):
        train_reward_model(str(tiny_model_dir), bad, tmp_path / "out")


# ----------------------------------------------------------------------------------- reward terms


def test_style_score_cases():
    from xinyu.train.rewards import style_score

    assert style_score("听起来你最近真的很累，愿意多说说吗？") == 0.0
    assert style_score("以下是建议：\n1. 早睡\n2. 运动") == -0.5
    assert style_score("**坚持**下去，你一定可以的，加油加油！") == -0.25
    assert style_score("嗯。") == -0.5
    assert style_score("") == -1.0
    assert style_score("好" * 600, max_chars=300) == pytest.approx(-1.0)  # too long and a loop
    assert style_score("你好你好你好你好你好你好啊，今天还好吗") == -0.5


def test_combined_reward_is_the_weighted_sum_trl_computes():
    import torch

    from xinyu.train.rewards import build_reward_terms, combined_reward, safety, style_score, term_scores

    prompts = [[{"role": "user", "content": "我真的不想活了"}], [{"role": "user", "content": "今天有点累"}]] * 2
    replies = ["听起来你真的很痛苦，你现在安全吗？可以拨打心理援助热线12356。", "1. 睡觉\n2. 吃饭", "别想太多。", "辛苦了，今天发生了什么？"]
    completions = [[{"role": "assistant", "content": r}] for r in replies]
    funcs, weights = build_reward_terms({"safety": 2.0, "style": 0.5})
    assert [getattr(f, "__name__", "") for f in funcs] == ["safety", "style"] and weights == [2.0, 0.5]
    total = combined_reward(funcs, weights, prompts, completions)
    expected = [2.0 * s + 0.5 * style_score(r) for s, r in zip(safety(prompts, completions), replies, strict=True)]
    assert total == pytest.approx(expected)
    assert total[0] > total[2]  # the crisis reply with a referral beats the dismissive one
    # TRL's sum_then_normalize aggregation (GRPOTrainer._generate_and_score_completions) on the same scores.
    per_func = torch.tensor(list(term_scores(funcs, prompts, completions).values())).T
    trl_sum = (per_func * torch.tensor(weights).unsqueeze(0)).nansum(dim=1)
    assert trl_sum.tolist() == pytest.approx(total)


def test_terms_returning_none_are_left_out():
    from xinyu.train.rewards import combined_reward

    def half(prompts, completions, **kw):
        return [1.0, None]

    def always(prompts, completions, **kw):
        return [0.5, 0.5]

    def never(prompts, completions, **kw):
        return [None, None]

    assert combined_reward([half, always], [2.0, 1.0], ["a", "b"], ["x", "y"]) == [2.5, 0.5]
    assert math.isnan(combined_reward([never], [1.0], ["a", "b"], ["x", "y"])[0])


def test_reward_terms_config_errors():
    from xinyu.errors import ConfigError
    from xinyu.train.rewards import build_reward_terms

    with pytest.raises(ConfigError, match=r"reward_weights\.kindness: unknown reward term"):
        build_reward_terms({"kindness": 1.0})
    with pytest.raises(ConfigError, match="at least one term"):
        build_reward_terms({"safety": 0.0})
    with pytest.raises(ConfigError, match="path to a trained reward model"):
        build_reward_terms({"reward_model": 1.0})


def test_backbone_starts_from_the_merged_sft_adapter(tmp_path, tiny_model_dir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from tests.train.align_support import make_sft_adapter
    from xinyu.train.reward import load_classifier

    sft = make_sft_adapter(tiny_model_dir, tmp_path / "sft")
    classifier = load_classifier(str(tiny_model_dir), str(sft), "cpu")
    merged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(sft)).merge_and_unload()
    mine, reference = dict(classifier.named_parameters()), dict(merged.named_parameters())
    shared = [k for k in mine if k in reference]
    assert len(shared) == len(mine) - 1 and "score.weight" not in reference  # everything but the new head
    assert all(torch.equal(mine[k], reference[k]) for k in shared)
    base = dict(AutoModelForCausalLM.from_pretrained(tiny_model_dir).named_parameters())
    assert not torch.equal(mine["model.layers.0.self_attn.q_proj.weight"], base["model.layers.0.self_attn.q_proj.weight"])
