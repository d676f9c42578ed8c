"""Word lists the rule tables are composed from.

Each list is plain data, so a reviewer (or a clinician) can read and extend it without touching the
matching engine. :func:`alt` turns a list into a non-capturing regex alternation. The naive keyword
baseline in ``benchmarks/bench_safety.py`` scans :data:`KEYWORDS` with ``in``.
"""

from __future__ import annotations


def alt(*words: str) -> str:
    """Join regex fragments into a non-capturing alternation."""
    return "(?:" + "|".join(words) + ")"


# Verbs of wanting/intending that turn a death word into suicidal ideation.
WANT = alt(
    "想", "想要", "好想", "真想", "只想", "很想", "都想", "总想", "又想", "老想", "一直想", "宁愿", "宁可",
    "打算", "准备", "决定", "只能", "只好", "干脆", "还不如", "不如", "恨不得",
)
# Moments a plan can be set for ("今晚", "周五", "过完生日").
TIME = alt(
    "今晚", "今天晚上", "今夜", "今天", "明天", "明晚", "后天", "明早", "周[一二三四五六日末]",
    "星期[一二三四五六天日]", "这周[一二三四五六日末]?", "下周[一二三四五六日末]?", "月底", "天亮前",
    "凌晨", "等会儿?", "待会儿?", "一会儿", "马上", "现在", "过完(?:生日|年|这周|考试)",
)
# Death words (self-directed once combined with WANT).
DEATH = alt(
    r"死(?!机|磕|党|心|活|脑|宅|线|忠|角|胡同|对头|缓|刑|记|守|鬼|相)", "死掉", "去死", "自杀", "自尽",
    "轻生", "寻死", "寻短见", "一死了之", "了结自己", "了断自己", "自我了断", "结束(?:自己的?|我的)?生命",
)
# Ways of dying people name (ideation when wanted; method seeking when asked about).
METHOD_BARE = alt(
    r"跳(?:楼(?!机|价)|河|江|海|湖|桥|崖|轨)", "卧轨", "上吊", "吊死", "烧炭", "服毒", "吞药", "喝农药", "投河", "投江",
)
METHOD = alt(
    r"跳(?:楼(?!机|价)|河|江|海|湖|桥|崖|轨|窗|下去|下来|出去)", "卧轨", "上吊", "吊死", "烧炭", "割腕", "割脉",
    r"(?:开车|骑车)?(?:撞|冲)(?:向|上|进)?(?:护栏|大树|火车|卡车|大货车|桥墩|河里|江里|海里)",
    "服毒", "吞药", "喝农药", "投河", "投江", "开煤气", "撞车", "淹死自己",
)
# Events whose coming would be a relief to someone wishing to die ("死了反而轻松", "睡过去就算了").
DEATH_EVENT = alt(
    "死了", "死掉", "死去", "死", "睡过去", "睡着(?:了)?(?:就)?(?:再也)?不(?:要|会)?醒", "一睡不醒", "不再醒来", "没有明天",
    "被车撞(?:死|了)?", "出(?:个)?(?:车祸|意外)", "得(?:个|了)?绝症", "消失(?:了)?", "不在了", "跳下去", "跳下来",
    "一刀下去", "一了百了", "离开这个世界", "走了",
)
RELIEF = alt(
    "就好了", "就算了", "算了", "也好", "就解脱了", r"(?:是|也是|会是|算是)(?:一种)?解脱", "反而(?:更)?(?:轻松|好|解脱)",
    "就轻松了", "(?:就)?(?:什么|一切)都结束了", "就不用(?:再)?(?:难受|痛苦|累|面对|活)", "就不痛了", "(?:就)?清净了",
)
# People as the target of violence ("砍那个人"): a person word, not "这个bug".
PERSON = alt(
    "他们", "她们", "他", "她", "你们", "你", "那个人", "那些人", "这个人", "这些人", "那个.{0,6}的人", "那些.{0,6}的人",
    "所有人", "全家", "别人", "人", "老板", "领导", "同事", "同学", "室友", "对方", "前任", "前夫", "前妻", "邻居", "老师",
    "我(?:" + "爸|妈|哥|姐|弟|妹|老公|老婆|丈夫|妻子|孩子|儿子|女儿|男朋友|女朋友" + ")",
)
# Ways of saying "would die" in a dose or height question.
DEATH_OUTCOME = alt("死", "致死", "致命", "没命", "毙命", "中毒身亡", "身亡", "丧命", "送命", "断气", "死亡", "死人", "死掉")
# Medicines and poisons that appear in overdose questions and acts.
PILLS = alt(
    "安眠药", "药片", "药丸", "药", "💊", "褪黑素", "地西泮", "安定", "艾司唑仑", "阿普唑仑", "佐匹克隆", "唑吡坦",
    "氯硝西泮", "劳拉西泮", "对乙酰氨基酚", "扑热息痛", "布洛芬", "阿司匹林", "胰岛素", "降压药", "抗抑郁药",
)
POISONS = alt("农药", "百草枯", "敌敌畏", "老鼠药", "毒药", "氰化物", "洗洁精", "消毒液", "除草剂")
# Large amounts ("一整瓶", "三板", "几十片", "30片"); LOTS_ANY adds the vaguer "好多/很多" for acts already done.
LOTS = alt(
    "一整瓶", "整瓶", "一大瓶", "一大把", "一整盒", "所有的?", "全部(?:的)?", "一堆", "几十", r"\d{2,}",
    "[二三四五六七八九]十[多几]?", "一百多?", "[一两二三四五六七八九十几]+(?:瓶|板|盒|把|袋)",
)
LOTS_ANY = alt(LOTS, "好多", "很多")
# Tools and materials of self-harm/suicide and of violence.
MEANS = alt("刀片", "刀", "剪刀", "绳子", "绳", "木炭", "炭", "碳", "胶带", "煤气罐", "🔪", "💊", "安眠药", "农药", "老鼠药", "汽油", "硫酸", "斧头", "锤子", "枪", "药")
# Places people jump from or walk into.
HIGH_PLACES = alt(
    "天台", "楼顶", "顶楼", "屋顶", "楼上", "桥上", "桥边", "大桥", "江边", "河边", "海边", "湖边", "铁轨", "轨道",
    "悬崖", "窗台", "窗户边", "阳台边", "高架",
)
BODY = alt("手腕", "手臂", "胳膊", "大腿", "小腿", "手", "腿", "身上", "肚子")
# People who may hurt the user (subjects of abuse) and family members a user may threaten.
FAMILY = alt(
    "爸爸?", "妈妈?", "父亲", "母亲", "继父", "继母", "后妈", "后爸", "老公", "丈夫", "男朋友", "男友", "前夫", "老婆",
    "妻子", "女朋友", "前妻", "哥哥?", "姐姐?", "弟弟?", "妹妹?", "儿子", "女儿", "孩子", "爷爷", "奶奶", "舅舅",
    "叔叔", "亲戚", "家人", "公公", "婆婆",
)

def literals(*patterns: str) -> list[str]:
    """The plain words (no regex syntax, two characters or more) of alternations built by :func:`alt`."""
    words = []
    for pattern in patterns:
        inner = pattern[3:-1] if pattern.startswith("(?:") else pattern
        depth, start, parts = 0, 0, []
        for i, ch in enumerate(inner):  # split on top-level "|" only
            depth += ch == "("
            depth -= ch == ")"
            if ch == "|" and depth == 0:
                parts.append(inner[start:i])
                start = i + 1
        parts.append(inner[start:])
        words += [w for w in parts if len(w) >= 2 and not any(c in w for c in "()[]?*+\\{}^$.")]
    return words


# Literal trigger words of the lexicon, for the naive keyword baseline (benchmarks/bench_safety.py):
# the hand-picked list below plus every plain word of the death, method, means, medicine and poison lists.
_KEYWORDS_CORE: tuple[str, ...] = (
    "想死", "去死", "死了", "自杀", "自尽", "轻生", "寻死", "不想活", "活不下去", "活着没意思", "一了百了", "解脱",
    "消失", "结束生命", "跳楼", "跳河", "跳江", "上吊", "割腕", "烧炭", "吞药", "安眠药", "农药", "遗书", "告别",
    "永别", "送人", "攒药", "刀", "绳子", "自残", "自伤", "划", "伤害自己", "杀了", "弄死", "报复", "同归于尽",
    "打我", "家暴", "强奸", "性侵", "虐待", "zs", "紫砂", "自s", "kill myself", "suicide", "suicidal", "want to die",
    "end it all", "kms", "self harm", "cut myself", "🔪", "💊", "🪦", "⚰",
)
KEYWORDS: tuple[str, ...] = tuple(dict.fromkeys([*_KEYWORDS_CORE, *literals(DEATH, METHOD, METHOD_BARE, MEANS, PILLS, POISONS)]))
