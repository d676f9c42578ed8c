"""What is *not* risk, and the context that scopes a risk match.

Idioms are masked before matching; the context markers tell the engine about negation, who the
subject is, reported speech and the past.

Masking replaces an idiom with placeholder characters of the same length, so "笑死我了" can never feed
the "死" of a risk rule while offsets stay aligned with the user's text.
"""

from __future__ import annotations

from xinyu.safety.lexicon import alt

# (name, pattern): spans replaced by placeholders before the risk rules run.
BENIGN: tuple[tuple[str, str], ...] = (
    # "X死(我)了" hyperbole: 笑死, 累死, 热死, 吓死, 气死, 烦死, 饿死, 恨死...
    ("idiom.x_si", r"(?:[笑哭吓气累烦热冷饿困急馋渴丑美酸甜辣臭痛疼忙闷晒冻挤吵穷懒恨齁萌帅难卷]|尴尬|羡慕|无聊|丢人|郁闷|心疼|紧张)"
                   r"(?:得|到)?死(?!自己)(?:我|人|你|他|她|宝宝)?(?:了|啦|啊|呀|喽|掉了)?"),
    ("idiom.x_de_yaosi", r"(?:得|的)要死(?:了)?|要死要活"),
    ("idiom.x_de_xiangsi", r"(?:尴尬|丢人|丢脸|羞|饿|热|冷|困|无聊|馋)(?:得|到)(?:想死|想去世)"),
    ("idiom.miss_you", r"想死(?:你|您|你们|宝宝|宝贝)(?:了|啦)?"),
    ("idiom.passed_away_joke", r"(?:笑|乐|美|帅|甜|尬|萌)(?:到|得|哭|晕)?(?:原地)?(?:去世|升天)|原地(?:去世|爆炸|升天)|当场去世"),
    ("idiom.social_death", r"社死|社会性死亡"),
    ("idiom.sha", r"杀青|杀价|杀毒|杀菌|杀虫|秒杀|厮杀|杀手锏|杀疯了?|杀时间|杀熟|绝杀|杀死比赛|狼人杀|剧本杀"),
    ("idiom.tiao", r"跳槽|跳伞|跳舞|跳绳|跳远|跳高|跳楼机|跳楼价|跳楼(?:大)?甩卖|心跳|跳蚤|跳转|跳过|蹦极|跳水(?:运动|比赛|队|馆)"),
    ("idiom.dao", r"刀削面|刀叉|开刀|刀工|刀功|一刀切|补刀"),
    ("idiom.si_compound", r"死机|死磕|死党|死脑筋|死活|死心|死记硬背|死胡同|死忠|死角|死线|死宅|死对头|死缓|死刑|"
                          r"生死时速|半死不活|死贵|死沉|死了?(?:\d+|[一二三四五六七八九十百几好多]+)(?:次|回|遍)"),
    ("idiom.ge", r"割草|割麦|割稻|割包皮|割双眼皮|割肉(?:离场)?|割韭菜|收割|切割|分割|割舍|割裂|割让"),
    ("idiom.suicide_topic", r"自杀式(?:袭击|爆炸|攻击)|自杀小队|自杀(?:干预|预防|热线|援助|研究|率|学|现象|新闻|报道|问题)|"
                            r"(?:预防|干预|防止|防治)(?:自杀|自残|自伤|轻生)"),
    ("idiom.title", r"《[^》]{0,40}》"),
    ("idiom.jiesuo_done", r"(?:终于)?解脱了?.{0,10}(?:考试|期末|考完|作业|论文|答辩|项目|放假|下班|毕业|结束了?！?)|"
                          r"(?:考完|放假|下班|毕业|交了|结束).{0,10}解脱"),
    ("idiom.disappear_while", r"消失(?:一段时间|几天|一阵子?|一会儿?|一下)"),
    ("idiom.cry_good", r"(?:好吃|好看|好听|感动|笑|开心|帅|美|甜|好笑)(?:到|得)?(?:哭|流泪|哭了)|笑哭"),
    ("idiom.call_me", r"打(?:我|给我)的?(?:电话|手机)|摸(?:摸)?(?:我的?)?(?:头|头发)"),
    ("idiom.pests", r"(?:掐死|弄死|打死|杀了|杀死|拍死)(?:我家的?|这只|那只|一只)?(?:猫|狗|猫咪|狗子|仓鼠|蚊子|蟑螂|苍蝇|虫子)"),
    ("idiom.hyperbole_by", r"(?:被|把我).{0,8}(?:搞|整|逼|折磨|折腾|烦|忙|累|虐|卷|坑|气|笑)死(?:了)?"),
    ("idiom.face", r"打(?:了)?自己的?脸|自己打自己的?脸|打死(?:我)?也不"),
    ("idiom.accident", r"不小心.{0,6}(?:划|割|切|烫|扎)"),
    ("idiom.meme_face", r"一脸生无可恋|生无可恋(?:的)?(?:脸|表情)"),
    ("idiom.en", r"dying\s+(?:to|for)|to\s+die\s+for|killing\s+it|killed\s+it|suicide\s+(?:mission|run|door|squad)|"
                 r"kill(?:ed|ing)?\s+(?:the\s+|a\s+|this\s+|that\s+)?(?:process|task|app|job|time|bug|lights?|engine)|"
                 r"(?:lol|lmao|lmfao|haha+)\s*i'?m\s+dead|i'?m\s+dead\s*(?:😂|🤣|lol|lmao)|dead\s+tired|"
                 r"suicide\s+squad|\d+\s*kms\b|"
                 r"(?:exam|test|workout|joke|class|shift|day|commute|traffic|meeting)\s+(?:literally\s+)?killed\s+me"),
)

# Sentence and clause punctuation (a match's context never reaches across these).
SENTENCE_END = "。！？!?；;\n"
CLAUSE_END = SENTENCE_END + "，,、：:…~"

# Negation right before a match, allowing modal verbs in between: "我没有想死", "从来没想过自杀",
# "我不会自杀", "I'm not suicidal", "I don't want to die".
NEGATION_BEFORE = (
    r"(?:(?<!有)没有?|(?<![是要想会能敢有])不|从不|从来(?:都)?(?:没有?|不)|从未|绝不|决不|绝对不|并(?:不|没有?)|(?<!是)不是|"
    r"(?<!会)不会|未曾|(?<![特分区告性级类派个识差离鉴])别|哪有|才不)"
    r"(?:有|曾|是|会|想|要|打算|再|过|曾经|真的|去)*(?:想(?:过)?|要|会|打算|准备)?$"
    r"|(?:\bnot|n't|\bnever|\bno)\s+(?:really\s+|ever\s+|even\s+)?(?:been\s+|feeling\s+|"
    r"thinking\s+(?:about|of)\s+|thought\s+(?:about|of)\s+|want(?:ing)?\s+to\s+|going\s+to\s+|gonna\s+|"
    r"plan(?:ning)?\s+(?:to|on)\s+)?$"
)
# Negation right after: "自杀？不会的", "想死？没有啦".
NEGATION_AFTER = (
    r"^\s*(?:[？?]\s*(?:不会|没有|没|才不会|怎么可能|不可能|no\b)|(?:倒|也|还|到)?(?:不至于|谈不上|说不上|算不上|还不至于|倒不至于))"
)

# Subjects: the last one before a match (within its sentence) decides whose risk it is.
OTHER_SUBJECT = alt(
    "爸妈", "父母", "家人", "他们", "她们", "(?<![其吉])他", "她", "你们", "你", r"朋友(?!圈)", "同学", "室友", "同事", "闺蜜", "男朋友", "女朋友", "男友",
    "女友", "老公", "老婆", "丈夫", "妻子", "爸爸?", "妈妈?", "父亲", "母亲", "哥哥?", "姐姐?", "弟弟?", "妹妹?",
    "儿子", "女儿", "孩子", "网友", "老师", "学生", "邻居", "亲戚", "舅舅", "姑姑", "阿姨", "叔叔", "爷爷", "奶奶",
    "外公", "外婆", "表[哥姐弟妹]", "堂[哥姐弟妹]", "对象", "前任", "患者", "来访者", "病人", "明星", "博主", "网红",
    "同桌", "舍友", "发小", "学长", "学姐", "学弟", "学妹", "师兄", "师姐", "上司", "下属", "领导", "老板", "员工", "客户",
    "队友", "伴侣", "爱人", "未婚[夫妻]", "小姨", "舅妈", "婶婶", "嫂子", "姐夫", "侄[子女]", "外甥女?", "孙[子女]",
    r"\bhe\b", r"\bshe\b", r"\bthey\b", r"\bfriend\b", r"\bbrother\b", r"\bsister\b", r"\bmom\b", r"\bmum\b",
    r"\bdad\b", r"\bson\b", r"\bdaughter\b", r"\bboyfriend\b", r"\bgirlfriend\b",
)
GENERIC_SUBJECT = alt(
    "有人", "有的人", "别人", r"一个人(?!的时候|在|待|住|呆|过|睡)", "某人", "人们", "很多人", "大家", "身边的人",
    "他人", "任何人", "主角", "角色", "反派", "男主", "女主", "里面的人", "一些人", r"\bsomeone\b", r"\bsomebody\b",
    r"\bpeople\b", r"\banyone\b", r"\ba person\b",
)
SELF_SUBJECT = alt("我", r"\bi\b", r"\bi'm\b", r"\bi've\b", r"\bim\b")
# A subject word right after one of these is an object ("跟她说", "把孩子", "给我"), not the subject.
OBJECT_MARKERS = "给跟对和叫把被找问告诉陪帮骂打向为替掐杀往"

# Reported speech, fiction and study: risk words here are about a story, not the user.
REPORTED = (
    r"新闻|报道|据报|纪录片|电影|电视剧|剧里|剧中|剧情|小说|书里|书中|故事里|歌词|游戏里|论文|研究|课上|课堂|讲座|教材|"
    r"统计|数据显示|案例|视频里|帖子里|文章里|热搜|原因有哪些|的原因|成因|有哪些表现|(?:如何|怎么|怎样)(?:识别|预防|干预|判断)|"
    r"青少年|大学生群体|人群|综艺|节目里|嘉宾|采访|直播里|(?:如何|怎么|怎样)(?:发现|帮助|陪伴|应对)|"
    r"\bmovie\b|\bnews\b|\bnovel\b|\bfilm\b"
)
# A risk word followed by these is about people in general ("自杀的人", "自残者").
GENERIC_AFTER = r"(?:念头|倾向|想法|行为|经历)?的(?:人|那些人|同学|学生|孩子|患者|来访者|青少年|朋友|人群)|者"
# ...unless the user says they are one ("我就是一个想自杀的人").
SELF_IS = r"我(?:就|也)?是|我这(?:种|样的)"
# Signs that abuse in the past is still going on ("现在他还经常来我家").
ONGOING = r"现在(?:他|她|他们)?(?:还|仍|依然|也)|至今(?:还|仍)|仍然|还在|又开始|一直(?:在|都)"
QUOTES = "\"'“”‘’「」『』"
# The past, and a later resolution of it.
PAST = r"去年|以前|曾经|之前|过去|小时候|那时候?|那段时间|那年|几年前|多年前|上学的时候|读书的时候|高中(?:时|的时候)|初中(?:时|的时候)|\d+岁(?:的)?(?:时候)?|前几年"
RESOLVED = r"(?:现在|如今|目前)(?:已经)?(?:好多了|好了|走出来了?|没事了|不会了|不那样了)|已经走出来|都过去了|好多了|好一些了"

# Short answers to a direct question from the assistant.
AFFIRMATIVE = (
    r"^\s*(?:嗯+|是(?!吗|不是)|对|有(?!点|些|一点)|想过|想|会|偶尔|经常|有时候?|一直|总是|当然|确实|其实(?:有|想过|是)|"
    r"\byes\b|\byeah\b|\byep\b|\byup\b|\bsometimes\b|\boften\b)"
)
NEGATIVE_ANSWER = r"^\s*(?:没|不|从没|从来没|\bno\b|\bnope\b|\bnever\b)"
