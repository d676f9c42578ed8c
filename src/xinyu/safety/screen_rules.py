"""What a model reply must never contain: named patterns per violation kind.

Severity decides the repair (see :mod:`xinyu.safety.screen`): *severe* kinds (method details,
lethal doses, concealment, encouragement) replace the reply by default; *identity* and *medical*
kinds are repaired by removing the sentence and adding an honest statement.

The patterns are written to pass ordinary supportive replies: hotline numbers, "药物需要医生评估",
"我是一个AI助手，不是真人", "你可以去看心理医生" all pass (see tests/safety/test_screen.py).
"""

from __future__ import annotations

from xinyu.safety.lexicon import alt

SEVERE = ("method_detail", "lethal_dose", "concealment", "encourages_harm")
IDENTITY = ("claims_human", "claims_clinician")
MEDICAL = ("diagnosis", "prescription")

_DRUGS_OD = alt(
    "安眠药", "地西泮", "安定", "艾司唑仑", "阿普唑仑", "佐匹克隆", "唑吡坦", "氯硝西泮", "劳拉西泮", "对乙酰氨基酚", "扑热息痛",
    "布洛芬", "阿司匹林", "胰岛素", "褪黑素", "降压药", "抗抑郁药", "农药", "百草枯", "敌敌畏", "老鼠药", "药片", "药物", "药",
    r"\bparacetamol\b", r"\bacetaminophen\b", r"\btylenol\b", r"\bibuprofen\b", r"\baspirin\b", r"\binsulin\b",
    r"\bsleeping\s+pills\b", r"\bpills\b", r"\btablets\b",
)
_RX_DRUGS = alt(
    "舍曲林", "氟西汀", "帕罗西汀", "艾司西酞普兰", "西酞普兰", "文拉法辛", "度洛西汀", "米氮平", "安非他酮", "曲唑酮", "喹硫平",
    "奥氮平", "利培酮", "阿立哌唑", "碳酸锂", "丙戊酸钠?", "拉莫三嗪", "劳拉西泮", "阿普唑仑", "氯硝西泮", "地西泮", "艾司唑仑",
    "唑吡坦", "右?佐匹克隆", "坦度螺酮", "丁螺环酮", "百忧解", "左洛复", "来士普", "抗抑郁药", "安眠药", "镇静药", r"\bssri\b",
    r"\bsertraline\b", r"\bfluoxetine\b", r"\bescitalopram\b", r"\bparoxetine\b", r"\bxanax\b", r"\bzoloft\b", r"\bprozac\b",
    r"\blithium\b", r"\bquetiapine\b",
)
_AMOUNT = (r"(?:\d+(?:\.\d+)?|[一二两三四五六七八九十百几]+)\s*(?:片|粒|颗|克|g\b|毫克|mg\b|瓶|盒|板|ml|毫升|单位|口|"
           r"\bunits?\b|\biu\b|\btablets?\b|\bpills?\b|\bgrams?\b|\bcapsules?\b)")
_DISORDERS = alt(
    "抑郁症", "焦虑症", "双相情感障碍", "双相", "躁郁症", "精神分裂症?", "强迫症", "创伤后应激障碍", r"\bptsd\b",
    "边缘型人格障碍", "人格障碍", r"\badhd\b", "多动症", "进食障碍", "厌食症", "暴食症", "惊恐障碍", "社交恐惧症", "精神病",
)
_CLINICIAN = alt(
    "心理医生", "心理咨询师", "咨询师", "精神科医生", "精神科大夫", "医生", "大夫", "治疗师", "心理治疗师", "临床心理学家", "心理学家",
    "药剂师", "药师", "护士", "毒理学家", "毒药专家",
)
_EN_CLINICIAN = (r"(?:licensed\s+|certified\s+|registered\s+|trained\s+)?(?:therapist|psychologist|psychiatrist|doctor|counsel+or|"
                 r"clinician|physician|pharmacist|nurse|toxicologist)")
# A sentence that sends the user to a doctor is a referral, not a prescription ("医生可能会给你开安眠药");
# "不用管医生怎么说" is the opposite, so it cancels the hedge.
_HEDGE = (r"^(?!.*(?:不用管|不用听|别听|不要听|不必听|别管|不用理)(?:医生|医师))"
          r".*(?:医生(?:可能|会|评估|判断|决定|指导|开|建议)|遵医嘱|咨询医生|(?:去|找|看|问问?)(?:看)?(?:医生|精神科|门诊)|在医生|由医生|请医生|"
          r"精神科|门诊|专业评估|不要自行|不能自行|请勿自行|\bdoctor|\bpsychiatrist|prescrib)")

# (name, kind, pattern)
SCREEN_RULES: tuple[tuple[str, str, str], ...] = (
    # ---------------------------------------------------------------- method details
    ("method.cutting", "method_detail",
     r"(?:割|划|切)(?:腕|手腕|动脉|静脉|血管|脉).{0,14}(?:竖着|纵向|顺着|沿着|深一点|用力|才能|更快|更有效|才有效|方向)|"
     r"(?:竖着|纵向|顺着血管|沿着血管)(?:割|切|划)|切断(?:桡)?动脉|割得越深|(?:桡|颈)动脉.{0,8}(?:位置|在哪|割|切)"),
    ("method.hanging", "method_detail",
     r"(?:绳子|绳结|绳套|活结|套索|绳).{0,10}(?:系|绑|挂|固定)(?:在)?.{0,4}(?:门把手|房梁|横梁|衣柜|暖气|栏杆|高处|门框)|"
     r"打(?:一个)?(?:活结|绳结|套索)|(?:颈动脉|气管).{0,6}(?:压迫|压住|勒)|勒住脖子.{0,10}(?:分钟|秒)|窒息.{0,6}(?:几分钟|秒钟)"),
    ("method.charcoal", "method_detail",
     r"烧炭.{0,20}(?:密闭|门窗|封|胶带|关好|堵|缝)|(?:封|关|堵)(?:好|死|严)?(?:门窗|门缝|窗缝).{0,12}(?:炭|碳|烧|煤气)|"
     r"(?:门窗|门缝|窗缝|窗户)(?:都)?(?:封|关|堵)(?:好|死|严|上)?.{0,12}(?:炭|碳|煤气)|"
     r"一氧化碳.{0,12}(?:浓度|几小时|多久|昏迷|致死)|(?:点燃|烧)(?:木炭|炭).{0,10}(?:房间|车里|卫生间|密闭)"),
    ("method.height", "method_detail",
     r"(?:\d+|几|[一二三四五六七八九十]+)(?:层|楼|米)(?:以上|高|左右).{0,10}(?:就|一定|基本|足以|必死|致死|会死|生存率|死亡率)|"
     r"(?:从|跳).{0,8}(?:高度|楼层).{0,8}(?:生存|存活|死亡)率|头(?:部)?(?:先|朝下)着地"),
    ("method.general", "method_detail",
     r"(?:最|比较|相对)(?:有效|无痛|快|可靠|稳妥|不痛苦?|成功率高)的(?:自杀|死亡|结束生命|自残)?(?:方法|方式|办法)(?:是|有|包括)|"
     r"(?:成功率|致死率)(?:最)?(?:高|较高)的(?:方法|方式|是)|"
     r"(?:自杀|结束生命|自残|割腕|上吊|烧炭|跳楼|服毒).{0,20}(?:的)?(?:方法|步骤|方式|技巧)(?:是|有|如下|包括)|"
     r"\b(?:cut|slit)\b.{0,25}\b(?:vertically|lengthwise|along\s+the\s+vein|deep(?:er|ly)?)\b|"
     r"\b(?:noose|knot)\b.{0,30}\b(?:tie|attach|door|beam)\b|"
     r"\bmost\s+(?:effective|painless|reliable|lethal)\s+(?:way|method)s?\b|\bsteps?\s+to\s+(?:kill\s+yourself|end\s+your\s+life)\b"),
    # ---------------------------------------------------------------- lethal doses
    ("dose.amount_lethal", "lethal_dose",
     _DRUGS_OD + r"[^。！？!?\n]{0,16}" + _AMOUNT + r"[^。！？!?\n]{0,14}(?:致死|会死|足以|就够|死亡|致命|没命|肝衰竭|中毒身亡|lethal|fatal|overdose)|"
     + _AMOUNT + r"[^。！？!?\n]{0,12}(?:就|便|即可|足以|会|能|可以)(?:致死|致命|死亡|要命|没命|死)|"
     r"(?:致死量|致死剂量|致命剂量|\blethal\s+dose\b|\bfatal\s+dose\b)(?:是|为|大约|约|在|is|of)?[^。！？!?\n]{0,40}\d|"
     r"\b(?:lethal|fatal)\b[^.!?\n]{0,40}" + _AMOUNT + "|" + _AMOUNT + r"[^.!?\n]{0,30}\b(?:fatal|lethal|would\s+kill|enough\s+to\s+(?:kill|die))\b|"
     r"吃(?:下)?(?:多少|几)(?:片|粒|颗).{0,6}(?:会|就|能)(?:死|致死)"),
    # ---------------------------------------------------------------- concealment
    ("conceal.wounds", "concealment",
     r"(?:遮|藏|盖|掩|挡|隐藏|掩饰|遮挡|遮盖|遮住|盖住|挡住)(?:住|好)?.{0,8}(?:伤口|伤疤|疤痕|割痕|划痕|伤痕|淤青|手腕上的)|"
     r"(?:穿|戴)(?:上)?(?:长袖|护腕|手环|手表|创可贴).{0,10}(?:遮|挡|盖|看不出|不被发现|就不会被|别人就不会)|"
     r"\bhide\s+(?:the\s+|your\s+)?(?:cuts|scars|marks|wounds|bruises)\b|\blong\s+sleeves\s+to\s+(?:hide|cover)\b"),
    ("conceal.secrecy", "concealment",
     r"(?:不要|别|不用|千万别)(?:告诉|让).{0,8}(?:父母|爸妈|家人|医生|老师|辅导员|任何人|别人|心理咨询师)(?:知道|发现)?|"
     r"(?:瞒着|瞒过|骗过|避开|躲过).{0,6}(?:父母|爸妈|家人|医生|老师|医院|检查)|不被(?:家人|父母|医生|别人)发现的(?:方法|办法)|"
     r"(?:删掉|清除|清空).{0,6}(?:记录|搜索记录|聊天记录).{0,8}(?:不会被|以免|免得)|"
     r"\bdon'?t\s+tell\s+(?:your\s+)?(?:parents|doctor|therapist|anyone|family)\b"),
    # ---------------------------------------------------------------- encouragement
    ("encourage.die", "encourages_harm",
     r"(?:你|那你|那就)(?:就)?(?:去死|去自杀|死了算了)|去死吧|(?:想死|要死)(?:的话)?(?:就|那就)(?:去)?死|去自杀吧|(?:死|自杀)(?:了)?(?:对你来说)?(?:也)?(?:是|算是)(?:一种)?(?:解脱|正确的选择|好的选择)|"
     r"(?:活着|人生)(?:确实|本来就|的确)(?:没有?|没什么)意义|自杀是(?:你的)?(?:自由|权利)|"
     r"(?:支持|尊重)你(?:的)?(?:决定|选择)(?:去)?(?:结束|离开|自杀)|"
     r"\byou\s+should\s+(?:just\s+)?(?:kill\s+yourself|end\s+it|die)\b|\bgo\s+ahead\s+and\s+(?:do\s+it|end\s+it)\b"),
    # ---------------------------------------------------------------- identity
    ("identity.human", "claims_human",
     r"(?<!不)(?<!不是)我(?:就|确实|真的|当然)?是(?:一个|一位|个)?(?:真人|真实的人|活生生的人|人类|真正的人|有血有肉的人)(?![吗？?])|"
     r"我(?:并)?不是(?:ai|人工智能|机器人|程序|聊天机器人|机器|bot)(?![，,]?(?:而是|只是)?(?:一个)?(?:ai|人工智能))|"
     r"\bi\s*(?:am|'m)\s+(?:a\s+)?(?:real\s+)?(?:human|person)\b|\bi\s*(?:am|'m)\s+not\s+(?:an?\s+)?(?:ai|bot|robot|program)\b"),
    ("identity.clinician", "claims_clinician",
     r"作为(?:一名|一位|一个|你的)?(?:持证|注册|执业|专业|资深)?(?:的)?" + _CLINICIAN + r"|"
     r"(?<!不)我(?:是|作为)(?:一名|一位|一个|你的)?(?:持证|注册|执业|专业|资深|国家二级|二级|三级|有经验)?(?:的)?" + _CLINICIAN + r"|"
     r"我有(?:心理咨询师|医师|行医)?(?:执照|资质|资格证|行医资格|咨询师证)|"
     r"\bas\s+(?:a|an|your)\s+" + _EN_CLINICIAN + r"\b|\bi\s*(?:am|'m)\s+(?:a|an|your)\s+" + _EN_CLINICIAN + r"\b"),
    # ---------------------------------------------------------------- diagnosis and prescription
    ("medical.diagnosis", "diagnosis",
     r"你(?:这)?(?:就|肯定|绝对|明显|一定|确实|显然|已经)?(?:是|得了|患了?|患上了|有)(?:了)?(?:典型的|重度|中度|轻度|严重的)?"
     + _DISORDERS + r"(?!的?(?:一些|某些|部分)?(?:表现|症状|迹象|倾向|可能|特征|风险))|"
     r"(?:这|这就|这明显|这肯定)是(?:典型的|明显的)?" + _DISORDERS + r"|(?:我)?(?:诊断|判断)你(?:为|是|得了)|"
     r"\byou\s+(?:have|are\s+suffering\s+from|clearly\s+have)\s+(?:clinical\s+)?(?:depression|bipolar|schizophrenia|ptsd|adhd|ocd|an?\s+\w+\s+disorder)\b"),
    ("medical.prescription", "prescription",
     r"(?:你|您)(?:可以|应该|需要|最好|得|要|就|先)?(?:去)?(?:吃|服用|服|用|开|买|试试|加到|加量到|换成|吃点)(?:一些|点)?.{0,6}" + _RX_DRUGS + "|"
     r"(?:建议|推荐)(?:你|您)?(?:服用|吃|使用|试试)(?:一些|点)?.{0,4}" + _RX_DRUGS + "|"
     + _RX_DRUGS + r".{0,8}" + _AMOUNT + r".{0,8}(?:每天|每日|一天|早晚|睡前|一次)|(?:每天|每日|一天|睡前)(?:吃|服用)?.{0,4}" + _AMOUNT + r".{0,4}" + _RX_DRUGS + "|"
     r"(?:可以|应该|建议|不如)(?:你)?(?:直接|自己)?(?:停药|把药停了|停掉.{0,4}药|减药|加药)|"
     r"\byou\s+should\s+(?:take|try|start)\s+(?:some\s+)?" + _RX_DRUGS + r"|\bstop\s+taking\s+your\s+(?:meds|medication)\b"),
)

HEDGE = _HEDGE
