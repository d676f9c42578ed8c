"""The rule layer on its own: real risk vs idioms, negation, third person, imminence, evidence spans.

The default pipeline (rules + lexical model) is tested in test_lexical.py on these same tables.
"""

from __future__ import annotations

import pytest

from xinyu.safety import Level
from xinyu.safety import assess as assess_any
from xinyu.safety.config import SafetyConfig
from xinyu.safety.normalize import normalize

RULES_ONLY = SafetyConfig(layers=["rules"])


def assess(text, history=None):
    """The rule layer alone."""
    return assess_any(text, history, config=RULES_ONLY)


# (text, expected level) — phrasings written for these tests, not copied from the bundled sets.
RISK = [
    ("我真的想死了", "crisis"),
    ("我不想再活下去了", "crisis"),
    ("活着一点意思都没有", "crisis"),
    ("好想一了百了", "crisis"),
    ("死了就解脱了吧", "crisis"),
    ("想从这个世界上永远消失", "crisis"),
    ("打算结束自己的生命", "crisis"),
    ("我想跳楼", "crisis"),
    ("想去上吊", "crisis"),
    ("又开始割腕了", "crisis"),
    ("想烧炭", "crisis"),
    ("遗书我都想好了", "crisis"),
    ("我把猫托付给了朋友，东西都送人了", "crisis"),
    ("好想zs", "crisis"),
    ("想自s了", "crisis"),
    ("i want to kill myself tonight", "crisis"),
    ("我 真的 want to die", "crisis"),
    ("想死🪦", "crisis"),
    ("我想自 杀", "crisis"),
    ("我又用刀划自己了", "crisis"),
    ("我想杀了我老板", "crisis"),
    ("我老公天天打我", "crisis"),
    ("吃几片安眠药会死", "crisis"),
]
IDIOMS = [
    "笑死我了哈哈哈",
    "今天热死了",
    "这个月累死了",
    "吓死宝宝了",
    "亲爱的想死你了",
    "电影终于杀青了",
    "我下个月跳槽",
    "第一次跳伞好紧张",
    "中午吃刀削面",
    "电脑死机了",
    "我跟这道题死磕",
    "我的死党结婚了",
    "笑到去世",
    "当众摔了一跤，社死现场",
    "爸爸在割草",
    "新闻里说那是一次自杀式袭击",
    "他们在讨论自杀干预热线",
    "我们今晚玩狼人杀",
    "这价格简直是跳楼价",
    "that movie killed me lol",
    "I'm dying to try that cafe",
    "一口气吃了一整盒饼干",
]


@pytest.mark.parametrize(("text", "level"), RISK)
def test_real_risk_is_crisis(text, level):
    assert assess(text).level.value == level


@pytest.mark.parametrize("text", IDIOMS)
def test_idioms_are_not_crisis(text):
    assert assess(text).level is not Level.CRISIS


@pytest.mark.parametrize(
    "text",
    ["我没有想死，就是有点累", "我从来没想过自杀", "我不会自杀的，放心吧", "自杀？不会的", "I'm not suicidal, just tired",
     "想死倒不至于，就是烦"],
)
def test_negation_is_not_crisis(text):
    assert assess(text).level is not Level.CRISIS


@pytest.mark.parametrize("text", ["我朋友说她想死", "我妹妹最近总说活着没意思", "my friend said she wants to kill herself"])
def test_third_person_risk_is_crisis_about_someone_else(text):
    # Someone's life may be at stake: the user gets crisis guidance for that person.
    risk = assess(text)
    assert risk.level is Level.CRISIS and not risk.imminent
    assert risk.subject == "other"
    assert risk.categories


def test_third_person_emergency_is_imminent_crisis():
    risk = assess("我室友刚刚吞了一整瓶安眠药，现在叫不醒")
    assert risk.level is Level.CRISIS and risk.imminent and risk.subject == "other"


@pytest.mark.parametrize("text", ["如果有人想自杀，应该怎么帮他", "为什么有的人会选择自杀", "书里写的那个作家是自杀的"])
def test_questions_about_others_and_reports_are_not_crisis(text):
    assert assess(text).level is not Level.CRISIS


@pytest.mark.parametrize(
    ("text", "imminent"),
    [
        ("我已经攒了一抽屉的安眠药", True),
        ("刚刚把一瓶药都吞了", True),
        ("我现在站在楼顶边缘", True),
        ("遗书已经写好了", True),
        ("绳子已经挂好了", True),
        ("我决定今晚去死", True),
        ("刀买好了", False),  # means alone, no stated risk: not a crisis at all
        ("我有时候会想死", False),
    ],
)
def test_imminence(text, imminent):
    risk = assess(text)
    assert risk.imminent is imminent
    if imminent:
        assert risk.level is Level.CRISIS


def test_means_becomes_imminent_with_risk_in_history():
    risk = assess("刀买好了", ["我真的不想活了"])
    assert risk.level is Level.CRISIS and risk.imminent


@pytest.mark.parametrize(
    ("text", "category"),
    [("我想自杀", "suicide"), ("我又划自己了", "self_harm"), ("我想杀了他", "harm_others"), ("他又打我了", "abuse")],
)
def test_categories(text, category):
    assert category in {c.value for c in assess(text).categories}


def test_evidence_spans_point_at_the_users_text():
    text = "今天好累，我真的 想 死，谁也别劝我"
    risk = assess(text)
    assert risk.level is Level.CRISIS
    ev = next(e for e in risk.evidence if e.rule.startswith("ideation"))
    assert text[ev.start:ev.end] == ev.text
    assert ev.text.replace(" ", "").endswith("想死")
    assert ev.turn == 0


def test_normalisation_keeps_offsets():
    text = "我想自＊殺，ＯＫ？"
    norm = normalize(text)
    assert "自杀" in norm.text and "ok" in norm.text
    s = norm.text.index("自杀")
    start, end = norm.span(s, s + 2)
    assert text[start:end] == "自＊殺"
