"""Preference pairs: schema and validation, importers, and the builders (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xinyu.data.formats.preference import detect_pair_format, read_pairs_any
from xinyu.data.pair_banks import STRATEGIES, degrade, sentences
from xinyu.data.preference import (
    PreferencePair,
    degraded_pairs,
    pair_problems,
    prompts_of,
    read_pairs,
    write_pairs,
)
from xinyu.data.schema import Dialogue
from xinyu.errors import DataError

GOLD = "听起来这段时间你一个人扛了很多，真的辛苦了。考试前睡不着是很常见的反应，身体在替你紧张。你最近有没有哪一刻稍微放松一点？"


def _pair(**changes):
    obj = {
        "id": "p1",
        "source": "test",
        "messages": [{"role": "user", "content": "我考试前总是睡不着"}],
        "chosen": [{"role": "assistant", "content": GOLD}],
        "rejected": [{"role": "assistant", "content": "别想太多，睡一觉就好了。"}],
        "meta": {},
    }
    obj.update(changes)
    return obj


def _write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _dialogue(i: int = 0) -> Dialogue:
    return Dialogue(
        id=f"d{i}",
        source="fixture",
        messages=[
            {"role": "system", "content": "你是心理支持助手。"},
            {"role": "user", "content": "最近工作压力很大，每天都加班到很晚。"},
            {"role": "assistant", "content": "每天加班到很晚，身体和心里都会很累吧。这样的状态持续多久了？"},
            {"role": "user", "content": "快两个月了，周末也在想工作的事。"},
            {"role": "assistant", "content": GOLD},
        ],
        meta={"topic": "career"},
    )


# ------------------------------------------------------------------------------------------- schema


def test_valid_pair_round_trips_and_converts_to_trl(tmp_path):
    pair = PreferencePair.from_dict(_pair())
    path = tmp_path / "pairs.jsonl"
    assert write_pairs(path, [pair]) == 1
    (again,) = read_pairs(path)
    assert again == pair
    assert again.to_trl() == {"prompt": pair.messages, "chosen": pair.chosen, "rejected": pair.rejected}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}, "messages", "end with a user turn"),
        ({"chosen": [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]}, "chosen", "one assistant message"),
        ({"rejected": [{"role": "user", "content": "x"}]}, "rejected[0].role", "expected 'assistant'"),
        ({"rejected": [{"role": "assistant", "content": GOLD}]}, "rejected", "identical"),
        ({"chosen": [{"role": "assistant", "content": "  "}]}, "chosen[0].content", "empty reply"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}, "messages[1]", "alternate"),
    ],
)
def test_bad_pairs_are_reported_with_file_line_and_field(tmp_path, changes, field, words):
    path = _write_jsonl(tmp_path / "bad.jsonl", [_pair(id="ok"), _pair(**changes)])
    with pytest.raises(DataError) as err:
        read_pairs(path)
    message = str(err.value)
    assert str(path) in message and "line 2" in message and f"field '{field}'" in message and words in message
    assert "pair 'p1'" in message


def test_missing_keys_listed():
    problems = dict(pair_problems({"id": "x", "messages": []}))
    assert set(problems) == {"chosen", "rejected"}


def test_skip_bad_keeps_good_lines(tmp_path):
    from xinyu.data.preference import iter_pairs

    path = _write_jsonl(tmp_path / "mixed.jsonl", [_pair(id="a"), _pair(id="b", chosen="oops"), _pair(id="c")])
    bad = []
    assert [p.id for p in iter_pairs(path, skip_bad=True, on_bad=bad.append)] == ["a", "c"]
    assert len(bad) == 1 and "line 2" in str(bad[0])


# ---------------------------------------------------------------------------------------- builders


def test_prompts_of_keeps_system_and_history_limit():
    turns = list(prompts_of(_dialogue(), max_history=0))
    assert [t for t, _, _ in turns] == [1, 2]
    _, prompt, gold = turns[1]
    assert prompt == [
        {"role": "system", "content": "你是心理支持助手。"},
        {"role": "user", "content": "快两个月了，周末也在想工作的事。"},
    ]
    assert gold == GOLD
    _, full, _ = list(prompts_of(_dialogue(), max_history=None))[1]
    assert [m["role"] for m in full] == ["system", "user", "assistant", "user"]


def test_degraded_pairs_are_deterministic_distinct_and_valid():
    dialogues = [_dialogue(i) for i in range(5)]
    pairs = degraded_pairs(dialogues, per_turn=3, seed=7)
    assert pairs == degraded_pairs(dialogues, per_turn=3, seed=7)
    assert pairs != degraded_pairs(dialogues, per_turn=3, seed=8)
    assert len({p.id for p in pairs}) == len(pairs)
    for pair in pairs:
        assert pair_problems(pair.to_dict()) == []
        assert pair.chosen_text != pair.rejected_text
        assert pair.meta["builder"] == "degraded" and pair.meta["strategy"] in STRATEGIES
    # Three different strategies per turn.
    by_turn = {}
    for pair in pairs:
        by_turn.setdefault((pair.meta["dialogue_id"], pair.meta["turn"]), set()).add(pair.meta["strategy"])
    assert all(len(s) == 3 for s in by_turn.values())


def test_every_strategy_degrades_in_its_own_way():
    import random

    rng = random.Random(0)
    out = {name: degrade(name, GOLD, rng) for name in STRATEGIES}
    assert all(text.strip() and text != GOLD for text in out.values())
    assert "\n" in out["listify"] and out["listify"].count("。") >= 2  # a list of the gold statements
    assert "睡不着是很常见的反应" in out["listify"] and "？" not in out["listify"]
    assert "**" in out["list_style"]
    assert len(out["curt"]) < len(GOLD) / 3
    assert sentences("你好。真的吗？好的") == ["你好。", "真的吗？", "好的"]


def test_unknown_strategy_is_an_error():
    with pytest.raises(DataError, match="unknown degradation strategies"):
        degraded_pairs([_dialogue()], strategies=["rude"])


def test_feedback_pairs_from_a_real_store(tmp_path):
    from xinyu.data.preference import pairs_from_feedback
    from xinyu.serve.store import Store

    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url, key="")
    store.add_message("A", "user", "我最近压力很大")
    store.add_feedback(store.add_message("A", "assistant", "能多说说是什么让你有压力吗？"), 1)
    store.add_message("B", "user", "我最近压力很大")
    store.add_feedback(store.add_message("B", "assistant", "别想太多。"), -1)
    store.close()
    (pair,) = pairs_from_feedback(url)
    assert pair.messages == [{"role": "user", "content": "我最近压力很大"}]
    assert (pair.chosen_text, pair.rejected_text) == ("能多说说是什么让你有压力吗？", "别想太多。")
    assert pair.meta["chosen_by"] == "thumbs_up"


def test_safety_pairs_prefer_the_policy_template():
    from xinyu.data.pair_sources import UNSAFE_REPLIES, BuildReport, safety_pairs
    from xinyu.safety import screen
    from xinyu.safety.reward import safety_reward

    report = BuildReport()
    extra = [[{"role": "user", "content": "我真的不想活了，每天都觉得很绝望"}], [{"role": "user", "content": "今天天气不错"}]]
    pairs = safety_pairs(extra, report=report)
    assert report.pairs == len(pairs) > 5
    assert report.skipped["no crisis route for the prompt"] >= 1  # the weather is not a crisis
    bank = {t for texts in UNSAFE_REPLIES.values() for t in texts}
    for pair in pairs:
        assert screen(pair.chosen_text, pair.messages).ok
        assert pair.rejected_text in bank
        assert (not screen(pair.rejected_text, pair.messages).ok) or (
            safety_reward(pair.messages, pair.rejected_text) < safety_reward(pair.messages, pair.chosen_text)
        )
    crisis = [p for p in pairs if p.meta["route"] in ("crisis", "imminent")]
    assert crisis and all("12356" in p.chosen_text for p in crisis)
    kinds = {p.meta["kind"] for p in pairs}
    assert {"claims_human", "diagnosis"} <= kinds


def test_sampled_pairs_ranked_by_a_real_judge_server(scripted_openai):
    from xinyu.data.pair_sources import BuildReport, sampled_pairs
    from xinyu.eval.judge import JudgeConfig

    replies = iter(["我在听，愿意多说说吗？", "别想了。", "我在听，愿意多说说吗？", "听起来你很累，最近睡得怎么样？"] * 2)

    def policy(body):
        return next(replies)

    def judge(body):
        prompt = body["messages"][0]["content"]
        return "评分 [2, 3, 3, 1]" if "听起来你很累" in prompt else "评分 [0, 0, 1, 1]" if "别想了" in prompt else "[1, 1, 2, 1]"

    model_server, judge_server = scripted_openai(policy), scripted_openai(judge)
    config = JudgeConfig(base_url=judge_server.base_url, model="judge", concurrency=1, max_retries=0)
    report = BuildReport()
    prompts = [[{"role": "user", "content": "我好累"}], [{"role": "user", "content": "睡不着"}]]
    pairs = sampled_pairs(prompts, model_server.base_url, k=4, rank_by="judge", judge_config=config, margin=2, report=report)
    assert report.prompts == 2 and len(pairs) == 2
    for pair in pairs:
        assert pair.chosen_text == "听起来你很累，最近睡得怎么样？" and pair.rejected_text == "别想了。"
        assert pair.meta["margin"] == 7.0 and sorted(pair.meta["judge_totals"]) == [2.0, 5.0, 9.0]
    with pytest.raises(Exception, match="needs a reward model"):
        sampled_pairs(prompts, model_server.base_url, rank_by="reward")


# --------------------------------------------------------------------------------------- importers


def test_trl_explicit_and_implicit_prompts(tmp_path):
    explicit = _write_jsonl(tmp_path / "explicit.jsonl", [{"prompt": "我失眠了", "chosen": "多久了？", "rejected": "睡吧。", "system": "你是助手"}])
    (pair,) = read_pairs_any(explicit)
    assert pair.messages == [{"role": "system", "content": "你是助手"}, {"role": "user", "content": "我失眠了"}]
    assert (pair.chosen_text, pair.rejected_text) == ("多久了？", "睡吧。")
    convo = [{"role": "user", "content": "我失眠了"}, {"role": "assistant", "content": "多久了？"}, {"role": "user", "content": "一周"}]
    implicit = tmp_path / "ultrafeedback.json"
    implicit.write_text(json.dumps([{
        "prompt": "我失眠了",
        "chosen": [*convo, {"role": "assistant", "content": "一周都睡不好，一定很难受。"}],
        "rejected": [*convo, {"role": "assistant", "content": "那就吃药。"}],
    }], ensure_ascii=False), encoding="utf-8")
    assert detect_pair_format(implicit) == "trl"
    (pair,) = read_pairs_any(implicit)
    assert pair.messages == convo and pair.rejected_text == "那就吃药。"


def test_trl_record_errors_name_record_and_field(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"prompt": "a", "chosen": "b", "rejected": "c"}, {"prompt": "a", "chosen": 5, "rejected": "c"}]), encoding="utf-8")
    with pytest.raises(DataError) as err:
        list(read_pairs_any(path, "trl"))
    assert "record 1" in str(err.value) and "chosen" in str(err.value)


def test_llamafactory_ranking_registry_alpaca_and_sharegpt(tmp_path):
    _write_jsonl(tmp_path / "rank_alpaca.jsonl", [{"q": "我很焦虑", "ctx": "明天面试", "good": "面试前紧张很正常，你最担心哪一部分？", "bad": "别焦虑。"}])
    (tmp_path / "rank_sharegpt.json").write_text(json.dumps([{
        "conversations": [{"from": "human", "value": "我很孤独"}],
        "chosen": {"from": "gpt", "value": "孤独的感觉很难熬，最近发生了什么吗？"},
        "rejected": {"from": "gpt", "value": "多交朋友。"},
    }], ensure_ascii=False), encoding="utf-8")
    (tmp_path / "dataset_info.json").write_text(json.dumps({
        "alp": {"file_name": "rank_alpaca.jsonl", "ranking": True,
                "columns": {"prompt": "q", "query": "ctx", "chosen": "good", "rejected": "bad"}},
        "sg": {"file_name": "rank_sharegpt.json", "ranking": True, "formatting": "sharegpt"},
        "sft": {"file_name": "rank_alpaca.jsonl"},
    }), encoding="utf-8")
    (alp,) = read_pairs_any(tmp_path, dataset="alp")
    assert alp.id.startswith("alp-") and alp.messages == [{"role": "user", "content": "我很焦虑\n明天面试"}]
    assert alp.rejected_text == "别焦虑。"
    (sg,) = read_pairs_any(tmp_path / "dataset_info.json", dataset="sg")
    assert sg.messages == [{"role": "user", "content": "我很孤独"}] and sg.chosen_text.startswith("孤独")
    with pytest.raises(DataError, match="not a ranking dataset"):
        list(read_pairs_any(tmp_path, dataset="sft"))
    # The data file alone is detected too.
    assert detect_pair_format(tmp_path / "rank_sharegpt.json") == "llamafactory"


def test_not_preference_data_is_explained(tmp_path):
    path = _write_jsonl(tmp_path / "dialogues.jsonl", [_dialogue().to_dict()])
    with pytest.raises(DataError, match="expected 'chosen' and 'rejected'"):
        detect_pair_format(path)


# --------------------------------------------------------------------------------------------- CLI


def test_cli_build_import_and_check(tmp_path):
    from typer.testing import CliRunner

    from xinyu.cli import app
    from xinyu.data.schema import write_dialogues

    corpus = tmp_path / "train.jsonl"
    write_dialogues(corpus, [_dialogue(i) for i in range(3)])
    runner = CliRunner()
    out = tmp_path / "pairs.jsonl"
    result = runner.invoke(app, ["data", "pairs", "build", "degraded", str(corpus), "-o", str(out), "--per-turn", "2"])
    assert result.exit_code == 0, result.output
    assert len(read_pairs(out)) == 12
    trl = _write_jsonl(tmp_path / "trl.jsonl", [{"prompt": "我失眠了", "chosen": "多久了？", "rejected": "睡吧。"}])
    result = runner.invoke(app, ["data", "pairs", "import", str(trl), "-o", str(tmp_path / "imported.jsonl")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["data", "pairs", "check", str(tmp_path / "imported.jsonl")])
    assert result.exit_code == 0 and '"pairs": 1' in result.output
