"""History: risk carries over a window of user turns and decays only on clear de-escalation."""

from __future__ import annotations

from xinyu.safety import Level, assess
from xinyu.safety.config import SafetyConfig
from xinyu.safety.crisis import Assessor


def test_risk_three_turns_ago_carries_over():
    risk = assess("嗯", ["我不想活了", "今天又失眠", "算了不说了"])
    assert risk.level is Level.CRISIS
    assert any(e.turn == -3 and e.start == -1 for e in risk.evidence)


def test_messages_format_and_plain_strings_agree():
    plain = assess("好吧", ["我想死"])
    messages = assess("好吧", [{"role": "user", "content": "我想死"}, {"role": "assistant", "content": "我在听。"}])
    assert plain.level is messages.level is Level.CRISIS


def test_risk_outside_the_window_is_forgotten():
    history = ["我想死"] + ["今天吃了面"] * 6
    assert assess("周末去哪玩", history).level is Level.NONE
    wide = Assessor(SafetyConfig(history_window=10))
    assert wide.assess("周末去哪玩", history).level is Level.CRISIS


def test_clear_deescalation_decays_to_distress_not_none():
    risk = assess("谢谢你，我现在冷静下来了，不会做傻事的", ["我想自杀"])
    assert risk.level is Level.DISTRESS
    assert "suicide" in {c.value for c in risk.categories}


def test_a_joke_retraction_is_not_deescalation():
    risk = assess("开玩笑的啦", ["我今晚就去死"])
    assert risk.level is Level.CRISIS and risk.imminent


def test_short_yes_to_a_direct_question_is_crisis():
    history = [{"role": "user", "content": "最近很难受"},
               {"role": "assistant", "content": "我想直接问你，你有没有想过结束自己的生命？"}]
    assert assess("有", history).level is Level.CRISIS
    assert assess("没有，就是累", history).level is not Level.CRISIS


def test_yes_to_a_plan_question_is_imminent():
    history = [{"role": "user", "content": "我想死"}, {"role": "assistant", "content": "谢谢你告诉我。你有具体的计划吗？"}]
    risk = assess("嗯", history)
    assert risk.level is Level.CRISIS and risk.imminent


def test_bad_history_item_names_the_record():
    import pytest

    from xinyu.errors import DataError

    with pytest.raises(DataError, match=r"record 1.*role"):
        assess("hi", ["ok", {"role": "bot", "content": "x"}])
