import json
import sqlite3
from datetime import timedelta

import pytest

from xinyu.serve.feedback import export_feedback, preference_pairs
from xinyu.serve.store import Store, StoreError, StoreKeyError, new_key, utcnow

PHONE = "13812345678"


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'x.db'}", key="")
    yield s
    s.close()


def test_sqlite_uses_wal_and_busy_timeout(store):
    with store.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA busy_timeout").fetchone()[0] == 30000


def test_messages_are_redacted_and_ordered(store, tmp_path):
    store.ensure_session("s1", meta={"client": "test"})
    store.add_message("s1", "user", f"我的电话是{PHONE}，心理援助热线12356打不通")
    reply = store.add_message("s1", "assistant", "我在这里。")
    messages = store.messages("s1")
    assert [m.role for m in messages] == ["user", "assistant"]
    assert PHONE not in messages[0].content and "[电话]" in messages[0].content
    assert "12356" in messages[0].content  # hotlines are never redacted
    assert store.get_message(reply).context_hash
    raw = sqlite3.connect(tmp_path / "x.db").execute("select content from messages").fetchall()
    assert all(PHONE not in row[0] for row in raw)
    record = store.get_session("s1")
    assert record.meta == {"client": "test"} and record.n_messages == 2 and not record.ended
    with pytest.raises(StoreError, match="unknown session 'nope'"):
        store.messages("nope")


def test_encryption_at_rest_and_key_errors(tmp_path):
    url = f"sqlite:///{tmp_path / 'enc.db'}"
    key = new_key()
    store = Store(url, key=key)
    store.add_message("s", "user", "今晚又失眠了，很难受")
    mid = store.add_message("s", "assistant", "听起来你很累。")
    store.add_feedback(mid, -1, "太短了")
    raw = sqlite3.connect(tmp_path / "enc.db").execute("select content, encrypted from messages").fetchall()
    assert all(enc and "失眠" not in text and text.startswith("fernet:") for text, enc in raw)
    assert store.messages("s")[0].content == "今晚又失眠了，很难受"
    assert store.feedback()[0].comment == "太短了"
    with pytest.raises(StoreKeyError, match="XINYU_STORE_KEY to the key"):
        Store(url, key="").messages("s")
    with pytest.raises(StoreKeyError, match="another key"):
        Store(url, key=new_key()).messages("s")
    with pytest.raises(StoreKeyError, match="not a valid Fernet key"):
        Store(url, key="not-a-key")


def test_key_comes_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("XINYU_STORE_KEY", new_key())
    store = Store(f"sqlite:///{tmp_path / 'env.db'}")
    assert store.encrypting


def test_feedback_validation(store):
    user = store.add_message("s", "user", "你好")
    reply = store.add_message("s", "assistant", "你好呀")
    with pytest.raises(StoreError, match="rating must be 1"):
        store.add_feedback(reply, 0)
    with pytest.raises(StoreError, match="user message"):
        store.add_feedback(user, 1)
    with pytest.raises(StoreError, match="unknown message"):
        store.add_feedback("missing", 1)


def test_purge_deletes_idle_sessions_only(store):
    store.add_message("old", "user", "很久以前")
    old_reply = store.add_message("old", "assistant", "嗯")
    store.add_feedback(old_reply, 1)
    store.add_message("new", "user", "刚刚")
    with store._sessions.begin() as db:  # age one session by rewriting its activity time
        from xinyu.serve.store import SessionRow

        db.get(SessionRow, "old").updated_at = utcnow() - timedelta(days=40)
    assert store.purge(timedelta(days=30)) == {"sessions": 1, "messages": 2, "feedback": 1}
    assert [s.id for s in store.list_sessions()] == ["new"]
    assert store.feedback() == []
    assert store.purge(timedelta(days=30))["sessions"] == 0


def test_delete_session_cascades(store):
    store.add_message("s", "user", "a")
    mid = store.add_message("s", "assistant", "b")
    store.add_feedback(mid, 1)
    assert store.delete_session("s") and not store.delete_session("s")
    assert store.feedback() == []


def _exchange(store, session, user, reply, **meta):
    uid = store.add_message(session, "user", user)
    return uid, store.add_message(session, "assistant", reply, meta={"reply_to": uid, **meta})


def test_export_pairs_thumbs_up_and_regenerated(store, tmp_path):
    # Session A: a liked reply to the same opening as session B's disliked one.
    _exchange(store, "A", "我最近压力很大", "能多说说是什么让你有压力吗？")
    liked = store.messages("A")[-1].id
    store.add_feedback(liked, 1)
    _, disliked = _exchange(store, "B", "我最近压力很大", "别想太多。")
    store.add_feedback(disliked, -1, f"太敷衍，我的电话{PHONE}")
    # Session C: a disliked second-turn reply, then regenerated (old exchange superseded).
    _exchange(store, "C", "你好", "你好，我在。")
    uid, bad = _exchange(store, "C", "我睡不着", "那就别睡。")
    store.add_feedback(bad, -1)
    store.supersede([uid, bad])
    _, good = _exchange(store, "C", "我睡不着", "失眠很折磨人，最近是从什么时候开始的？", regenerates=bad)
    # A disliked safety template is never a rejected reply.
    _, template = _exchange(store, "D", "我不想活了", "请立即拨打12356。", action="template")
    store.add_feedback(template, -1)

    pairs = preference_pairs(store)
    assert len(pairs) == 2
    by_rejected = {p["rejected"][0]["content"]: p for p in pairs}
    first = by_rejected["别想太多。"]
    assert first["source"] == "feedback"
    assert first["messages"] == [{"role": "user", "content": "我最近压力很大"}]
    assert first["chosen"] == [{"role": "assistant", "content": "能多说说是什么让你有压力吗？"}]
    assert first["meta"]["chosen_by"] == "thumbs_up"
    assert first["meta"]["comments"]["rejected"] == ["太敷衍，我的电话[电话]"]
    second = by_rejected["那就别睡。"]
    assert second["meta"]["chosen_by"] == "regenerated" and second["meta"]["chosen_message_id"] == good
    assert second["messages"] == [
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "你好，我在。"},
        {"role": "user", "content": "我睡不着"},
    ]
    out = tmp_path / "pairs.jsonl"
    assert export_feedback(store, out, system="你是心语。") == 2
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert all(r["messages"][0] == {"role": "system", "content": "你是心语。"} for r in rows)
    assert [m.content for m in store.messages("C")][-1].startswith("失眠")  # active history
