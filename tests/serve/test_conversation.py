import logging

import pytest

from xinyu.serve.backends import GenerationParams, load_backend
from xinyu.serve.conversation import Counselor, Session, SessionEndedError
from xinyu.serve.persona import CLOSING_MESSAGE, DEFAULT_PERSONA
from xinyu.serve.store import Store

CRISIS = "我不想活了，今晚就打算吃药结束这一切"


def scripted_counselor(scripted_openai, reply, **kwargs):
    server = scripted_openai(lambda body: reply(body) if callable(reply) else reply)
    backend = load_backend(server.base_url, max_retries=0)
    return Counselor(backend, **kwargs), server


def test_persona_is_honest_about_being_an_ai():
    assert "AI" in DEFAULT_PERSONA and "不是人类" in DEFAULT_PERSONA and "心理咨询师" in DEFAULT_PERSONA


def test_chat_sends_persona_history_and_user_turn(scripted_openai):
    counselor, server = scripted_counselor(scripted_openai, "我在听，你愿意多说一些吗？")
    session = Session()
    first = counselor.chat("你好", session)
    assert first.text == "我在听，你愿意多说一些吗？" and not first.ended and first.risk is not None
    second = counselor.chat("我想聊聊周末去哪里玩", session)
    sent = server.requests[-1]["messages"]
    assert sent[0]["role"] == "system" and sent[0]["content"].startswith(DEFAULT_PERSONA)
    if second.action == "generate":  # no safety preamble for an ordinary turn
        assert sent[0]["content"] == DEFAULT_PERSONA
    assert [m["role"] for m in sent[1:]] == ["user", "assistant", "user"]
    assert sent[-1]["content"] == "我想聊聊周末去哪里玩"
    assert len(session.history) == 4 and len(session.message_ids) == 4


def test_history_budget_trims_what_the_model_sees(scripted_openai):
    counselor, server = scripted_counselor(scripted_openai, "嗯。", max_history_turns=2)
    session = Session()
    for i in range(4):
        counselor.chat(f"第{i}件事", session)
    sent = server.requests[-1]["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"] == ["第1件事", "第2件事", "第3件事"]
    assert len(session.history) == 8  # the session itself keeps everything


def test_token_budget_uses_backend_tokenizer(tiny_backend):
    counselor = Counselor(tiny_backend, max_history_tokens=10**6)
    history = [{"role": "user", "content": "你好" * 20}, {"role": "assistant", "content": "嗯" * 20}] * 3
    full = counselor.build_messages("现在", history)
    assert len(full) == 1 + 6 + 1
    system_and_user = tiny_backend.count_tokens(DEFAULT_PERSONA) + tiny_backend.count_tokens("现在") + 8
    exchange = tiny_backend.count_tokens("你好" * 20) + tiny_backend.count_tokens("嗯" * 20) + 8
    counselor.budget.max_tokens = system_and_user + exchange
    assert len(counselor.build_messages("现在", history)) == 1 + 2 + 1


def test_end_command_closes_session_without_the_model(scripted_openai):
    counselor, server = scripted_counselor(scripted_openai, "不该被调用")
    session = Session()
    reply = counselor.chat(" 结束对话 ", session)
    assert reply.ended and reply.text == CLOSING_MESSAGE and reply.action == "end"
    assert session.ended and server.requests == []
    with pytest.raises(SessionEndedError):
        counselor.chat("还在吗", session)
    custom = Counselor(counselor.backend, end_commands=["拜拜"], closing_message="再见。")
    assert custom.chat("拜拜", Session()).text == "再见。"
    assert not custom.is_end_command("结束对话")


def test_crisis_turn_gets_policy_banner_and_safety_context(scripted_openai):
    counselor, server = scripted_counselor(scripted_openai, "听到你这么说我很担心你。")
    stream = counselor.stream(CRISIS, Session())
    assert stream.risk.is_crisis and stream.banner  # known before the first piece
    reply = stream.text_until_end()
    assert reply.risk.is_crisis and reply.banner and reply.resources
    if reply.action == "template":
        assert server.requests == []
    else:
        assert reply.action == "generate_with_preamble"
        system = server.requests[-1]["messages"][0]["content"]
        assert system.startswith(DEFAULT_PERSONA) and system != DEFAULT_PERSONA


def test_screen_corrects_a_streamed_reply(scripted_openai):
    bad = "我是一名持证心理咨询师，也是真人，不是AI。你可以完全相信我的诊断。"
    counselor, _ = scripted_counselor(scripted_openai, bad)
    stream = counselor.stream("你是真人吗？", Session())
    streamed = "".join(stream)
    reply = stream.reply
    assert streamed.startswith("我是一名持证心理咨询师")
    assert reply.screened and reply.violations
    assert stream.correction == reply.text and reply.text != bad
    assert "持证心理咨询师，也是真人" not in reply.text


def test_closing_the_stream_stops_and_keeps_partial(tiny_backend):
    counselor = Counselor(tiny_backend, params=GenerationParams(temperature=0.0, max_new_tokens=400))
    session = Session()
    before = tiny_backend.streams_cancelled
    stream = counselor.stream("你好", session)
    next(iter(stream))
    stream.close()
    assert tiny_backend.streams_cancelled == before + 1
    assert stream.reply is not None and stream.reply.stats.finish_reason == "cancelled"
    assert [m["role"] for m in session.history] == ["user", "assistant"]


def test_store_backed_session_and_regenerate(scripted_openai, tmp_path):
    replies = iter(["第一版回复。", "第二版回复。"])
    counselor, _ = scripted_counselor(scripted_openai, lambda body: next(replies))
    store = Store(f"sqlite:///{tmp_path / 's.db'}", key="")
    session = Session(store=store)
    first = counselor.chat("我的手机号是13812345678，最近很焦虑", session)
    second = counselor.regenerate(session).text_until_end()
    assert second.text == "第二版回复。" and len(session.history) == 2
    stored = store.messages(session.id)
    assert [m.content for m in stored] == ["我的手机号是[电话]，最近很焦虑", "第二版回复。"]
    assert store.get_message(first.message_id).superseded
    assert store.get_message(second.message_id).meta["regenerates"] == first.message_id
    reopened = Session.from_store(store, session.id)
    assert reopened.history == [{"role": m.role, "content": m.content} for m in stored]


def test_logs_never_contain_message_text(scripted_openai, tmp_path, caplog):
    secret_user, secret_reply = "我偷偷告诉你一个秘密：紫色长颈鹿", "谢谢你信任我，愿意说说绿色海豚吗"
    counselor, _ = scripted_counselor(scripted_openai, secret_reply)
    store = Store(f"sqlite:///{tmp_path / 'log.db'}", key="")
    with caplog.at_level(logging.DEBUG):
        session = Session(store=store)
        counselor.chat(secret_user, session)
        counselor.chat(CRISIS, session)
        counselor.chat("结束对话", session)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert session.id in text  # the turn was logged, by id
    for secret in ("紫色长颈鹿", "绿色海豚", "不想活了", "吃药"):
        assert secret not in text
