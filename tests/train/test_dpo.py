"""DPO stage on the tiny model, starting from an SFT adapter (reference: a frozen copy of it)."""

from __future__ import annotations

import json

import pytest

from tests.train.align_support import make_sft_adapter, read_safetensors, short_pairs

BETA = 0.5


@pytest.fixture(scope="module")
def dpo_run(tiny_model_dir, tmp_path_factory):
    from xinyu.train.dpo import train_dpo

    out = tmp_path_factory.mktemp("dpo")
    sft = make_sft_adapter(tiny_model_dir, out / "sft")
    pairs = short_pairs(8)
    result = train_dpo(
        str(sft), pairs[:4], out / "stage", val_pairs=pairs[4:], beta=BETA, max_steps=3, batch_size=2,
        learning_rate=2e-2, logging_steps=1, seed=0, max_length=64,
    )
    return sft, result


def test_dpo_trains_the_sft_adapter_against_a_frozen_copy(dpo_run, tiny_model_dir):
    sft, result = dpo_run
    assert result.metrics["reference"] == "frozen copy of the SFT adapter"
    check = result.metrics["parameter_check"]
    assert check["frozen_changed"] == 0 and check["trainable_changed"] == check["trainable_tensors"] > 0
    before = read_safetensors(sft / "adapter_model.safetensors")
    after = read_safetensors(result.adapter_dir / "adapter_model.safetensors")
    assert set(after) == set(before)  # the trained adapter only: TRL's "ref" copy is not saved
    assert all(not after[k].equal(before[k]) for k in before)
    config = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(tiny_model_dir.resolve())


def test_dpo_raises_the_held_out_margin(dpo_run):
    _, result = dpo_run
    val = result.metrics["val"]
    assert val["pairs"] == 4
    assert val["logp_margin_after"] > val["logp_margin_before"]
    # The implicit reward margin is β times the change of the log-prob margin (same pairs, same reference).
    change = val["logp_margin_after"] - val["logp_margin_before"]
    assert val["implicit_reward_margin"] == pytest.approx(BETA * change, abs=1e-3)
    rows = [json.loads(line) for line in (result.output_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "rewards/margins" in r] == [1, 2, 3]
    assert (result.output_dir / "plots" / "dpo.png").is_file()


def test_completion_logps_match_full_logits(tiny_model_dir):
    import torch

    from xinyu.models import load_model
    from xinyu.train.dpo import completion_logps

    model, tokenizer = load_model(str(tiny_model_dir))
    prompt = [{"role": "user", "content": "我睡不着"}]
    reply = "多久了？"
    prompt_ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    full = tokenizer.apply_chat_template([*prompt, {"role": "assistant", "content": reply}], tokenize=True, return_dict=True)["input_ids"]
    assert full[: len(prompt_ids)] == prompt_ids
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([full])).logits[0].float()
    logps = torch.log_softmax(logits[:-1], dim=-1)
    expected = sum(float(logps[i - 1, full[i]]) for i in range(len(prompt_ids), len(full)))
    assert completion_logps(model, tokenizer, prompt, reply) == pytest.approx(expected, abs=1e-3)


def test_margin_summary_formula():
    from xinyu.train.dpo import margin_summary

    before = [(-10.0, -8.0), (-5.0, -6.0)]
    after = [(-9.0, -9.0), (-4.0, -8.0)]
    out = margin_summary(before, after, beta=0.1)
    assert out["logp_margin_before"] == pytest.approx((-2 + 1) / 2)
    assert out["logp_margin_after"] == pytest.approx((0 + 4) / 2)
    assert out["implicit_reward_margin"] == pytest.approx(0.1 * ((1 + 1) + (1 + 2)) / 2)
    assert out["preference_accuracy_before"] == 0.5 and out["preference_accuracy_after"] == 0.5
    assert out["implicit_reward_accuracy"] == 1.0


def test_unknown_loss_type(tmp_path, tiny_model_dir):
    from xinyu.errors import XinyuError
    from xinyu.train.dpo import train_dpo

    with pytest.raises(XinyuError, match="unknown DPO loss_type 'kto'"):
        train_dpo(str(tiny_model_dir), short_pairs(2), tmp_path, loss_type="kto")


def test_pair_prompts_get_the_stage_system_prompt(tmp_path):
    from tests.train.align_support import write_pairs_file
    from xinyu.serve.persona import DEFAULT_PERSONA
    from xinyu.train.align_stages import DPOStage, _split_pairs

    pairs = str(write_pairs_file(tmp_path / "pairs.jsonl"))
    stage = DPOStage(name="dpo", data={"train": pairs, "val": pairs, "system": "persona"})
    train, val = _split_pairs(stage, seed=0)
    assert len(train) == 12 and len(val) == 12
    assert all(p.messages[0] == {"role": "system", "content": DEFAULT_PERSONA} for p in (*train, *val))
    assert all(p.messages[1]["role"] == "user" for p in train)
