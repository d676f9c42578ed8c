"""Cleaning rules: each one does its job, is counted, and can be switched off."""

from __future__ import annotations

import pytest

from xinyu.data.clean import CleanConfig, Cleaner, strip_role_prefix
from xinyu.data.normalize import normalize_punctuation, normalize_whitespace
from xinyu.data.schema import Dialogue, dialogue_problems

ALL_OFF = {
    "normalize_whitespace": False,
    "normalize_punctuation": False,
    "strip_role_prefixes": False,
    "redact_pii": False,
    "drop_empty_turns": False,
    "merge_same_role": False,
    "drop_leading_assistant": False,
    "drop_trailing_user": False,
    "exact_dedup": False,
    "near_dedup": False,
}


def D(i, *turns, system=None, meta=None):
    messages = [{"role": "system", "content": system}] if system else []
    roles = {"u": "user", "a": "assistant"}
    messages += [{"role": roles[r], "content": c} for r, c in turns]
    return Dialogue(id=i, source="t", messages=messages, meta=meta or {})


def clean_one(d, **cfg):
    cleaner = Cleaner(CleanConfig(**cfg))
    return cleaner.clean(d), cleaner.report


def only(rule, **extra):
    return {**ALL_OFF, rule: True, **extra}


def test_whitespace_rule_and_switch():
    d = D("1", ("u", "  我很难过\r\n\r\n\r\n\r\n不知道怎么办 。 "), ("a", "我\u200b在这里\t听你说。"))
    out, rep = clean_one(d, **only("normalize_whitespace"))
    assert out.messages[0]["content"] == "我很难过\n\n不知道怎么办。"
    assert out.messages[1]["content"] == "我在这里 听你说。"
    assert rep.rules["normalize_whitespace"] == 2
    out, rep = clean_one(d, **ALL_OFF)
    assert out.messages[0]["content"] == d.messages[0]["content"] and rep.rules["normalize_whitespace"] == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("我很好,谢谢你!你呢?", "我很好，谢谢你！你呢？"),
        ("情绪:很差;睡眠:不好", "情绪：很差；睡眠：不好"),
        ("我知道了...", "我知道了……"),
        ("然后走了.", "然后走了。"),
        ("(微笑)我懂", "（微笑）我懂"),
        ("ＡＢＣ１２３你好", "ABC123你好"),
        ("价格3,000元,折扣3.5折", "价格3,000元，折扣3.5折"),  # digits keep ASCII punctuation
        ("OK, fine. 好的", "OK, fine. 好的"),
        ("英文(hello)保持", "英文(hello)保持"),
        ("他说“好”,然后", "他说“好”，然后"),
        ("好, 谢谢", "好，谢谢"),
    ],
)
def test_punctuation_rules(raw, expected):
    assert normalize_punctuation(normalize_whitespace(raw)) == expected


def test_punctuation_rule_counted_and_switchable():
    d = D("1", ("u", "你好,我很累"), ("a", "辛苦了!"))
    out, rep = clean_one(d, **only("normalize_punctuation"))
    assert [m["content"] for m in out.messages] == ["你好，我很累", "辛苦了！"] and rep.rules[
        "normalize_punctuation"
    ] == 2
    out, _ = clean_one(d, **ALL_OFF)
    assert out.messages[0]["content"] == "你好,我很累"


def test_nfkc_is_not_applied_to_chinese_punctuation():
    text = "你好，我很累。（叹气）真的吗？"
    assert normalize_punctuation(normalize_whitespace(text)) == text


@pytest.mark.parametrize(
    "prefix",
    [
        "求助者：",
        "来访者：",
        "咨询师：",
        "心理咨询师：",
        "支持者：",
        "用户：",
        "助手：",
        "医生：",
        "来访者:",
        " 求助者： ",
    ],
)
def test_role_prefixes_stripped(prefix):
    assert strip_role_prefix(prefix + "我睡不着。") == "我睡不着。"


def test_role_prefix_rule_counted_and_switchable():
    d = D(
        "1",
        ("u", "求助者：我总觉得自己不够好。"),
        ("a", "咨询师：谢谢你说出来。"),
        ("u", "医生，我还能好吗？"),
        ("a", "会的。"),
    )
    out, rep = clean_one(d, **only("strip_role_prefixes"))
    assert [m["content"] for m in out.messages][:3] == [
        "我总觉得自己不够好。",
        "谢谢你说出来。",
        "医生，我还能好吗？",
    ]
    assert rep.rules["strip_role_prefixes"] == 2
    out, _ = clean_one(d, **ALL_OFF)
    assert out.messages[0]["content"].startswith("求助者：")


def test_pii_rule_counted_per_kind_and_switchable():
    d = D("1", ("u", "我的电话13812345678，邮箱a@b.com"), ("a", "收到，请拨打12356热线。"))
    out, rep = clean_one(d, **only("redact_pii"))
    assert out.messages[0]["content"] == "我的电话[电话]，邮箱[邮箱]"
    assert out.messages[1]["content"] == "收到，请拨打12356热线。"
    assert rep.rules["redact_pii"] == 1 and rep.pii == {"mobile": 1, "email": 1}
    out, _ = clean_one(d, **ALL_OFF)
    assert "13812345678" in out.messages[0]["content"]


def test_empty_turns_then_merge_same_role():
    d = D("1", ("u", "第一句"), ("a", "回应"), ("u", "补充一"), ("a", "  "), ("u", "补充二"), ("a", "再回应"))
    out, rep = clean_one(d, **only("drop_empty_turns", merge_same_role=True))
    assert [(m["role"], m["content"]) for m in out.messages] == [
        ("user", "第一句"),
        ("assistant", "回应"),
        ("user", "补充一\n补充二"),
        ("assistant", "再回应"),
    ]
    assert rep.rules["drop_empty_turns"] == 1 and rep.rules["merge_same_role"] == 1


def test_without_merge_adjacent_roles_make_the_dialogue_invalid():
    d = D("1", ("u", "一"), ("u", "二"), ("a", "三"))
    out, rep = clean_one(d, **ALL_OFF)
    assert out is None and rep.dropped["not_alternating"] == 1 and rep.dropped_ids["not_alternating"] == ["1"]
    out, rep = clean_one(d, **only("merge_same_role"))
    assert out.messages[0]["content"] == "一\n二" and rep.rules["merge_same_role"] == 1


def test_leading_assistant_and_trailing_user():
    d = D("1", ("a", "你好，我是咨询师。"), ("u", "你好"), ("a", "请说"), ("u", "我走了"), system="系统提示")
    out, rep = clean_one(d, **only("drop_leading_assistant", drop_trailing_user=True))
    assert [m["role"] for m in out.messages] == ["system", "user", "assistant"]
    assert rep.rules["drop_leading_assistant"] == 1 and rep.rules["drop_trailing_user"] == 1
    out, rep = clean_one(d, **ALL_OFF)
    assert out is None and rep.dropped["not_alternating"] == 1


def test_drop_system_rule():
    d = D("1", ("u", "你好"), ("a", "你好"), system="你是EmoLLM")
    out, rep = clean_one(d, **only("drop_system"))
    assert out.messages[0]["role"] == "user" and rep.rules["drop_system"] == 1
    out, _ = clean_one(d, **ALL_OFF)
    assert out.messages[0]["role"] == "system"


def test_invalid_dialogues_dropped_with_reasons():
    cleaner = Cleaner(CleanConfig(near_dedup=False))
    assert cleaner.clean(D("empty")) is None
    assert cleaner.clean(D("blank", ("u", "  "), ("a", ""))) is None
    assert cleaner.clean(D("monologue", ("u", "只有我在说"))) is None
    assert cleaner.clean(D("assistant-only", ("a", "只有回答"))) is None
    assert cleaner.report.dropped == {"empty": 2, "no_exchange": 2}
    assert cleaner.report.dropped_ids["no_exchange"] == ["monologue", "assistant-only"]


def test_exact_duplicates_ignore_whitespace_punctuation_and_system():
    cleaner = Cleaner(CleanConfig(near_dedup=False))
    a = D("a", ("u", "我很焦虑。"), ("a", "能说说吗？"))
    b = D("b", ("u", "我很焦虑"), ("a", "能 说说吗"), system="另一个系统提示")
    c = D("c", ("u", "我很焦虑"), ("a", "换一个回答"))
    kept = [d.id for d in cleaner.run([a, b, c])]
    assert kept == ["a", "c"] and cleaner.report.dropped["exact_duplicate"] == 1
    cleaner = Cleaner(CleanConfig(near_dedup=False, exact_dedup=False))
    assert [d.id for d in cleaner.run([a, b, c])] == ["a", "b", "c"]


LONG = (
    "最近工作压力很大，每天加班到很晚，回家以后也睡不好，总觉得自己做什么都不够好，"
    "领导说一句话我就会反复想很久，周末也提不起精神出门，朋友约我我也总是推掉。"
)
REPLY = (
    "听起来你已经独自扛了很久，这种持续的压力会慢慢消耗一个人的精力。你愿意说说最近哪一件事让你最难受吗？"
    "我们可以先从那里开始，一起看看有哪些部分是你可以掌控的。"
)


def test_near_duplicates_dropped_or_grouped():
    a = D("a", ("u", LONG), ("a", REPLY))
    b = D("b", ("u", LONG.replace("很晚", "十点")), ("a", REPLY))  # a small edit
    c = D("c", ("u", "我和父母关系不好，经常吵架。"), ("a", "家里的争吵一定让你很累，通常是因为什么事情呢？"))
    cleaner = Cleaner(CleanConfig())
    assert [d.id for d in cleaner.run([a, b, c])] == ["a", "c"]
    assert cleaner.report.dropped["near_duplicate"] == 1 and cleaner.report.near_duplicate_of == {"b": "a"}
    cleaner = Cleaner(CleanConfig(near_dup_action="group"))
    kept = list(cleaner.run([a, b, c]))
    assert [d.id for d in kept] == ["a", "b", "c"] and kept[1].meta["dup_group"] == "a"
    assert "dup_group" not in kept[2].meta
    cleaner = Cleaner(CleanConfig(near_dedup=False))
    assert len(list(cleaner.run([a, b, c]))) == 3


def test_everything_kept_is_strictly_valid():
    dialogues = [
        D("1", ("a", "开场"), ("u", "求助者：你好"), ("u", ""), ("a", "在的"), ("a", "请说"), ("u", "再见")),
        D("2", ("u", "来访者:我睡不着,怎么办?"), ("a", "心理咨询师：先说说情况")),
    ]
    cleaner = Cleaner()
    kept = list(cleaner.run(dialogues))
    assert len(kept) == 2
    for d in kept:
        assert dialogue_problems(d.messages, strict=True) == []
    assert kept[1].messages[0]["content"] == "我睡不着，怎么办？"
    report = cleaner.report.to_dict()
    assert report["seen"] == 2 and report["kept"] == 2 and report["dropped_total"] == 0


def test_clean_config_rejects_unknown_keys():
    from xinyu.config import validate
    from xinyu.errors import ConfigError

    with pytest.raises(ConfigError, match="normalise_whitespace: unknown key"):
        validate(CleanConfig, {"normalise_whitespace": False})
