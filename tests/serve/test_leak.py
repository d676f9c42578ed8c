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
