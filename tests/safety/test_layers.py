"""Optional layers: a classifier trained from a tiny random BERT, and an LLM judge over HTTP."""

from __future__ import annotations

import json
import time

import pytest

from xinyu.safety import Level
from xinyu.safety.config import ClassifierConfig, JudgeConfig, SafetyConfig
from xinyu.safety.crisis import Assessor

LABELLED = [("我想死", "crisis"), ("不想活了", "crisis"), ("今天天气很好", "none"), ("周末去爬山", "none"),
            ("最近压力很大", "distress"), ("心里好难受", "distress")] * 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_bert_dir):
    from xinyu.safety.train_classifier import train_classifier

    root = tmp_path_factory.mktemp("clf")
    data = root / "labelled.jsonl"
    data.write_text("\n".join(json.dumps({"text": t, "label": lab}, ensure_ascii=False) for t, lab in LABELLED) + "\n",
                    encoding="utf-8")
    return train_classifier(data, str(tiny_bert_dir), root / "out", epochs=1, batch_size=4, device="cpu")


def test_train_save_load_predict(trained):
    from xinyu.safety.classifier import ClassifierLayer
    from xinyu.safety.train_classifier import describe

    info = describe(trained)
    assert info["labels"] == ["none", "distress", "crisis"] and info["examples"] == len(LABELLED)
    assert (trained / "model.safetensors").is_file() and not (trained / "_trainer").exists()
    layer = ClassifierLayer.load(str(trained))
    probs = layer.predict("我想死")
    assert set(probs) == {"none", "distress", "crisis"} and sum(probs.values()) == pytest.approx(1.0, abs=1e-4)


def test_classifier_raises_the_level_and_is_recorded(trained):
    # Threshold 0: any crisis probability counts, so the (random) classifier must raise a benign turn.
    assessor = Assessor(SafetyConfig(layers=["rules", "classifier"],
                                     classifier=ClassifierConfig(path=str(trained), threshold=0.0)))
    risk = assessor.assess("今天天气很好")
    assert risk.level is Level.CRISIS and "classifier" in risk.layers
    assert any(e.rule.startswith("classifier:") for e in risk.evidence)
    # Threshold 1: it never overrides, and it never lowers what the rules found.
    strict = Assessor(SafetyConfig(layers=["rules", "classifier"],
                                   classifier=ClassifierConfig(path=str(trained), threshold=1.0)))
    assert strict.assess("今天天气很好").level is Level.NONE
    assert strict.assess("我想死").level is Level.CRISIS


def test_labelled_file_errors(tmp_path):
    from xinyu.errors import DataError
    from xinyu.safety.train_classifier import read_labelled

    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "a", "label": "none"}\n{"label": "crisis"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2.*text"):
        read_labelled(path)
    path = tmp_path / "x.csv"
    path.write_text("text,label\na,1\nb,0\n", encoding="utf-8")
    data = read_labelled(path)
    assert data.names == ["none", "crisis"] and data.labels == [1, 0]


def _judge(server, when="ambiguous", timeout=5.0):
    return Assessor(SafetyConfig(layers=["rules", "judge"], judge=JudgeConfig(
        base_url=server.base_url, model="scripted", timeout_s=timeout, max_retries=0, when=when)))


AMBIGUOUS = "我真的快撑不住了"  # a weak cue: distress by the rules, asked of the judge


def test_judge_raises_an_ambiguous_turn(scripted_openai):
    server = scripted_openai(lambda body: '{"level": "crisis", "imminent": false, "categories": ["suicide"]}')
    risk = _judge(server).assess(AMBIGUOUS, ["最近一直失眠"])
    assert risk.level is Level.CRISIS and risk.layers == ["rules", "judge"]
    sent = server.requests[0]["messages"][1]["content"]
    assert AMBIGUOUS in sent and "最近一直失眠" in sent
    assert server.requests[0]["temperature"] == 0


def test_judge_is_not_asked_about_clear_turns(scripted_openai):
    server = scripted_openai(lambda body: '{"level": "crisis", "imminent": true, "categories": []}')
    assessor = _judge(server)
    assert assessor.assess("今天天气真好").level is Level.NONE
    assert assessor.assess("我想死").layers == ["rules"]
    assert server.requests == []


@pytest.mark.parametrize("answer", ["I think this is a crisis.", '{"level": "panic"}', '{"level": "crisis", "imminent": "yes"}'])
def test_malformed_judge_answers_fall_back_to_rules(scripted_openai, answer):
    server = scripted_openai(lambda body: answer)
    risk = _judge(server).assess(AMBIGUOUS)
    assert risk.level is Level.DISTRESS and "judge:failed" in risk.layers


def test_http_error_and_timeout_fall_back_to_rules(scripted_openai):
    from tests.support.openai_server import ScriptedError

    def fail(body):
        raise ScriptedError(500)

    risk = _judge(scripted_openai(fail)).assess(AMBIGUOUS)
    assert risk.level is Level.DISTRESS and "judge:failed" in risk.layers

    def slow(body):
        time.sleep(2)
        return '{"level": "crisis", "imminent": false, "categories": []}'

    start = time.perf_counter()
    risk = _judge(scripted_openai(slow), timeout=0.5).assess(AMBIGUOUS)
    assert risk.level is Level.DISTRESS and "judge:failed" in risk.layers
    assert time.perf_counter() - start < 1.9


def test_judge_never_lowers(scripted_openai):
    server = scripted_openai(lambda body: '{"level": "none", "imminent": false, "categories": []}')
    assert _judge(server, when="always").assess(AMBIGUOUS).level is Level.DISTRESS


@pytest.fixture(scope="module")
def tiny_gemma_char(tmp_path_factory, tiny_bert_dir):
    """A tiny random Gemma-3 decoder with the tiny character tokenizer (exercises the linear-probe fast path)."""
    import torch
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    config = Gemma3TextConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=128,
                              sliding_window=64, layer_types=["sliding_attention", "full_attention"],
                              pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-gemma-char")
    Gemma3ForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.mark.parametrize("base_fixture", ["tiny_bert_dir", "tiny_gemma_char"])
def test_freeze_base_trains_only_the_head(request, tmp_path, base_fixture):
    import torch
    from safetensors.torch import load_file

    from xinyu.safety.train_classifier import describe, train_classifier

    base = request.getfixturevalue(base_fixture)
    data = tmp_path / "set.jsonl"  # the evaluation-set format: `level`, multi-turn rows skipped
    rows = [{"text": t, "level": lab, "history": []} for t, lab in LABELLED]
    rows.append({"text": "嗯", "level": "crisis", "history": ["我想死"]})
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out = train_classifier(data, str(base), tmp_path / "out", epochs=2, batch_size=4, learning_rate=1e-2,
                           device="cpu", freeze="base")
    assert describe(out)["examples"] == len(LABELLED) and describe(out)["freeze"] == "base"
    before = load_file(str(next(base.glob("*.safetensors"))))
    after = load_file(str(out / "model.safetensors"))
    frozen = [k for k in before if "embed" in k or "layers.0." in k or "layer.0." in k]
    assert frozen
    for key in frozen:
        match = next(k for k in after if k.endswith(key.split(".", 1)[1]) or k == key)
        assert torch.equal(before[key], after[match]), key
    head = [k for k in after if k.startswith(("score.", "classifier."))]
    assert head and all(after[k].abs().sum() > 0 for k in head)
