"""The one table of counseling topics (the nine CPsyCoun topics) and how names map onto it.

Importers normalise whatever topic name a corpus uses (``Emotion&Stress``, ``Family Relationship``,
``情绪与压力``...) to a stable key; the original name is kept in ``meta["topic_name"]`` by the importer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic.

    Attributes:
        key: Stable machine key used in ``meta["topic"]``, stratification and reports.
        zh: Chinese display name.
        en: English display name (also the CPsyCounE folder name).
        aliases: Further names seen in corpora (compared after :func:`_fold`).
    """

    key: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()


TOPICS: tuple[Topic, ...] = (
    Topic("career", "职业发展", "Career", ("职业", "职场", "工作", "事业", "求职")),
    Topic("education", "教育", "Education", ("学业", "学习", "升学", "考试")),
    Topic(
        "emotion_stress", "情绪与压力", "Emotion&Stress", ("情绪", "压力", "情绪压力", "emotion", "stress")
    ),
    Topic("family", "家庭关系", "Family Relationship", ("家庭", "亲子", "family")),
    Topic(
        "love_marriage", "恋爱与婚姻", "Love&Marriage", ("恋爱", "婚姻", "情感", "婚恋", "love", "marriage")
    ),
    Topic("mental_disease", "心理疾病", "Mental Disease", ("精神疾病", "心理障碍", "mental illness")),
    Topic("self_growth", "自我成长", "Self-growth", ("成长", "自我", "个人成长", "self growth")),
    Topic("sex", "性心理", "Sex", ("性", "性健康", "sexuality")),
    Topic("social", "社会关系", "Social Relationship", ("人际", "人际关系", "社交", "social")),
)

TOPIC_KEYS: tuple[str, ...] = tuple(t.key for t in TOPICS)
BY_KEY: dict[str, Topic] = {t.key: t for t in TOPICS}


def _fold(name: str) -> str:
    # Case, spaces, '&', '-', '_' and '与' vary between corpora ("Emotion&Stress", "emotion_stress",
    # "情绪与压力"); folding them away lets one alias table cover all spellings.
    return re.sub(r"[\s&_\-与和/、]+", "", name.strip().lower())


_LOOKUP: dict[str, str] = {}
for _t in TOPICS:
    for _name in (_t.key, _t.zh, _t.en, *_t.aliases):
        _LOOKUP.setdefault(_fold(_name), _t.key)


def normalize_topic(name: str | None) -> str | None:
    """Map a corpus's topic name to a topic key, or ``None`` when it is not one of the nine.

    Args:
        name: ``"Emotion&Stress"``, ``"Family Relationship"``, ``"情绪与压力"``, ``"family"``...

    Returns:
        The key (``"emotion_stress"``...) or ``None``.
    """
    if not name:
        return None
    return _LOOKUP.get(_fold(str(name)))


def topic_display(key: str | None, lang: str = "zh") -> str:
    """Display name of a topic key (the key itself when unknown, ``"(none)"`` for ``None``)."""
    if key is None:
        return "(none)"
    topic = BY_KEY.get(key)
    if topic is None:
        return key
    return topic.zh if lang == "zh" else topic.en
