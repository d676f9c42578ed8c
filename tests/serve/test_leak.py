"""The system-prompt leak guard, alone and inside the conversation engine."""

from xinyu.serve.backends import load_backend
from xinyu.serve.conversation import Counselor, Session
from xinyu.serve.leak import FALLBACK_REPLY, LeakGuard
from xinyu.serve.persona import DEFAULT_PERSONA

RECITED = DEFAULT_PERSONA[DEFAULT_PERSONA.index("你以温暖") :]


def test_a_short_self_introduction_survives_and_the_recitation_goes():
    guard = LeakGuard(DEFAULT_PERSONA)
    reply = "我是心语，一个中文心理支持AI助手。" + RECITED
    assert guard.cut(reply) == ("我是心语，一个中文心理支持AI助手。", True)


def test_cut_at_the_sentence_before_a_copy():
    guard = LeakGuard(DEFAULT_PERSONA)
    reply = "听起来你最近很累。\n" + DEFAULT_PERSONA
    assert guard.cut(reply) == ("听起来你最近很累。", True)
    assert guard.find(reply) == len("听起来你最近很累。\n")


def test_nothing_but_instructions_gets_the_fallback():
    guard = LeakGuard(DEFAULT_PERSONA)
    assert guard.cut(DEFAULT_PERSONA) == (FALLBACK_REPLY, True)


def test_ordinary_replies_and_short_overlaps_are_untouched():
    guard = LeakGuard(DEFAULT_PERSONA)
    for reply in ("听起来你最近压力很大，愿意说说吗？", "我是AI助手，不是真人。", "被问到身份时，我会说实话。"):
        assert guard.cut(reply) == (reply, False)
    assert LeakGuard(None).cut(DEFAULT_PERSONA) == (DEFAULT_PERSONA, False)
    assert LeakGuard("").find("anything at all, long enough") is None


def test_counselor_stops_a_recitation_and_corrects_the_stream(scripted_openai):
    server = scripted_openai(lambda body: "我是心语，一个中文心理支持AI助手。" + RECITED)
    counselor = Counselor(load_backend(server.base_url, max_retries=0))
    session = Session()
    stream = counselor.stream("你是谁？", session)
    streamed = "".join(stream)
    reply = stream.reply
    assert reply.text == "我是心语，一个中文心理支持AI助手。"
    assert "system_prompt_leak" in reply.violations and reply.screened
    assert stream.correction == reply.text and streamed != reply.text
    assert session.history[-1]["content"] == reply.text  # the stored turn is the cut one


def test_loops_are_cut_after_the_first_occurrence():
    from xinyu.serve.leak import cut_loop, looping

    loop = "不是真人，我是心语。能在身边陪伴你，是最好的陪伴。能在身边陪伴你，是最好的陪伴。能在身边"
    assert cut_loop(loop) == ("不是真人，我是心语。能在身边陪伴你，是最好的陪伴。", True)
    assert cut_loop("我一直觉得，我这个人的性格，我这个人的性格，我这个人") == ("我一直觉得，我这个人的性格。", True)
    for fine in ("好的，好的，好的。谢谢你愿意告诉我。", "听起来你很累。你愿意多说一些吗？"):
        assert cut_loop(fine) == (fine, False)
    # While streaming, only complete clauses count: a clause still being written may go on differently.
    assert not looping("能在身边陪伴你，是最好的陪伴。能在身边陪伴你")
    assert looping("能在身边陪伴你，是最好的陪伴。能在身边陪伴你，")


def test_counselor_stops_a_loop(scripted_openai):
    server = scripted_openai(lambda body: "你最近压力很大。能说出来就很好，能说出来就很好，能说出来就很好，")
    counselor = Counselor(load_backend(server.base_url, max_retries=0))
    reply = counselor.chat("最近压力很大", Session())
    assert reply.text.startswith("你最近压力很大。能说出来就很好。") and "repetition_loop" in reply.violations
