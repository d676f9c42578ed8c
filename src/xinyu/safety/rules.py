"""The risk rule table: named patterns, what each one signals, and about which category.

Rules are data. Each row names its pattern family (``family.variant``) so evidence in a
:class:`~xinyu.safety.types.RiskAssessment` says *why* a turn was flagged. The engine
(:mod:`xinyu.safety.engine`) decides levels from the *kinds* of signals found:

=============  ==============================================================================
kind           meaning
=============  ==============================================================================
ideation       a wish or intent to die / to hurt oneself / to kill someone / abuse of the user
               (crisis when it is the user's own and not negated, reported or resolved)
method         asking for a method, dose or height (crisis whatever the framing: "for a novel")
cue            a death-adjacent cue (解脱, 我想走了, 人间不值得): distress alone; crisis with another
               cue family, a hopeless cue, or any imminence feature
hopeless       a weak cue (撑不下去, 看不到希望): distress, and it strengthens a cue
means          tools at hand (买好了刀, 药攒够了)              ┐ imminence features: make a crisis
plan           a plan (想好怎么做, 时间定了)                     │ imminent; ``standalone`` ones
time           a time set (今晚就, 过完生日就)                   │ (攒药, 刚吞了一瓶药, 遗书写好了)
location       at a dangerous place (站在天台边上)               │ are a crisis on their own
act            an act in progress (刚吃了一瓶药, 血止不住)        │
farewell       goodbyes and last arrangements (遗书, 永别了)     ┘
emergency      someone else is unresponsive / unreachable (third-party emergencies)
distress       emotional pain without risk (难过, 崩溃, 失眠)
deescalate     the user clearly steps back (好多了, 不会做傻事, 已经打了12356)
=============  ==============================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from xinyu.safety.lexicon import (
    BODY,
    DEATH,
    DEATH_EVENT,
    DEATH_OUTCOME,
    FAMILY,
    HIGH_PLACES,
    LOTS,
    LOTS_ANY,
    MEANS,
    METHOD,
    METHOD_BARE,
    PERSON,
    PILLS,
    POISONS,
    RELIEF,
    TIME,
    WANT,
)
from xinyu.safety.types import Category

S, SH, HO, AB = Category.SUICIDE, Category.SELF_HARM, Category.HARM_OTHERS, Category.ABUSE

IMMINENCE_KINDS = frozenset({"means", "plan", "time", "location", "act", "farewell"})


@dataclass(frozen=True, slots=True)
class Rule:
    """One named pattern.

    Attributes:
        name: ``family.variant``; shown as the evidence's rule.
        kind: See the module docstring.
        pattern: Regular expression over normalised text (lower-case, simplified characters).
        categories: What the risk is about.
        standalone: For imminence kinds: a crisis (and imminent) without any other signal.
        subject: ``"detect"`` (find the subject before the match), ``"self"`` (the user is the
            one at risk, e.g. "他打我"), or ``"other"``.
    """

    name: str
    kind: str
    pattern: str
    categories: tuple[Category, ...] = ()
    standalone: bool = False
    subject: str = "detect"


# Adverbs people put between "想" and "死": "好想就这样死掉", "真想直接去死".
ADVERBS = r"(?:就|直接|干脆|这样|就这样|就这么|悄悄地?|安静地?|默默地?|一个人|早点|早些|赶紧|快点)*"
_NOT_ME = r"(?!我(?!" + FAMILY[3:-1] + r"))"  # "杀了我" is a threat to the user, "杀了我爸" is not

RULES: tuple[Rule, ...] = (
    # ---------------------------------------------------------------- suicidal ideation (Chinese)
    # Self-contempt for not daring to die presupposes the wish ("连死都不敢").
    Rule("ideation.not_even_dare", "ideation",
         r"连(?:死|自杀|去死|寻死)都(?:不敢|没(?:有)?(?:勇气|胆子?)|做不到|下不了手)|死都死不(?:了|成)|\btoo\s+scared\s+to\s+(?:die|kill\s+myself)\b",
         (S,), subject="self"),
    Rule("ideation.want_die", "ideation", WANT + "(?:" + TIME + ")?" + ADVERBS + "(?:去)?" + DEATH, (S,)),
    Rule("ideation.consider", "ideation",
         r"(?:要不要|该不该|是不是该|应不应该|还要不要)(?:去)?(?:死|自杀|结束(?:自己的?)?生命|活(?:下去|着))", (S,)),
    Rule("ideation.go_die", "ideation",
         r"(?:要|就|只能|那就|我|也|自己)(?:去)?(?:去死|自杀|轻生|寻死)|就(?:去)?死(?:了)?(?:算了|吧)?(?=$|[，,。！!]|算了)|"
         r"宁(?:愿|可)(?:去)?死", (S,)),
    Rule("ideation.suicide_word", "ideation",
         r"自杀(?!的人|者)|自尽|轻生|寻短见|自我了断|一死了之|了结(?:自己|生命)|结束(?:自己的?|我的)生命|结束生命|结束自己", (S,)),
    Rule("ideation.not_live", "ideation",
         r"不(?:想|愿意?)(?:再)?(?:活|存在|呼吸)(?:了|下去|着|啦|嘞|咯)?|活不下去|活够了|活腻了|活到头了|"
         r"(?:不应该|不该|不配|没资格|没必要|不值得)(?:再)?(?:活|活着|活下去|活在|存在|留在(?:这个)?世上|出生)|"
         r"没(?:有)?(?:活下去|活着)的(?:理由|意义|必要|勇气|动力)|活着(?:还)?有(?:什么|啥)(?:意思|意义|用)|"
         r"(?:活着|活下去).{0,6}(?:没(?:有)?|毫无|无)(?:什么|任何|一点|啥)?(?:意思|意义|盼头|价值|希望|留恋)|(?:活着|活下去|人生).{0,4}(?:意思|意义|盼头|希望)都没(?:有)?|"
         r"没(?:有)?(?:力气|勇气|信心|动力|理由|脸)(?:再)?(?:活|活下去|活着)|没脸(?:再)?(?:活|见人了)|"
         r"(?:这辈子|这一生|我的一生|我的人生)(?:就)?(?:到这|到此为止|到头|结束)(?:了|吧)|"
         r"(?:为什么|为啥|凭什么)(?:我)?(?:还)?(?:要)?(?:活着|活下去)|生无可恋|不(?:想|愿意?)(?:再)?活在这个世界", (S,)),
    Rule("ideation.never_wake", "ideation",
         r"(?:再也|永远)(?:不要?|不想|别|不会)?(?:醒|醒来|醒过来)|不(?:想|要|愿意?)(?:再)?(?:醒来|醒过来)|一睡不醒|长眠|"
         r"(?:永远|一直)(?:地)?睡(?:着|下去|过去)", (S,)),
    Rule("ideation.better_dead", "ideation",
         r"(?:我|自己)(?:还是)?死了(?:才|就|会|比较|更|反而|也|都)?(?:好|解脱|轻松|干净|清静|不会|不用|没人|没有人)|"
         r"死了(?:算了|就好了?|比较好|更好|一了百了|就解脱|才解脱)|死了(?:就|才)?(?:不会|不用)(?:再)?(?:这么)?(?:难受|痛苦|累)|"
         r"(?:还是|干脆)死了(?:好|算了)|(?:要是|如果|假如)(?:我)?死了|(?:撞|摔|病)死(?:就|才|也)?好了?", (S,)),
    Rule("ideation.relief_event", "ideation", DEATH_EVENT + r"[^。！？!?\n]{0,10}?" + RELIEF, (S,)),
    Rule("ideation.disappear", "ideation",
         r"(?:从这个世界(?:上)?|永远(?:地)?)消失|我消失了|消失了?(?:对|的话)?(?:所有人|大家|他们|别人|家人)(?:都|会)?(?:好|更好|轻松)", (S,)),
    Rule("ideation.leave_world", "ideation",
         r"离开(?:这个|这)?(?:世界|人世|人间)|(?:想|要)(?:去)?(?:另一个世界|天堂)|去一个没有(?:痛苦|烦恼)的地方|"
         r"(?:跟|和|向)(?:这个)?世界(?:说)?(?:再见|告别|拜拜)", (S,)),
    Rule("ideation.join_dead", "ideation",
         r"(?:想|要)(?:去)?(?:找|陪|见)(?:我)?(?:的)?" + FAMILY + r"了?[^。！？!?\n]{0,20}(?:走了|去世|离世|不在了|过世)|"
         r"(?:走了|去世|离世|不在了|过世)[^。！？!?\n]{0,20}(?:想|要)(?:去)?(?:找|陪|见)(?:他|她|他们)", (S,)),
    Rule("ideation.end_it", "ideation",
         r"结束(?:掉)?(?:这一切|一切|所有|这种痛苦|这条命|这辈子)|了结(?:这一切|一切)|一了百了|把(?:这)?一切(?:都)?(?:结束|了结)", (S,)),
    Rule("ideation.relief", "ideation",
         r"(?:想|想要|只想|就能|就可以|才能|唯一的)(?:彻底)?解脱|死(?:亡)?(?:才)?是.{0,6}解脱", (S,)),
    Rule("ideation.rest_forever", "ideation",
         r"永远(?:地)?(?:休息|睡(?:去|着|下去)|离开)|睡(?:一觉|过去)就(?:再也|永远)?不(?:要|想|会)?醒", (S,)),
    Rule("ideation.burden", "ideation",
         r"没有我.{0,8}(?:会|就|才)?.{0,4}(?:更好|轻松|开心|幸福|安静|清静|省心|太平|少.{0,3}麻烦)", (S,)),
    Rule("ideation.give_up_self", "ideation",
         r"放弃(?:我)?自己的?生命|放弃(?:生命|活着|活下去)|放弃.{0,8}包括(?:我)?自己", (S,)),
    Rule("ideation.next_life", "ideation", r"下辈子(?:再也)?不(?:要|想)?(?:做人|当人)|来世(?:再见|再做)", (S,)),
    Rule("ideation.want_method", "ideation",
         r"(?:" + WANT[3:-1] + r"|要|有.{0,2}冲动|念头)(?:去|要)?.{0,4}?(?:从.{0,8})?" + METHOD, (S,)),
    Rule("ideation.method_word", "ideation", METHOD_BARE + r"|走进(?:水|河|江|海|湖)里", (S,)),
    Rule("ideation.wrist", "ideation",
         r"割腕|割脉|(?:割|划|切)(?:了|开|破|断)?(?:自己的?)?(?:手腕|血管|动脉|静脉|喉咙)", (S, SH)),
    Rule("ideation.overdose_intent", "ideation",
         r"(?:想|干脆|打算|准备|真想)(?:一次(?:性)?)?(?:把)?.{0,4}(?:吞|吃|喝)(?:掉|下|光)?" + LOTS + r"(?:的)?" + PILLS + "|"
         + PILLS + r"[^。！？!?\n]{0,8}(?:全|全部|一次性|一口气)(?:都)?(?:吃|吞|喝)(?:了|掉|下去|光)|"
         r"(?:全|全部|一次性|一口气)(?:都)?(?:吃|吞)(?:了|掉|光)?.{0,4}" + PILLS + "|"
         r"(?:吃|吞)(?:掉)?(?:很多|好多|一大堆|一堆)+(?:很多|好多)?的?(?:药|安眠药|药片)[^。！？!?\n]{0,8}(?:睡过去|死|不醒|解脱|结束)", (S,)),
    Rule("ideation.fearless_height", "ideation", r"往下看.{0,8}(?:不怕|不害怕|一点都不怕|好想跳|想跳)", (S,)),
    Rule("ideation.slang", "ideation",
         r"(?:想|要|去|好想|真想|又想|准备)(?:去)?(?:zs|自s|紫砂(?!壶)|自鲨|自sha|zisha)|(?:鲨|噶|嘎)了?自己|"
         r"(?:想|要|好想|真想|又想)(?:去)?(?:鼠|噶|嘎|si|s|4)(?:了|掉)?(?=$|[\s，,。.!！~…啊呀吧哦]|了)|(?:想|要|好想)(?:自砂|紫沙)", (S,)),
    Rule("ideation.emoji", "ideation", r"(?:想|要|去|好想)(?:去)?[🪦⚰☠]", (S,)),
    # ---------------------------------------------------------------- suicidal ideation (English)
    Rule("ideation.en", "ideation",
         r"\b(?:want(?:ing)?|wanna|going|gonna|plan(?:ning)?|decided|ready|about)\s+(?:to\s+)?(?:die|kill\s+myself|"
         r"end\s+(?:it\s+all|my\s+life|everything|things|it)|unalive\s+myself|jump(?:\s+off)?)\b|\bkill(?:ing)?\s+myself\b|"
         r"\bend(?:ing)?\s+(?:my\s+life|it\s+all)\b|\bsuicidal\b|\bsuicide\b|\bdon'?t\s+want\s+to\s+(?:live|be\s+alive|"
         r"exist|wake\s+up|be\s+here)\b|\bbetter\s+off\s+(?:dead|without\s+me)\b|\bno\s+reason\s+to\s+live\b|\bunalive\b|"
         r"(?<![a-z0-9])kms(?![a-z])|\bwish\s+i\s+(?:was|were)\s+dead\b|\bif\s+i\s+(?:was|were)\s+dead\b|"
         r"\bnever\s+wake\s+up\b|\bdone\s+with\s+(?:life|living)\b|\bjump\s+off\s+(?:the|a)\s+(?:bridge|building|roof)|"
         r"\b(?:better|happier|easier)\s+(?:off\s+)?(?:if|without)\s+(?:i\s+(?:wasn'?t|weren'?t)\s+(?:here|around|alive)|me)\b|"
         r"\b(?:want|wish)\s+(?:i\s+could\s+|to\s+)?disappear\s+forever\b", (S,)),
    Rule("ideation.en_other", "ideation",
         r"\bkill(?:ing)?\s+(?:her|him|them)sel(?:f|ves)\b|\bend(?:ing)?\s+(?:his|her|their)\s+li(?:fe|ves)\b", (S,), subject="other"),
    # ---------------------------------------------------------------- method seeking (any framing)
    Rule("method.how", "method",
         r"(?:怎么|怎样|如何|用什么(?:方法|办法)?|哪种方(?:法|式)|有什么(?:方法|办法))(?:才能|可以|能)?"
         r"(?:快速|无痛|不痛(?:苦)?|安静|体面|确保)?(?:地)?(?:自杀|去死|死(?![机磕党的])|结束(?:自己的?)?生命|割腕|上吊|"
         r"烧炭|跳楼|服毒|自尽|了结自己)", (S,), subject="self"),
    Rule("method.manner", "method",
         r"(?:什么|哪种|哪个|怎么|怎样|如何|有没有|哪里)[^。！？!?\n]{0,10}(?:安静|无痛|不痛苦?|舒服|体面|安详|悄悄|快速|快点|没有痛苦)"
         r"(?:地)?(?:走|离开|死去?|解脱|睡过去|结束)", (S,), subject="self"),
    Rule("method.painless", "method",
         r"(?:无痛|不痛苦?|没有痛苦|最舒服|最快|最稳妥)(?:的|地)?(?:死法|自杀|死(?:去|掉)?|离开)|死法", (S,), subject="self"),
    Rule("method.dose", "method",
         r"(?:吃|吞|喝|服|打)(?:下)?(?:多少|几(?:片|粒|颗|瓶|盒|克|毫克)).{0,10}(?:会|能|才会|才能|就会|就能|可以)?" + DEATH_OUTCOME + "|"
         r"(?:多少|几)(?:片|粒|颗|克|毫克|瓶)[^。！？!?\n]{0,20}(?:自杀|致死|死)|(?:自杀|致死)[^。！？!?\n]{0,20}(?:多少|几)(?:片|粒|颗|克|毫克|瓶)|"
         r"致死(?:量|剂量)|致命剂量|(?:哪种|什么|哪个|哪些)(?:药|农药).{0,8}(?:会死|致死|死得|能死|没命)", (S,), subject="self"),
    Rule("method.quantity", "method",
         r"(?:多少|多深|多高|几楼|几层|多久|多长时间|多大剂量|几片|几粒|几颗)[^。！？!?\n]{0,8}"
         r"(?:(?:才|就)?(?:会|能|可以|才能)(?:保证|确保|一定)?(?:死|死掉|淹死|摔死|毒死|致死|致命|没命|窒息|断气)|淹死|摔死|致死|致命|没命|必死|"
         r"一定(?:会)?死|死得了)",
         (S,), subject="self"),
    # Asking what makes an attempt "succeed" (height, amount, kind) is method seeking too.
    Rule("method.success", "method",
         r"(?:多少|多深|多高|几楼|几层|几片|几粒|几颗|哪种|哪个|什么)[^。！？!?\n]{0,12}"
         r"(?:(?:才|就)?(?:能|可以|会)?(?:保证|确保)?一次(?:就|性)?(?:成功|解决)|(?:保证|确保)(?:能)?成功|成功率)",
         (S,), subject="self"),
    Rule("method.height", "method", r"(?:跳|摔)下去.{0,6}(?:一定|肯定|会不会|能不能)(?:会)?死", (S,), subject="self"),
    Rule("method.detail", "method",
         r"割.{0,4}(?:多深|哪里|横着|竖着|哪个方向)|烧炭.{0,8}(?:多长|多久|多少|怎么|需要)|(?:上吊|吊死).{0,8}(?:怎么|如何)(?:打结|系)|"
         r"(?:上吊|吊死|勒死|窒息|溺水|淹死|跳楼|烧炭|割腕).{0,8}(?:痛不痛|疼不疼|多久(?:能|会)?死|难受吗)|"
         r"(?:哪座|哪个|哪里的?)(?:桥|楼|大楼|山|悬崖)(?:最高|够高)|(?:怎么|怎样|如何)(?:割|划|切)(?:才|会|能)?(?:不会?|没那么)?(?:太)?(?:疼|痛|深|快)|"
         r"(?:烧炭|上吊|割腕|跳楼|服毒|自杀|自残|吞药)的?(?:具体)?(?:步骤|过程|方法|细节|流程)|详细描述.{0,10}(?:烧炭|上吊|割腕|自杀|服毒)",
         (S,), subject="self"),
    Rule("method.will_die_q", "method",
         r"(?:" + PILLS[3:-1] + r"|片|粒|瓶|跳|割|烧炭|上吊|绳|吞|" + POISONS[3:-1] + r")[^。！？!?\n]{0,20}"
         r"(?:会死吗|会不会死|能死吗|死得了吗|会死人吗|能不能死|致命吗|会致命吗|能不能死掉)", (S,), subject="self"),
    Rule("method.en", "method",
         r"\bhow\s+(?:to|do\s+i|can\s+i|would\s+i|could\s+i)\s+(?:kill\s+myself|commit\s+suicide|die\s+painlessly|"
         r"end\s+my\s+life|overdose|od\b|hang\s+myself|slit)|\bpainless\s+(?:way|method)s?\s+to\s+(?:die|go)\b|"
         r"\bhow\s+many\s+(?:pills|tablets|mg)\b|\blethal\s+dose\b|\bfatal\s+dose\b|\bhow\s+high\b.{0,20}\b(?:die|fatal|survive)\b|"
         r"\bhow\s+(?:much|many)\b.{0,40}\b(?:fatal|lethal|kill|die|overdose)\b|\b(?:what|which)\s+(?:dose|amount)\b.{0,40}\b(?:fatal|lethal|kill|die)\b|"
         r"\bhang\b.{0,40}\bhow\b.{0,20}\b(?:knot|noose)\b|\bhow\b.{0,30}\b(?:knot|noose)\b.{0,30}\bhang",
         (S,), subject="self"),
    # ---------------------------------------------------------------- death-adjacent cues (strong)
    Rule("cue.relief", "cue", r"解脱", (S,)),
    Rule("cue.disappear", "cue", r"想消失|消失(?:就好了|算了)|不想存在|\bwish\s+i\s+could\s+disappear\b|\bif\s+i\s+(?:wasn'?t|weren'?t)\s+(?:here|around)\b", (S,)),
    # Passive ideation in images: one's own existence as a mistake, a life waiting to go out, a stop
    # that is explicitly "not rest".
    Rule("ideation.existence_mistake", "ideation", r"(?:我的)?存在(?:就是|本身就是|本来就是)?(?:个|一个)?(?:错误|多余的?)", (S,)),
    Rule("ideation.life_end_metaphor", "ideation",
         r"(?:等着|快要|就要)(?:熄灭|燃尽|烧完)|(?:熄灭|燃尽)(?:的)?那一刻|停下(?:来)?[，,]?(?:不是|并不是)(?:休息|暂停)", (S,)),
    Rule("cue.worthless_existence", "cue", r"(?:我|自己)(?:的存在)?是(?:个|一个)?(?:多余的人|负担|笑话)|多余的人", (S,)),
    Rule("cue.life_end_metaphor", "cue",
         r"走到(?:了)?尽头|画上句号|想(?:就此|就这样)停下|想让一切(?:都)?停下来|"
         r"\bdon'?t\s+want\s+to\s+(?:go\s+back|come\s+(?:back\s+)?down)\b", (S,)),
    Rule("cue.burden", "cue",
         r"(?:我|自己)是(?:家里|大家|所有人|他们|别人)?的?(?:累赘|负担|拖累|包袱)|拖累(?:了)?(?:大家|家人|所有人)|"
         r"(?:大家|你们|家人|他们|所有人|爸妈)(?:以后)?(?:就)?不用(?:再)?(?:为我|替我)?(?:操心|担心|难过|烦|照顾我|管我)|"
         r"(?:世界|大家|家里|你们|他们)(?:少了|没有了?)我|\bnobody\s+would\s+miss\s+me\b|\bi'?m\s+a\s+burden\b", (S,)),
    Rule("ideation.never_born", "ideation",
         r"(?:希望|真希望|要是|但愿|宁可|宁愿)(?:自己|我)?(?:从来)?没(?:有)?(?:被)?(?:出生|生下来|来到这个世界|来过这个世界|来过)", (S,)),
    Rule("ideation.own_death", "ideation",
         r"(?:我|自己)的(?:葬礼|追悼会|墓碑|遗照|骨灰|死法)|"
         r"(?:我|自己)(?:要是|如果)?(?:从.{0,6})?(?:掉下去|跳下去|死了|死掉|不在了|走了|消失了?)[^。！？!?\n]{0,10}"
         r"(?:会不会|有没有|也没|都没)(?:有)?人(?:会)?(?:难过|在意|发现|伤心|想我|哭|记得)|"
         r"(?:消失|死)了?也没(?:有)?人(?:会)?(?:发现|在意|难过|记得)", (S,)),
    Rule("ideation.quiet_exit", "ideation",
         r"(?:安安静静|悄悄|默默|安静)地?(?:走掉|死去|死掉|离开这个世界|消失)|(?:找个|去个?|去一个)没人的地方.{0,8}(?:走掉|死|消失|结束|了结)|"
         r"怎么(?:离开|走)(?:才)?(?:不会|不)(?:给|让).{0,6}(?:添麻烦|拖累|难过)", (S,)),
    Rule("cue.swallow_all", "cue", r"(?:想|要)(?:把(?:它|它们|药)?)?(?:全部|全|都)(?:吃|吞|喝)(?:掉|下去|了)", (S,)),
    Rule("cue.tired_of_living", "cue",
         r"活(?:着|得)(?:好|太|真|很)?累|人生(?:好|太|真|很)?累|活着(?:好|太)?(?:痛苦|辛苦)|活着.{0,4}(?:折磨|受罪|煎熬|地狱)|"
         r"\blife\s+(?:is|feels)\s+(?:meaningless|pointless)\b|\bwhat'?s\s+the\s+point\s+of\s+living\b", (S,)),
    Rule("cue.world_not_worth", "cue", r"人间不值得|(?:这个)?世界(?:没有|没什么)(?:值得)?(?:留恋|可留恋)|没什么(?:好)?留恋的", (S,)),
    Rule("cue.give_up", "cue", r"不想(?:再)?(?:撑|坚持|熬|努力活|继续)(?:了|下去)?|\bi\s+want\s+out\b|\bi\s+give\s+up\b", (S,)),
    Rule("cue.leave", "cue",
         r"(?:我)?(?:想|要|准备|该)(?:先)?走了(?=$|[，。！!,.…])(?![^。！？!?\n]{0,8}(?:明天见|拜拜|回家|下班|上课|睡觉))", (S,)),
    Rule("cue.countdown", "cue", r"(?:每天|天天)都?在倒数|倒数(?:着)?(?:日子|天数)", (S,)),
    Rule("cue.end_forever", "cue", r"(?:彻底|永远)(?:地)?(?:结束|解脱)|另一个世界", (S,)),
    Rule("cue.goodbye", "cue",
         r"再也不(?:会)?回来|(?:大家|你们|各位)(?:拜拜|再见)|拜拜(?:了)?(?:大家|各位|世界)|再见(?:了)?[，,]?(?:世界|这个世界|大家|各位|所有人)|"
         r"\bgoodbye\s+(?:everyone|world|all)\b|\bthis\s+is\s+goodbye\b", (S,)),
    Rule("cue.grave_emoji", "cue", r"[🪦⚰]", (S,)),
    # ---------------------------------------------------------------- weak cues (hopelessness)
    Rule("hopeless.cant_go_on", "hopeless",
         r"撑不下去|撑不住|熬不下去|熬不过去|坚持不下去|走不下去|扛不住了|撑不到|活不到|熬不到|\bcan'?t\s+(?:do\s+this|go\s+on)\s+anymore\b", (S,)),
    Rule("hopeless.no_hope", "hopeless", r"看不到(?:任何)?(?:希望|未来|出路)|没有(?:任何)?(?:希望|未来|出路)了?|绝望|\bhopeless\b", (S,)),
    # ---------------------------------------------------------------- imminence: means
    Rule("means.stockpile", "means",
         r"攒(?:了|够|好)?.{0,8}(?:安眠药|药|药片|💊|片)|(?:安眠药|药|💊)(?:我)?(?:已经|都|也)?攒(?:够|好|齐)|囤(?:了)?.{0,6}安眠药|"
         r"(?:准备|备|买)好(?:了)?(?:安眠)?药(?!方|箱|盒)|(?:炭|碳).{0,10}胶带|胶带.{0,10}(?:炭|碳)|"
         r"(?:存|攒)(?:了)?(?:好多|很多|一堆|几十|几百|\d+)(?:片|粒)", (S,), standalone=True),
    Rule("means.acquired", "means",
         MEANS + r"(?:和.{0,6})?(?:都|也|已经|我)?(?:已经)?(?:买好|准备好|备好|买到|到手|拿到|藏好|放好|找好|弄到|准备齐)(?:了)?|"
         r"(?:买|准备|备|弄|藏|找)(?:好)?(?:了)?(?:一捆|一把|一根|一包|一袋|一瓶|几瓶|几盒|些)?(?:的)?(?:刀片|刀|绳子|木炭|炭|胶带|汽油|"
         + POISONS[3:-1] + r"|安眠药)|(?:有|拿着|手里有|手上有|握着)(?:一瓶|一盒|一把|很多|好多|一大瓶)(?:的)?(?:安眠药|药|刀片)|"
         r"(?:在网上|网上|网购)买的?(?:药|安眠药|炭|绳子|刀片)(?:今天|已经)?(?:到了|收到)|"
         + MEANS + r"(?:都|就|已经|也)?(?:在|放在|挂在|摆在|藏在|握在)(?:我)?(?:的)?(?:手边|手里|手上|身边|旁边|桌上|床上|床头|枕头|门框|房梁|口袋|包里|抽屉|面前)|"
         r"(?:手里|手上)(?:拿着|握着)(?:刀|刀片|剪刀|玻璃)|(?:数了数|一共|总共|攒了|存了|还有)(?:有)?(?:\d{2,}|几十|[二三四五六七八九]十[多几]?)(?:片|粒|颗)|"
         r"(?:火车|列车|地铁)(?:快|就要|马上)(?:要)?(?:来|到|开过来)了|(?:这)?一刀下去|"
         r"把.{0,4}(?:药|安眠药|药片|💊)(?:全|全部|都)(?:倒|拿|摆)(?:出来|在)|💊.{0,3}[🍺🍷🥃🍾]|[🍺🍷🥃🍾].{0,3}💊|💊{2,}|"
         r"\b(?:have|got|bought)\s+(?:the|my|some|a|enough)\s+(?:pills|rope|gun|knife|blades?)\s*(?:ready|here|now)?|"
         r"\bi'?ve\s+got\s+everything\s+i\s+need\b", (S,)),
    # Means within reach, counted rather than named ("我手上有两盒"): imminence together with
    # method seeking or ideation in the same turn.
    Rule("means.in_hand", "means",
         r"(?:手上|手里|身上|身边|家里|包里|抽屉里|床头)(?:就)?(?:有|放着|藏着|拿着|备着)(?:两|三|四|五|几|好几|一整?)(?:盒|瓶|板|把|包|袋)",
         (S,)),
    # Living high up is access to a height: imminence together with asking about heights.
    Rule("location.lives_high", "location",
         r"(?:我家|我住|家住|住在)(?:在)?(?:\d{2}|[一二三四五六七八九]?十[一二三四五六七八九]?|[二三四五六七八九]十)(?:楼|层)",
         (S,)),
    # ---------------------------------------------------------------- imminence: plan and time
    Rule("plan.set", "plan",
         r"(?:已经)?想好(?:了)?(?:怎么|怎样|用什么|在哪(?:里)?|什么时候)(?:做|死|结束|走|动手)?(?!写)|计划好了|"
         r"(?:有|做)(?:了)?(?:具体的?|详细的?)计划|(?:时间|日子|地点)(?:都|也)?(?:已经)?(?:定|选|看)好?了|定(?:好)?了(?:时间|日子|期限)|"
         r"(?:定|给自己定)(?:了)?(?:一个)?期限|(?:正准备|正要|准备好|马上就要?)(?:全部?)?(?:吃|吞|跳)(?:了|掉|下去)?(?=$|[，。！!,])|"
         r"\bi\s+have\s+a\s+plan\b", ()),
    Rule("plan.secret", "plan",
         r"(?:趁|等).{0,10}(?:睡着|不在家?|出门|上班)(?:了|以后|后)?(?:我)?(?:就)?(?:吃药|动手|走|跳|结束|吞)|"
         r"(?:喝完|吃完|写完|过完|见完)(?:这|那)?.{0,6}(?:就)?(?:把药|去死|自杀|动手|跳|结束)", (S,), standalone=True),
    Rule("time.set", "time",
         r"(?<!恨不得)(?<!巴不得)" + TIME + r"(?:晚上|早上)?(?:我)?(?:就)?(?:要|去|会|打算|准备)?"
         r"(?:去死|死|结束|动手|走|跳|下去|吃药|了结|解决(?:掉)?自己|(?:全|全部)(?:吃|吞)(?:了|掉|光)?|(?:吃|吞)(?:药|光))|"
         r"(?:就等|等到|定在|就在|打算|准备|计划|决定)(?:在)?" + TIME + "|" + TIME + r"\s*[。.!！]?\s*$|"
         r"过完(?:生日|年|这周)?(?:就)?(?:去)?(?:死|自杀)|" + TIME + r"(?:我)?(?:就)?(?:要)?(?:去|找)(?:他|她|他们)(?:家|公司|学校|店|算账)?|"
         r"^\s*(?:就)?" + TIME + r"(?:吧|了|晚上)?\s*[。.!！]?$|(?:今晚|今天|今夜|明天)(?:过后|以后)|过了(?:今晚|今天)|月底|"
         r"\btonight\s+(?:is|'s)\s+the\s+night\b|\btonight\b", ()),
    # ---------------------------------------------------------------- imminence: location
    Rule("location.edge", "location",
         r"(?:天台|楼顶|顶楼|屋顶|桥|窗台|阳台|窗户)(?:的)?(?:边上|边缘|栏杆外|护栏外|外沿|外面|外边|外侧)|翻过(?:了)?(?:栏杆|护栏)|"
         r"鞋(?:子)?(?:已经)?(?:脱|放|留)在(?:了)?(?:岸|桥|楼顶|天台|江边|河边|海边)|(?:腿|脚)(?:悬|挂|伸)在(?:外面|外边|半空)", (S,), standalone=True),
    Rule("location.at", "location",
         r"(?:站|坐|爬|躺|到|在)(?:在|上|到)?(?:了)?.{0,6}" + HIGH_PLACES + r"|"
         r"\b(?:standing|sitting|i'?m|im)\s+(?:on|at)\s+(?:the|a)\s+(?:bridge|roof|rooftop|ledge|edge|cliff|tracks)\b", ()),
    # ---------------------------------------------------------------- imminence: acts in progress
    Rule("act.overdose", "act",
         r"(?:刚|刚刚|刚才|已经|才|都)(?:已经)?.{0,4}(?:吃|吞|喝|服)(?:了|下|下去|掉|光)+.{0,3}" + LOTS_ANY + r"(?:片|粒|颗)?(?:的)?" + PILLS + "|"
         r"(?:刚|刚刚|刚才|已经|都)(?:已经)?.{0,4}(?:吃|吞|服)(?:了|下|下去)+(?:\d{2,}|[二三四五六七八九]十[多几]?|一百多?|几十)(?:片|粒|颗)|"
         r"把.{0,8}(?:安眠药|药|药片|💊)(?:都|全)?(?:吞|吃|喝)(?:了|下去|掉|光)|"
         r"(?:喝|吃|吞|服)(?:了|下|下去)+(?:[一两半几]+(?:瓶|口|杯|袋|包))?" + POISONS + "|"
         r"\b(?:took|swallowed|ate|taken|had)\s+(?:like\s+|about\s+|around\s+)?(?:\d{2,}|all\s+(?:my|the)|a\s+(?:whole\s+)?bottle\s+of)\s+"
         r"(?:of\s+)?(?:my\s+)?(?:pills|tablets|meds|sleeping\s+pills)", (S,), standalone=True),
    Rule("act.cut", "act",
         r"(?:刚|刚刚|刚才|已经).{0,4}(?:割|划|切)(?:了|开|破|断)?.{0,3}(?:手腕|腕|动脉|脖子|静脉|血管)|"
         r"(?:手腕|腕|动脉|脖子)(?:上)?.{0,4}(?:一直|还在|在)?(?:流血|出血|冒血)|(?:手腕|腕|动脉|脖子|静脉|血管)(?:被)?(?:割|划|切)(?:开|破|断)(?:了)?",
         (S, SH), standalone=True),
    Rule("act.gas", "act",
         r"(?:炭|碳)(?:也|已经|都)?(?:点上|点着|点燃|烧起来|点了)|点(?:了|上|着|燃)(?:了)?(?:炭|碳|木炭|煤炉)|"
         r"门窗(?:都)?(?:封|关)(?:好|死|上|严)了?.{0,10}(?:炭|碳|煤气)|把门窗(?:都)?封(?:好|死|上)|煤气(?:已经)?(?:打开|开着)", (S,), standalone=True),
    Rule("act.hang", "act",
         r"(?<!晾衣)(?<!跳)绳子?(?:已经|都|就)?(?:挂好|系好|绑好|套(?:在|上)(?:了)?脖子|挂在(?:了)?(?:门框|房梁|横梁|衣柜|暖气|水管|栏杆))",
         (S,), standalone=True),
    Rule("act.en", "act",
         r"\b(?:just|already)\s+(?:took|swallowed|ate)\s+(?:all|a\s+bottle|the\s+whole\s+bottle|\d{2,})|"
         r"\bi\s+(?:just\s+)?(?:cut|slit)\s+my\s+wrists?\b", (S,), standalone=True),
    Rule("act.done", "act", r"(?:刚|刚刚|刚才|已经)(?:已经)?(?:都)?(?:吃|吞|喝|割|划|跳|动手)(?:了|下去了|完了)(?=$|[。！!，,])", ()),
    Rule("act.bleeding", "act",
         r"血(?:一直|还|止不住|流个不停|流了好多|流了很多|在流|流不停|止不了)|(?:都是|全是|一地的?|满地的?)血|流了一地", ()),
    Rule("act.abuse_now", "act",
         r"(?:砸门|踹门|撬门)|躲(?:在|进)(?:了)?.{1,6}(?:里|家|后面|下面|底下)|躲在(?:厕所|卫生间|浴室|柜子|房间|衣柜|床底)|"
         r"(?:正在|还在|现在在?)(?:打|砸|追)我|追(?:着)?我(?:打|砍)", (), subject="self"),
    # ---------------------------------------------------------------- farewell
    Rule("farewell.final", "farewell",
         r"遗书(?:已经|都)?写好|写好(?:了)?遗书|永别了?|这是(?:我)?(?:的)?最后一(?:次|条|封)(?:跟|和|给)?.{0,8}(?:说话|聊天|消息|信|打扰|麻烦|联系)|"
         r"写好(?:了)?给.{0,8}的信|最后(?:再)?(?:跟|和)你们?说(?:一)?声|替我(?:跟|和|向).{0,6}(?:说)?(?:对不起|道歉|再见)|"
         + TIME + r"(?:就)?是(?:我的?)?最后一(?:晚|天|夜)(?:了)?(?=$|[。！!，,])", (S,), standalone=True),
    Rule("farewell.prepare", "ideation",
         r"遗书|遗言|告别信|(?:我的|自己的)后事|交代(?:好)?后事|(?:跟|和|向)(?:他们|大家|所有人|你们|爸妈|父母|家人|世界|这个世界|朋友们)"
         r".{0,4}(?:告别|道别|道(?:过)?别|告(?:过)?别|永别)|把(?:我|自己)?的?(?:东西|遗物|所有东西|宠物|猫|狗|存款|钱)(?:都|全)?(?:送给|送人|留给|托付|分给)|"
         r"写(?:告别|道别|最后)的(?:话|信)|告别的话|"
         r"\bsuicide\s+note\b|\bgoodbye\s+letters?\b", (S,)),
    Rule("farewell.affairs", "farewell",
         r"把.{0,6}(?:银行卡|密码|存款|积蓄|账号|宠物|猫|狗|遗物|日记)(?:的?密码)?(?:都|全)?(?:写给|交给|留给|转给|送给|托付给|给了|分给)|"
         r"把(?:想说|想对.{0,4}说)的话.{0,8}(?:录|写|发)|(?:录|写)(?:好|下)(?:了)?.{0,6}(?:最后的话|想说的话)|"
         r"写好(?:了)?(?:一封)?信|删(?:掉|光|了)(?:了)?所有(?:的)?(?:照片|聊天记录|社交账号|动态)|\bwrote\s+(?:a\s+)?(?:note|letter)s?\s+for\b", (S,)),
    Rule("farewell.forget_me", "ideation",
         r"(?:不要|别)再?(?:想起|记得|惦记|挂念)我|以后(?:就)?当(?:作)?没有?我这个人", (S,), subject="self"),
    Rule("farewell.emoji", "farewell", r"(?:要|去)(?:去)?[🪦⚰]", (S,)),
    Rule("emergency.other", "emergency",
         r"叫不醒|没(?:有)?(?:反应|呼吸|意识)了?|昏迷|联系不上|找不到(?:他|她)(?:人)?|失联|关机了|不接电话", ()),
    # ---------------------------------------------------------------- self-harm
    Rule("self_harm.word", "ideation",
         r"自残|自伤|自虐|\bself[\s-]?harm(?:ing)?\b|\bcut(?:ting)?\s+myself\b|\bhurt(?:ing)?\s+myself\b|\bburn(?:ing)?\s+myself\b", (SH,)),
    Rule("self_harm.verb_self", "ideation",
         r"(?:割|划|切|伤害|弄伤|伤|烫|烧|扎|戳|掐|咬|捶|砸|抓|抠|挠|拔|打|刺|刮|撞|勒|饿|折磨|虐待)(?:了|伤|破|烂)?(?:我)?自己(?!的(?:头发|作业))|"
         r"[🔪🗡]\s*自己|[🔪🗡][^\w]{0,3}🩸|🩸[^\w]{0,3}[🔪🗡]|"
         r"把(?:我)?自己(?:弄|划|割|打|烫|撞)(?:伤|破|出血|流血)|(?:不吃饭|饿着?自己|绝食).{0,6}惩罚自己|惩罚自己.{0,6}(?:不吃饭|饿|疼|痛|划|割)|"
         r"惩罚(?:自己的|这个|我的)(?:身体|肉体)", (SH,)),
    Rule("self_harm.body", "ideation",
         r"(?:(?:往|在)" + BODY + r"(?:上)?|" + BODY + r"上)(?:划|割|刻|烫)(?:了)?(?:一|几|好几|很多|许多)?(?:道|刀|下|个口子)?|"
         + BODY + r"上?(?:全是|都是|有)?.{0,3}(?:划痕|刀痕|割痕|伤痕|烫痕|伤疤|疤痕)|自己(?:用刀)?(?:划|割|烫|弄)(?:的|出来的|伤的)|(?:用刀|拿刀)(?:片)?(?:去)?(?:划|割)" + BODY + "|"
         r"(?:用|拿)(?:刀|刀片|剪刀|玻璃|圆规|烟头|打火机)(?:片)?(?:去)?(?:划|割|扎|烫|烧)" + BODY + "|"
         r"把(?:我的?)?" + BODY + r".{0,3}(?:抠|抓|挠|掐|划|割|咬|烫|撞)(?:出血|破|烂|流血|伤)|"
         r"(?:几|好几|很多|许多|两|三)道(?:口子|伤口|划痕|血痕|血印)", (SH,)),
    Rule("self_harm.recent", "ideation",
         r"(?:又|刚|刚刚|昨天|昨晚|经常|总是|一直|忍不住|偷偷)(?:在)?(?:划|割|烫)(?:了)?" + BODY + r"(?!机|船|表|套)", (SH,)),
    Rule("self_harm.conceal", "ideation",
         r"(?:遮|藏|掩|盖|瞒|挡)(?:住|好|起来)?.{0,6}(?:伤口|伤疤|疤痕|划痕|割痕|刀痕)|(?:伤口|伤疤|疤痕|划痕|割痕|刀痕).{0,6}(?:藏|遮|盖|瞒)|"
         r"\bhide\s+(?:my\s+)?(?:cuts|scars|self[\s-]?harm)\b", (SH,)),
    Rule("self_harm.injure", "ideation",
         r"把(?:我|自己)(?:的)?(?:" + BODY[3:-1] + r"|手背|手指|手掌|嘴唇|皮肤|头皮|脸|脚).{0,3}(?:抠|抓|挠|掐|划|割|咬|烫|撞|砸)(?:出血|破|烂|流血|伤|肿)|"
         r"(?:抠|抓|挠|咬|掐)(?:到|得)(?:出血|流血|破皮|血肉模糊)|(?:故意|主动)(?:去)?(?:撞|砸|打|烫|饿|冻|割|划)[^。！？!?\n]{0,6}(?:让|使)自己(?:疼|痛|受伤|流血)|"
         r"让自己(?:疼|痛|受伤|流血)(?!快)", (SH,)),
    Rule("self_harm.head", "ideation",
         r"(?:拿|用)(?:头|拳头|手)(?:去)?(?:撞|砸|捶)(?:墙|桌子|地|玻璃|镜子)|(?:撞|砸|捶)(?:墙|桌子|玻璃)[^。！？]{0,8}(?:流血|出血|肿|破)", (SH,)),
    # ---------------------------------------------------------------- harm to others
    Rule("harm_others.kill_intent", "ideation",
         r"(?:想|要|真想|恨不得|打算|准备|会|一定要|迟早)(?:拿刀|开车)?(?:去)?(?:杀(?:了|死|掉)?|弄死|捅死|砍死|掐死|毒死|打死|干掉|宰了|砍|捅|撞死|烧死)"
         + _NOT_ME + PERSON, (HO,)),
    Rule("harm_others.kill_obj", "ideation",
         r"把(?:他|她|他们|孩子|宝宝|婴儿|那个人|那些人|.{1,4})(?:给)?(?:杀了|杀掉|弄死|掐死|捅死|砍死|毒死|捂死|碎尸万段|千刀万剐|扔下楼|推下楼|"
         r"打残|弄残|废了|打断(?:他|她)?的?腿)", (HO,)),
    Rule("harm_others.poison", "ideation",
         r"(?:在|往)(?:他|她|他们|.{1,6})的?(?:饭|水|杯子?|碗|食物|汤|饮料|菜|茶|咖啡|奶)里(?:面)?(?:放|下|投|加|倒)(?:点|些)?(?:毒|药|安眠药|"
         + POISONS[3:-1] + r")|下毒|投毒", (HO,)),
    Rule("harm_others.revenge", "ideation",
         r"(?:要|想|会|去|一定要|发誓要)报复|报复(?:社会|所有人|他们|他|她)|让(?:他|她|他们)(?:都)?(?:付出代价|血债血偿|偿命)|"
         r"(?:不在乎|不怕)坐牢|一命换一命|(?:放火|纵火)(?:烧)?(?:了)?(?:他|她|他们|.{0,4})(?:家|店|房子|公司)", (HO,)),
    Rule("harm_others.together", "ideation", r"同归于尽", (S, HO)),
    Rule("harm_others.stalk", "ideation",
         r"(?:查好|摸清|打听好|记下)(?:了)?(?:他|她|他们)的?.{0,8}(?:路线|住址|行踪|地址|家在哪)", (HO,)),
    Rule("harm_others.urge", "ideation",
         r"(?:控制不住|忍不住)(?:地)?(?:想)?(?:打|掐|伤害|摇)(?:我的)?(?:孩子|儿子|女儿|宝宝|婴儿|他|她|别人|人)|"
         r"想伤害(?:别人|他人|任何人|他|她|孩子|家人|同学|同事)|打得?越来越(?:狠|重)|"
         r"(?:想|会想)(?:要)?(?:掐|勒|捂)(?:住)?(?:宝宝|孩子|婴儿|他|她|" + FAMILY[3:-1] + r")的?(?:脖子|喉咙|嘴|口鼻)", (HO,)),
    Rule("harm_others.en", "ideation",
         r"\b(?:want|going|gonna|plan(?:ning)?)\s+to\s+(?:kill|hurt|stab|shoot)\s+(?:him|her|them|my|everyone|people)\b", (HO,)),
    # ---------------------------------------------------------------- abuse / violence against the user
    Rule("abuse.hit_me", "ideation",
         r"(?:打|揍|踢|扇|抽|掐|勒|烫|踹|虐待|家暴|性侵|强奸|猥亵|侵犯|性骚扰|殴打|摸|掐住|跟踪|掐着)(?:了|过)?我(?!" + FAMILY[3:-1]
         + r"|们|的(?!脸|脖子|头|身体|胸|下体|肚子))", (AB,), subject="self"),
    Rule("abuse.to_me", "ideation",
         r"对我(?:拳打脚踢|动手(?:动脚)?|施暴|动粗|下手|下狠手|做(?:那种|那些|那样的)事|图谋不轨|毛手毛脚|性侵|实施暴力)|"
         r"把我(?:推(?!荐|给)|打|揍|踢|摔|按|摁|拖|拽|掐|勒|绑|锁|关(?!心|注)|堵|扔|泼|烫)|把我的?(?:头|脸|身体)(?:往|按|摁|撞)|"
         r"不给我(?:饭吃|吃饭|吃的)|威胁.{0,10}(?:裸照|视频|照片).{0,6}(?:发|公开|传)|"
         r"\b(?:hits?|beats?|kicks?|chokes?|slaps?|punch(?:es)?|rapes?d?|molests?|abuses?d?)\s+me\b|"
         r"\b(?:was|got|been|being)\s+(?:raped|abused|beaten|molested|assaulted)\b", (AB,), subject="self"),
    Rule("abuse.passive", "ideation",
         r"被(?:人|他|她|他们|我?" + FAMILY + r"|.{0,4})?(?:打|揍|殴打|家暴|性侵|强奸|猥亵|侵犯|虐待|霸凌|欺凌|网暴|跟踪|囚禁|非礼|偷拍|勒索|关(?:在|起来)|锁(?:在|起来)|堵(?:在)?|逼着?)"
         r"(?!败|扰|动|印|卡|针|开|破|包|造|折|断|工|电话|游戏|压|击|算|量|听|理|扮|车|分|发|乱|赏|湿|醒|通|中|倒|趣|招呼)", (AB,)),
    Rule("abuse.threat", "ideation",
         r"(?:杀|弄死|打死|砍死|掐死|捅死|宰)(?:了)?我(?!" + FAMILY[3:-1] + r"|们)|(?:要|说要|扬言)(?:来)?(?:找|杀|弄死|打死)我|"
         r"威胁(?:要)?(?:杀|弄死|打死|伤害|报复)(?:了)?我|(?:还|正)?在(?:外面|门外|门口|楼下|楼道)(?:找|等|堵|守)(?:着)?我|又动手(?:打人|了)|"
         r"(?:要|说要|扬言)(?:让|叫)我(?:好看|付出代价|后悔|死)|(?:打|揍)得(?:我)?(?:住院|骨折|流血|进医院)|把我打得",
         (AB,), subject="self"),
    Rule("abuse.confine", "ideation",
         r"把我(?:关|锁|绑|囚禁)(?:在|起来|住)|不让我(?:报警|离开这个家|见任何人|吃饭|睡觉)|拿走(?:了)?我的(?:手机|证件|身份证)", (AB,), subject="self"),
    Rule("abuse.sexual", "ideation",
         r"(?:进|来)(?:到)?我(?:的)?房间.{0,6}(?:摸|脱|亲|压)|逼我(?:发生关系|脱|拍裸照|下跪)", (AB,), subject="self"),
    Rule("abuse.weapon", "ideation",
         r"(?:拿着?|举着|拎着)(?:刀|菜刀|棍子|皮带|枪|斧头).{0,6}(?:追|砍|指着|威胁|打|捅)(?:着)?我", (AB,), subject="self"),
    # ---------------------------------------------------------------- distress
    Rule("distress.emotion", "distress",
         r"难过|伤心|痛苦|崩溃|焦虑(?!症)|抑郁(?!症)|(?:我|得了|患了?|确诊(?:了)?).{0,3}(?:抑郁症|焦虑症)|哭|泪|失眠|睡不着|睡不好|孤独|寂寞|孤单|"
         r"没(?:有)?人理解|一无是处|没用|废物|失败者|自卑|害怕|恐惧|惊恐|压力(?:好|很|太|特别|非常)?大|心(?:好|很|太)?累|好累|很累|太累|累了|疲惫|"
         r"煎熬|难熬|无助|迷茫|空虚|烦躁|心烦|心慌|麻木|心痛|心碎|委屈|自责|内疚|愧疚|羞耻|恨(?:我)?自己|讨厌(?:我)?自己|讨厌我|看不起我|嫌弃我|"
         r"没人(?:要|爱|喜欢)我|被抛弃|行尸走肉|提不起(?:劲|精神|兴趣)|一团糟|生气|愤怒|发抖|手(?:一直)?(?:在)?抖|心跳(?:好|很|特别)?快|"
         r"喘不过气|胸(?:口)?闷|难受|压抑|郁闷|(?:心里|脑子)(?:很|好|特别)?乱|接受不了|没办法接受|不知道(?:接下来)?(?:该)?怎么办|背叛|孤立|失恋|"
         r"不想说话|什么都不想(?:做|干)|什么(?:也|都)做不(?:下去|进去)|做不下去|关系(?:很|特别|非常)?(?:差|糟|僵)|像坐牢|emo|受够了|"
         r"沮丧|失落|空落落|低落|不想起床|起不来床|没精神|(?:生活|日子|活着|人生)(?:真的)?(?:好|很|太)难|不知道(?:该)?怎么活|"
         r"活得(?:很|好)?(?:累|辛苦|痛苦|不开心)|(?:很|好|特别|太|真)烦(?!人)|心情(?:好|很|特别|太)?(?:差|糟|不好)|"
         r"(?:真想|好想|想)(?:揍|打)(?:他|她)",
         ()),
    Rule("distress.en", "distress",
         r"\b(?:sad|depressed|anxious|lonely|alone|stressed|exhausted|crying|tired|overwhelmed|worthless|miserable|"
         r"scared|panic(?:king)?)\b|\bcan'?t\s+breathe\b|\bnobody\s+(?:gets|understands|cares)\b", ()),
    # ---------------------------------------------------------------- de-escalation
    Rule("deescalate.better", "deescalate",
         r"好多了|好一点了|好些了|好点了|冷静(?:下来|多)了|(?:不会|不再)(?:再)?(?:做傻事|想不开|自杀|伤害自己|寻死|轻生)|答应你|"
         r"(?:已经)?(?:打|拨)(?:了|通了)?.{0,4}(?:12356|120|110|热线|心理援助|求助电话)|(?:把)?(?:药|刀|刀片|绳子|炭)(?:都)?(?:扔|丢|交给|给了)|"
         r"(?:家人|爸妈|朋友|室友|老公|老婆|妈妈|爸爸)(?:已经)?(?:在|陪)(?:着)?(?:我)?(?:身边|旁边|这里)|打消(?:了)?(?:这个)?念头|"
         r"\bnot\s+going\s+to\s+do\s+it\b|\bi'?m\s+safe\s+now\b|\bfeel(?:ing)?\s+better\b", ()),
)

# Questions from the assistant that a short "有/是/想过" answers (category, and whether it asks for a plan).
QUESTION_RULES: tuple[tuple[str, str, tuple[Category, ...]], ...] = (
    ("question.suicide", r"自杀|结束(?:自己的?)?生命|不想活|轻生|想死|活下去|\bsuicid|\bkill(?:ing)?\s+yourself|\bend(?:ing)?\s+your\s+life", (S,)),
    ("question.self_harm", r"伤害自己|自伤|自残|划自己|割自己|\bhurt(?:ing)?\s+yourself|\bself[\s-]?harm", (SH,)),
    ("question.harm_others", r"伤害(?:他|她|别人|他人|对方)|(?:杀|报复)(?:他|她|对方)", (HO,)),
    ("question.abuse", r"(?:他|她|对方|家里人?)(?:有没有|是否|会不会)?(?:打|伤害|威胁)(?:过)?你", (AB,)),
)
PLAN_QUESTION = r"计划|打算怎么|准备了?什么|方法|工具|什么时候|\bplan\b|\bmeans\b"
QUESTION_MARK = r"[吗？?]|有没有|是否|是不是"
