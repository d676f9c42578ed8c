"""The lexical layer: the bundled model, its combination with the rules, training, and held-out quality."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from xinyu.cli import app
from xinyu.safety import Level, assess
from xinyu.safety import evaluate as ev
from xinyu.safety.config import SafetyConfig
from xinyu.safety.lexical import (
    COMBINER_INPUTS,
    Combiner,
    LexicalModel,
    LexicalPrediction,
    apply_lexical,
    features,
    load_lexical,
)
from xinyu.safety.types import Category, Evidence, RiskAssessment

from .test_rules import IDIOMS, RISK


@pytest.mark.parametrize(("text", "level"), RISK)
def test_default_pipeline_keeps_every_rule_crisis(text, level):
    assert assess(text).level.value == level


@pytest.mark.parametrize("text", IDIOMS)
def test_default_pipeline_keeps_idioms_out_of_crisis(text):
    assert assess(text).level is not Level.CRISIS


@pytest.mark.parametrize(
    "text",
    [
        # New phrasing (written for this test) that no rule names: the model has to generalise.
        "每天都在想，要是睡着以后不用再醒来该多好",
        "感觉我就是全家的拖油瓶，我不在了他们反而轻松",
        "我把游戏账号和存的钱都留给表弟了，以后也用不上",
        "手腕上的口子又多了两道，穿短袖都不敢",
    ],
)
def test_model_catches_new_phrasing_the_rules_miss(text):
    rules_only = assess(text, config=SafetyConfig(layers=["rules"]))
    full = assess(text)
    assert full.level is Level.CRISIS
    assert "lexical" in full.layers
    assert rules_only.level is not Level.CRISIS or "lexical" in full.layers


def test_features_mask_idioms_and_separate_history():
    feats = features("亲爱的想死你了", ["我好累"])
    assert "c:想死" not in feats and "c:□" in feats
    assert any(f.startswith("h:") for f in feats) and any(f.startswith("w:") for f in feats)


def _risk(level, imminent=False, rule="ideation.want_die", turn=0):
    risk = RiskAssessment(level=level, imminent=imminent, categories={Category.SUICIDE} if level is Level.CRISIS else set())
    if level is not Level.NONE:
        risk.evidence.append(Evidence(0, 2, "xx", rule, turn))
    return risk


def _prediction(crisis: float, imminent: float = 0.0):
    rest = 1.0 - crisis
    return LexicalPrediction({"none": rest / 2, "distress": rest / 2, "crisis": crisis}, imminent,
                             {"suicide": 0.9, "self_harm": 0.1, "harm_others": 0.1, "abuse": 0.1})


# A combiner that follows the model's log P(crisis) only: easy to reason about in tests.
FOLLOW_MODEL = Combiner(coef=[0, 0, 1.0, 0, 0, 0, 0, 0], intercept=1.0, imminent_coef=[0, 0, 0, 1.0, 0, 0, 0, 0],
                        imminent_intercept=0.0, threshold=0.5, distress_threshold=0.5)


def test_combiner_raises_and_marks_imminence():
    risk = _risk(Level.NONE)
    apply_lexical(_prediction(0.9, imminent=0.95), FOLLOW_MODEL, risk, "t")
    assert risk.level is Level.CRISIS and risk.imminent and Category.SUICIDE in risk.categories
    assert risk.layers[-1] == "lexical"


def test_combiner_lowers_a_benign_rule_crisis_to_distress_only():
    risk = _risk(Level.CRISIS)
    apply_lexical(_prediction(0.05), FOLLOW_MODEL, risk, "t")
    assert risk.level is Level.DISTRESS and "lexical:lowered" in risk.layers


@pytest.mark.parametrize(
    "risk",
    [_risk(Level.CRISIS, imminent=True), _risk(Level.CRISIS, rule="method.dose"), _risk(Level.CRISIS, turn=-1)],
    ids=["imminent", "method", "history"],
)
def test_combiner_never_lowers_protected_crises(risk):
    apply_lexical(_prediction(0.01), FOLLOW_MODEL, risk, "t")
    assert risk.level is Level.CRISIS


def test_bundled_model_round_trips(tmp_path):
    model = load_lexical()
    assert model.meta["combiner"] and len(model.meta["combiner"]["coef"]) == len(COMBINER_INPUTS)
    assert model.meta["n_independent"] >= 3000
    path = model.save(tmp_path / "m.npz")
    again = LexicalModel.load(path)
    text = "我想从天台跳下去"
    assert np.allclose(again.logits(text), model.logits(text), atol=1e-3)


def test_training_learns_a_separable_toy_task():
    pytest.importorskip("sklearn")
    from xinyu.safety.lexical_train import fit_model

    crisis = ["我想消失永远不回来", "活着没意思想结束", "不想再活了真的", "想离开这个世界了"]
    benign = ["今天天气很好", "明天去爬山吧", "晚饭吃什么呢", "这本书很好看"]
    records = [{"text": t, "level": "crisis", "imminent": False, "categories": ["suicide"]} for t in crisis * 3]
    records += [{"text": t, "level": "none", "imminent": False, "categories": []} for t in benign * 3]
    model = fit_model(records, c=10.0, min_df=1)
    assert model.predict("活着没意思").crisis > 0.5 > model.predict("天气很好").crisis


def test_bad_training_file_names_the_line(tmp_path):
    from xinyu.errors import DataError
    from xinyu.safety.lexical_train import load_labelled

    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "level": "none"}\n{"text": "b", "level": "high"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2.*level"):
        load_labelled(path)


@pytest.fixture(scope="module")
def held_out():
    files = [str(ev.bundled(name)) for name in ev.BUNDLED_SETS if ev.bundled(name).is_file()]
    result = CliRunner().invoke(app, ["safety", "eval", *files, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["sets"]


def test_held_out_sets_are_never_training_data():
    meta = load_lexical().meta
    assert not set(meta["train_files"]) & {f"{name}.jsonl" for name in ev.BUNDLED_SETS}


# Measured levels of the bundled model (docs/safety.md): a regression guard, not the targets,
# which the default pipeline does not reach on text it has never seen. The rule layer alone stays far
# below on every held-out set.
GUARD = {  # set: (crisis recall, imminent recall, false crisis on none-labelled turns or None)
    "dev": (0.95, 0.85, 0.06),
    "blind": (0.90, 0.80, 0.06),
    "final": (0.93, 0.85, 0.08),
    "unseen": (0.93, 0.95, None),  # its 26 none items are adversarial minimal pairs of crisis items
}


@pytest.mark.parametrize("name", sorted(GUARD))
def test_default_pipeline_on_held_out_sets(held_out, name):
    recall, imminent, false_none = GUARD[name]
    full, rules = held_out[name]["rules+lexical"], held_out[name]["rules"]
    assert full["crisis_recall"] >= recall > rules["crisis_recall"]
    assert full["imminent_recall"] >= imminent
    if false_none is not None:
        assert full["false_crisis_rate_on_none"] <= false_none
