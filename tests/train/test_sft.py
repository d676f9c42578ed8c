"""SFT stages on a tiny random Gemma-3: what each tuning method changes, continuation, resume, records."""

from __future__ import annotations

import json

import pytest
import torch

from tests.train.conftest import ASSISTANT_LINES, USER_LINES, tiny_recipe
from xinyu.errors import XinyuError
from xinyu.train.config import validate_recipe
from xinyu.train.pipeline import run_recipe
from xinyu.train.stages import StageContext


def _setup(tmp_path, small_model_dir, dialogue_files, **top):
    from xinyu.train.sft import prepare_sft

    recipe = validate_recipe(tiny_recipe(tmp_path, small_model_dir, dialogue_files, **top))
    stage = recipe.stages[1]
    ctx = StageContext(recipe=recipe, index=1, run_dir=tmp_path / "run", stage_dir=tmp_path / "run" / "s")
    return prepare_sft(stage, ctx)


def _snapshot(model):
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("checkpointing", [False, True])
def test_lora_trains_the_adapter_and_nothing_else(tmp_path, small_model_dir, dialogue_files, checkpointing):
    setup = _setup(tmp_path, small_model_dir, dialogue_files, defaults={
        **tiny_recipe(tmp_path, small_model_dir, dialogue_files)["defaults"], "gradient_checkpointing": checkpointing})
    model = setup.trainer.model
    before = _snapshot(model)
    setup.trainer.train()
    after = _snapshot(model)
    lora = [n for n in before if "lora_" in n]
    assert lora and setup.trainable_params == sum(before[n].numel() for n in lora)
    for name in before:
        changed = not torch.equal(before[name], after[name])
        if "lora_B" in name:  # B starts at zero, so A moves from the second step on; B from the first
            assert changed, f"trainable {name} did not change"
        elif "lora_" not in name:
            assert not changed, f"frozen {name} changed"
    assert any(not torch.equal(before[n], after[n]) for n in lora if "lora_A" in n)


def test_full_fine_tuning_changes_every_weight(tmp_path, small_model_dir, dialogue_files):
    setup = _setup(tmp_path, small_model_dir, dialogue_files, method="full")
    model = setup.trainer.model
    before = _snapshot(model)
    setup.trainer.train()
    after = _snapshot(model)
    assert setup.trainable_params == setup.total_params
    unchanged = [n for n in before if torch.equal(before[n], after[n])]
    assert not unchanged


def test_qlora_needs_cuda(tmp_path, small_model_dir, dialogue_files):
    from xinyu.train.sft import build_model

    recipe = validate_recipe(tiny_recipe(tmp_path, small_model_dir, dialogue_files, method="qlora", device="cpu"))
    with pytest.raises(XinyuError, match=r"needs a CUDA GPU.*LoRA \(method: lora\) on CPU"):
        build_model(recipe, None, seed=0)


def test_packing_gives_the_same_loss(tmp_path, small_model_dir, dialogue_files):
    """Packed rows (block-diagonal attention from position ids) score like separate, padded sequences."""
    padded = _setup(tmp_path / "a", small_model_dir, dialogue_files)
    packed = _setup(tmp_path / "b", small_model_dir, dialogue_files,
                    defaults={"max_length": 128, "packing": True, "batch_size": 2})
    trainer = packed.trainer
    batch = next(iter(trainer.get_train_dataloader()))
    assert "attention_mask" not in batch and batch["input_ids"].shape[0] == 1
    model = trainer.model.eval()
    padded.trainer.model.load_state_dict(model.state_dict())
    with torch.no_grad():
        got = trainer.compute_loss(model, dict(batch))
        # The same dialogues one by one through the padded model.
        lengths = torch.diff(torch.cat([torch.nonzero(batch["position_ids"][0] == 0).flatten(),
                                        torch.tensor([batch["input_ids"].shape[1]])]))
        total, count = 0.0, 0
        for ids, labels in zip(batch["input_ids"][0].split(lengths.tolist()),
                               batch["labels"][0].split(lengths.tolist()), strict=True):
            out = padded.trainer.model(input_ids=ids[None], attention_mask=torch.ones_like(ids)[None],
                                       labels=labels[None], xinyu_labelled_loss=True)
            total, count = total + float(out.loss_sum), count + int(out.num_labels)
    assert len(lengths) >= 2
    assert abs(float(got) - total / count) < 1e-5


def test_two_stages_continue_one_adapter(tmp_path, small_model_dir, dialogue_files, monkeypatch):
    from safetensors.torch import load_file

    import xinyu.train.sft as sft

    started = []
    original = sft.build_model

    def spy(recipe, init_from, seed, gradient_checkpointing=False):
        model, tok = original(recipe, init_from, seed, gradient_checkpointing)
        started.append({k: v.detach().clone() for k, v in model.named_parameters() if "lora_" in k})
        return model, tok

    monkeypatch.setattr(sft, "build_model", spy)
    run_dir = run_recipe(validate_recipe(tiny_recipe(tmp_path, small_model_dir, dialogue_files)))
    first = load_file(run_dir / "stages" / "self_cognition" / "adapter" / "adapter_model.safetensors")
    assert len(started) == 2
    stage2_start = {k.replace(".default", ""): v for k, v in started[1].items()}
    assert set(stage2_start) == set(first)
    for name, value in first.items():
        assert torch.equal(stage2_start[name], value), name
    assert any(v.abs().sum() > 0 for k, v in first.items() if "lora_B" in k)  # stage 1 really trained
    final = load_file(run_dir / "adapter" / "adapter_model.safetensors")
    assert any(not torch.equal(final[k], first[k]) for k in first)


def test_run_directory_and_rerun(tmp_path, small_model_dir, dialogue_files, caplog):
    from xinyu.models import resolve_model

    data = tiny_recipe(tmp_path, small_model_dir, dialogue_files)
    run_dir = run_recipe(validate_recipe(data))
    for name in ("config.yaml", "metrics.jsonl", "plots/loss.png", "model.json", "train_summary.json",
                 "summary.md", "adapter/adapter_model.safetensors",
                 "stages/self_cognition/adapter/adapter_config.json", "stages/counseling/adapter/adapter_config.json"):
        assert (run_dir / name).is_file(), name
    assert not (run_dir / "stages" / "counseling" / "checkpoints").exists()
    assert json.loads((run_dir / "model.json").read_text()) == {"path": "adapter", "base": str(small_model_dir)}
    resolved = resolve_model(str(run_dir))
    assert resolved.kind == "adapter" and resolved.base == str(small_model_dir)

    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train = [e for e in events if "loss" in e]
    assert {e["stage"] for e in train} == {"self_cognition", "counseling"}
    assert all({"stage", "step", "epoch", "lr", "tokens", "elapsed"} <= set(e) for e in train)
    assert any("eval_loss" in e for e in events if e["stage"] == "counseling")
    summary = json.loads((run_dir / "train_summary.json").read_text())
    stage = summary["stages"][1]
    for key in ("tokens", "tokens_per_s", "wall_s", "peak_rss_mb", "trainable_params", "total_params",
                "final_train_loss", "final_val_loss", "hyperparameters"):
        assert stage[key] is not None, key
    assert stage["hyperparameters"]["lr"] == 5e-3 and stage["steps"] == 4
    counseling = [e["loss"] for e in train if e["stage"] == "counseling"]
    assert counseling[-1] < counseling[0]  # the loss goes down

    # No dialogue text in any record.
    records = "".join((run_dir / n).read_text(encoding="utf-8") for n in
                      ("metrics.jsonl", "train_summary.json", "summary.md", "config.yaml"))
    assert not any(line[:6] in records for line in USER_LINES + ASSISTANT_LINES)

    # Rerun: both stages are skipped; a changed stage re-trains from there on.
    mtime = (run_dir / "stages" / "counseling" / "adapter" / "adapter_model.safetensors").stat().st_mtime_ns
    run_recipe(validate_recipe(data))
    summary = json.loads((run_dir / "train_summary.json").read_text())
    assert [s.get("skipped") for s in summary["stages"]] == [True, True]
    data["stages"][1]["lr"] = 1e-3
    run_recipe(validate_recipe(data))
    summary = json.loads((run_dir / "train_summary.json").read_text())
    assert [bool(s.get("skipped")) for s in summary["stages"]] == [True, False]
    assert summary["stages"][1]["hyperparameters"]["lr"] == 1e-3
    assert (run_dir / "stages" / "counseling" / "adapter" / "adapter_model.safetensors").stat().st_mtime_ns != mtime


def test_resume_and_determinism(tmp_path, small_model_dir, dialogue_files, monkeypatch):
    """An interrupted stage resumes from its checkpoint and ends exactly where an uninterrupted run does."""
    from safetensors.torch import load_file

    import xinyu.train.trainer as trainer_mod

    def recipe(name):
        data = tiny_recipe(tmp_path, small_model_dir, dialogue_files, name=name)
        data["stages"] = [{"name": "sft", "data": {"train": str(dialogue_files["train"])}, "max_steps": 4,
                           "save_steps": 2}]
        return validate_recipe(data)

    def losses(run_dir):
        events = map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
        return [(e["step"], e["loss"]) for e in events if "loss" in e]

    reference = run_recipe(recipe("straight"))
    first = losses(reference)
    again = run_recipe(recipe("straight"), fresh=True)  # same seed: the same losses, bit for bit
    assert losses(again) == first and len(first) == 4

    original = trainer_mod.MetricsRecorder.on_log

    def crash(self, args, state, control, logs=None, **kwargs):
        if state.global_step == 3:
            raise KeyboardInterrupt("simulated interruption")
        return original(self, args, state, control, logs=logs, **kwargs)

    monkeypatch.setattr(trainer_mod.MetricsRecorder, "on_log", crash)
    with pytest.raises(KeyboardInterrupt):
        run_recipe(recipe("interrupted"))
    monkeypatch.setattr(trainer_mod.MetricsRecorder, "on_log", original)
    resumed = run_recipe(recipe("interrupted"))
    summary = json.loads((resumed / "train_summary.json").read_text())
    assert summary["stages"][0]["resumed_from_step"] == 2
    assert [step for step, _ in losses(resumed)] == [1, 2, 3, 4]
    assert losses(resumed)[2:] == first[2:]  # the resumed steps reproduce the uninterrupted run
    a = load_file(reference / "adapter" / "adapter_model.safetensors")
    b = load_file(resumed / "adapter" / "adapter_model.safetensors")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6, msg=name)


def test_early_stopping_keeps_the_best_checkpoint(tmp_path, small_model_dir, dialogue_files):
    from safetensors.torch import load_file

    data = tiny_recipe(tmp_path, small_model_dir, dialogue_files, name="early")
    data["stages"] = [{"name": "sft", "data": {"train": str(dialogue_files["train"]), "val": str(dialogue_files["val"])},
                       "lr": 0.5, "scheduler": "constant", "max_steps": 30, "eval_steps": 1,
                       "early_stopping_patience": 2}]
    run_dir = run_recipe(validate_recipe({**data, "keep_checkpoints": True}))
    stage = json.loads((run_dir / "train_summary.json").read_text())["stages"][0]
    evals = [e["eval_loss"] for e in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
             if "eval_loss" in e]
    assert stage["steps"] < 30  # a learning rate this high makes the validation loss climb: training stops
    assert stage["final_val_loss"] == stage["best_val_loss"] == min(evals)
    best_step = 1 + evals.index(min(evals))
    best = load_file(run_dir / "stages" / "sft" / "checkpoints" / f"checkpoint-{best_step}" / "adapter_model.safetensors")
    final = load_file(run_dir / "adapter" / "adapter_model.safetensors")
    assert all(torch.equal(best[k], final[k]) for k in final)
