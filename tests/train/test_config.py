"""Recipes: shipped configs validate, overrides apply, every problem is reported with its key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from xinyu.errors import ConfigError
from xinyu.train.config import SFTStage, load_recipe, validate_recipe

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
RECIPES = sorted(CONFIGS.glob("*.yaml"))
SFT_RECIPES = ["demo"] + [f"{f}-{m}" for f in ("qwen2.5-7b", "internlm2.5-7b", "glm-4-9b") for m in ("lora", "qlora")]


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_shipped_recipe_validates(path):
    """Every recipe in configs/ (other stage types included) loads and validates, without a model."""
    assert load_recipe(path).stages


@pytest.mark.parametrize("name", SFT_RECIPES)
def test_sft_recipes(name):
    path = CONFIGS / f"{name}.yaml"
    recipe = load_recipe(path)
    assert all(isinstance(s, SFTStage) for s in recipe.stages)
    assert [s.name for s in recipe.stages] == ["self_cognition", "counseling"]
    head = path.read_text(encoding="utf-8").splitlines()[:8]
    assert any("xinyu train configs/" + path.name in line for line in head), "launch command at the top"
    if name != "demo":  # the documented HearMeGLM defaults
        assert (recipe.lora.r, recipe.lora.alpha, recipe.precision) == (8, 16, "bf16")
        for stage in recipe.stages:
            assert (stage.lr, stage.scheduler, stage.batch_size, stage.grad_accum) == (5e-5, "cosine", 4, 8)
            assert stage.optimizer.startswith("adamw")
        assert recipe.stages[-1].early_stopping_patience
        assert recipe.method == ("qlora" if path.stem.endswith("qlora") else "lora")


def test_accelerate_configs():
    acc = CONFIGS / "accelerate"
    for name, kind in (("ddp.yaml", "MULTI_GPU"), ("deepspeed_zero2.yaml", "DEEPSPEED"),
                       ("deepspeed_zero3.yaml", "DEEPSPEED")):
        cfg = yaml.safe_load((acc / name).read_text())
        assert cfg["distributed_type"] == kind
        if kind == "DEEPSPEED":
            ds_file = CONFIGS.parent / cfg["deepspeed_config"]["deepspeed_config_file"]
            stage = json.loads(ds_file.read_text())["zero_optimization"]["stage"]
            assert stage == (2 if "zero2" in name else 3)


def test_overrides_and_defaults(tmp_path):
    recipe = load_recipe(CONFIGS / "demo.yaml", ["stages.1.lr=2e-5", "lora.r=16", "defaults.batch_size=2"])
    assert recipe.lora.r == 16
    assert recipe.stages[1].lr == 2e-5 and recipe.stages[0].lr == 2e-4  # stage value beats the default
    assert all(s.batch_size == 2 for s in recipe.stages)
    assert recipe.stages[1].data.mix == {"persona": 0.25}


def test_every_problem_is_reported_with_its_key():
    data = {
        "name": "bad name!",
        "method": "prefix-tuning",
        "lorra": {},
        "defaults": {"lr": 1e-4, "learning_rate": 1e-4},
        "stages": [
            {"name": "a", "data": {"train": "x.jsonl", "weights": {}}, "epochs": 0},
            {"name": "b", "type": "ppo", "data": {"train": "y.jsonl"}},
            {"name": "c", "data": {"train": "z.jsonl"}, "early_stopping_patience": 2},
            {"name": "a", "data": {"train": "x.jsonl"}},
        ],
    }
    with pytest.raises(ConfigError) as info:
        validate_recipe(data, source="bad.yaml")
    problems = "\n".join(info.value.problems)
    for key in ("name:", "method:", "lorra: unknown key", "defaults.learning_rate: unknown key",
                "stages.0.data.weights: unknown key", "stages.0.epochs:", "stages.1.type: unknown stage type 'ppo'",
                "stages.2: early_stopping_patience needs validation data", "repeated: a"):
        assert key in problems, key
    assert "bad.yaml" in str(info.value)


def test_unknown_override_key_is_rejected():
    with pytest.raises(ConfigError, match=r"stages\.0\.learning_rate: unknown key"):
        load_recipe(CONFIGS / "demo.yaml", ["stages.0.learning_rate=1e-4"])
    with pytest.raises(ConfigError, match="not a valid list index"):
        load_recipe(CONFIGS / "demo.yaml", ["stages.7.lr=1e-4"])
