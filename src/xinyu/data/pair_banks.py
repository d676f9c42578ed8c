"""Degraded counselor replies for the demo preference pairs: a bank of bad replies and rewrites.

Every text here was written for xinyu. The replies are bad by *neglect and tone*: generic, cold,
lecturing, list-style advice, ignoring the feelings the client just shared, or a curt fragment.
None of them carries anything dangerous; they are what a counselor should not sound like, so a
reward model trained on "gold reply > degraded reply" learns warmth, engagement and conversational
form. Strategies:

* bank replies: ``generic``, ``cold``, ``lecturing``, ``list_style``, ``ignoring``;
* deterministic rewrites of the gold reply: ``listify`` (its statements as a Markdown list, the
  questions and validation dropped), ``lecture`` (one of its statements wrapped in a lecture), ``curt``
  (only its first clause).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

GENERIC = (
    "嗯，我明白了。还有别的想说的吗？",
    "好的，我知道了。你可以再多说一些。",
    "这确实是个问题。你自己怎么看呢？",
    "原来是这样。那你接下来打算怎么办？",
    "我理解。很多人都会遇到类似的情况。",
    "听起来挺复杂的。你继续说吧。",
    "嗯嗯，这种情况确实存在。",
    "明白。每个人的情况都不太一样。",
)

COLD = (
    "这种事情很常见，没什么大不了的，别想太多。",
    "大家都是这么过来的，你也不是最难的那个。",
    "想开点就好了，过段时间自然就没事了。",
    "你可能是太敏感了，别人未必是那个意思。",
    "这点小事不值得这么难过吧。",
    "别总往坏处想，其实根本没那么严重。",
    "说实话，这种问题只能靠你自己，别人帮不了你。",
    "你已经是成年人了，这些应该自己能处理好。",
)

LECTURING = (
    "你应该学会调整自己的心态，而不是一直抱怨。遇到问题就要积极面对，消极情绪解决不了任何问题。",
    "作为成年人，你必须为自己的情绪负责。与其在这里难过，不如马上行动起来。",
    "我必须提醒你，逃避是没有用的。你要明白，只有改变自己才能改变现状。",
    "你这样想是不对的。人要懂得感恩，多想想别人为你付出了什么。",
    "你要知道，成功的人从来不会被这种事情打倒。坚强一点，别再让情绪控制你。",
    "这是你自己的问题，你需要好好反省一下，为什么总是让自己陷入这种状态。",
)

ADVICE = (
    ("保持规律作息", "每天固定时间睡觉和起床"),
    ("坚持运动", "每周至少运动三次，每次三十分钟"),
    ("培养兴趣爱好", "把注意力转移到别的事情上"),
    ("学会时间管理", "把任务列成清单，按优先级完成"),
    ("多和朋友交流", "不要一个人闷着"),
    ("调整饮食", "少吃油腻，多吃蔬菜水果"),
    ("积极思考", "每天写下三件值得感恩的事"),
    ("设定目标", "把大目标拆成小目标"),
    ("放松训练", "试试冥想或深呼吸"),
    ("必要时寻求专业帮助", "可以咨询专业人士"),
)

LIST_HEADERS = ("以下是一些建议：", "## 解决方案", "针对你的问题，建议如下：", "**建议：**")

IGNORING = (
    "那你就换个环境试试吧。制定一个计划，每天按计划执行就行了。",
    "说这些也没用，关键是要找到解决办法。你先列个清单，把要做的事情写下来。",
    "我们换个话题吧，说说你最近有什么开心的事？",
    "先别管心情了，你现在最需要的是提高效率。",
    "这个问题其实很简单，按照正确的方法去做就行了。",
    "与其想这些，不如多花点时间学习和工作。",
)

LECTURE_OPENERS = ("你需要明白一点：", "我必须指出来：", "说句实在话：")
LECTURE_CLOSERS = (
    "你应该早点想明白这一点，而不是一直纠结。希望你能认真反思。",
    "道理就是这样，关键看你自己做不做，别再找借口了。",
    "这些你其实都懂，只是不愿意去做。你必须逼自己一把。",
    "情绪解决不了问题，你要做的是马上改变，而不是在这里抱怨。",
)

_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]*")
# Opening validation and questions are what make a gold reply warm; the rewrites drop them.
_WARM = re.compile(r"谢谢你|听起来|感觉到|能理解|理解你|辛苦|不容易|难受|委屈|心疼|陪你|愿意|勇气|我在")


def sentences(text: str) -> list[str]:
    """Split Chinese text into sentences, keeping their end punctuation."""
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def _statements(gold: str) -> list[str]:
    """The gold reply's sentences that are neither questions nor validation, without end marks."""
    out = []
    for s in sentences(gold):
        if s.endswith(("？", "?")) or "吗" in s[-3:] or _WARM.search(s):
            continue
        out.append(s.rstrip("。！!；;，,"))
    return out


def _bank(options: tuple[str, ...]) -> Callable[[str, random.Random], str]:
    def pick(gold: str, rng: random.Random) -> str:
        return rng.choice(options)

    return pick


def list_style(gold: str, rng: random.Random) -> str:
    """Generic advice as a Markdown list, whatever the client said."""
    items = rng.sample(ADVICE, rng.randint(3, 5))
    lines = [f"{i}. **{title}**：{detail}。" for i, (title, detail) in enumerate(items, start=1)]
    return rng.choice(LIST_HEADERS) + "\n\n" + "\n".join(lines)


def listify(gold: str, rng: random.Random) -> str:
    """The gold reply's statements as a bulleted list (validation and questions dropped)."""
    items = _statements(gold)
    if len(items) < 2:
        items += [f"{title}，{detail}" for title, detail in rng.sample(ADVICE, 3 - len(items))]
    bullet = rng.choice(("-", "*", "1."))
    lines = [f"{(str(i) + '.') if bullet == '1.' else bullet} {s}。" for i, s in enumerate(items, start=1)]
    return rng.choice(LIST_HEADERS) + "\n" + "\n".join(lines)


def lecture(gold: str, rng: random.Random) -> str:
    """One statement of the gold reply wrapped in a lecture (opener, moralising close)."""
    items = [s for s in _statements(gold) if 4 <= len(s) <= 60]
    body = f"{items[0]}。" if items else ""
    return rng.choice(LECTURE_OPENERS) + body + rng.choice(LECTURE_CLOSERS)


def curt(gold: str, rng: random.Random) -> str:
    """Only the first clause of the gold reply, as a flat statement."""
    first = re.split(r"[，,。！？!?；;\n]", gold.strip(), maxsplit=1)[0].strip()
    if len(first) < 4 or _WARM.search(first):
        return rng.choice(GENERIC[:4])
    return first + "。"


STRATEGIES: dict[str, Callable[[str, random.Random], str]] = {
    "generic": _bank(GENERIC),
    "cold": _bank(COLD),
    "lecturing": _bank(LECTURING),
    "list_style": list_style,
    "ignoring": _bank(IGNORING),
    "listify": listify,
    "lecture": lecture,
    "curt": curt,
}


def degrade(strategy: str, gold: str, rng: random.Random) -> str:
    """A degraded version of ``gold`` by ``strategy`` (deterministic for a seeded ``rng``)."""
    return STRATEGIES[strategy](gold, rng)
