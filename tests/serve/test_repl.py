"""`xinyu chat` driven through stdin, as a user would run it (tiny model, transformers backend)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

from xinyu.serve.persona import CLOSING_MESSAGE


def chat_cmd(model_dir, *extra):
    return [sys.executable, "-m", "xinyu", "chat", "--model", str(model_dir), "--backend", "transformers",
            "--preset", "greedy", *extra]


def env():
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


def run_repl(counselor, lines, session=None, session_file=None):
    """Drive the REPL in-process: ``lines`` are what the user types; returns the printed text."""
    from io import StringIO

    from rich.console import Console

    from xinyu.serve.repl import Repl

    feed = iter(lines)

    def read(prompt):
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    out = StringIO()
    repl = Repl(counselor, session=session, session_file=session_file,
                console=Console(file=out, width=200, highlight=False), read=read)
    repl.run()
    return out.getvalue(), repl


def test_repl_commands_multiline_banner_and_end(tiny_backend, tmp_path):
    from xinyu.serve.backends import GenerationParams
    from xinyu.serve.conversation import Counselor
    from xinyu.serve.repl import load_session_file

    counselor = Counselor(tiny_backend, params=GenerationParams(temperature=0.0, max_new_tokens=6))
    session_file = tmp_path / "chat.jsonl"
    other = tmp_path / "other.jsonl"
    lines = [
        "你好",
        "第一行\\",
        "第二行",
        '"""',
        "块一",
        "块二",
        '"""',
        "/help",
        f"/save {other}",
        "/nope",
        "我不想活了，今晚就打算吃药结束这一切",
        "结束对话",
        "这一行不会被读到",
    ]
    out, repl = run_repl(counselor, lines, session_file=session_file)
    assert "不是医生或心理咨询师" in out  # the AI notice
    assert "/reset" in out and "多行输入" in out  # /help
    assert "未知命令 /nope" in out
    assert "请注意" in out and "12356" in out  # crisis banner
    assert CLOSING_MESSAGE in out and repl.session.ended
    record = json.loads(session_file.read_text(encoding="utf-8").splitlines()[0])
    users = [m["content"] for m in record["messages"] if m["role"] == "user"]
    assert users == ["你好", "第一行\n第二行", "块一\n块二", "我不想活了，今晚就打算吃药结束这一切", "结束对话"]
    assert record["messages"][0]["role"] == "system"
    assert record["messages"][-1] == {"role": "assistant", "content": CLOSING_MESSAGE}
    saved = json.loads(other.read_text(encoding="utf-8"))
    assert len(saved["messages"]) == 1 + 6  # persona + three exchanges at the time of /save

    # A saved chat continues; /reset empties it; /quit leaves.
    session = load_session_file(other)
    assert len(session.history) == 6
    out, repl = run_repl(counselor, ["继续", "/reset", "再来", "/quit", "不会读到"], session=session,
                         session_file=other)
    assert "已清空对话历史" in out
    record = json.loads(other.read_text(encoding="utf-8"))
    assert [m["content"] for m in record["messages"] if m["role"] == "user"] == ["再来"]


def test_session_file_errors_name_the_line(tmp_path):
    import pytest

    from xinyu.errors import DataError
    from xinyu.serve.repl import load_session_file

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "robot", "content": "x"}]}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl, line 1, field 'messages'.*role"):
        load_session_file(bad)


def test_ctrl_c_interrupts_generation_then_exits(tiny_model_dir, tmp_path):
    """The real `xinyu chat` process: stdin input, SIGINT during replies and at the prompt."""
    session_file = tmp_path / "chat.jsonl"
    cmd = chat_cmd(tiny_model_dir, "--max-new-tokens", "4000", "--session-file", str(session_file))
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    output: list[str] = []

    def read():
        while True:
            ch = proc.stdout.read(1)
            if not ch:
                return
            output.append(ch)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def wait_for(predicate, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if predicate("".join(output)):
                return True
            time.sleep(0.05)
        return False

    assert wait_for(lambda o: "/help" in o), "".join(output)
    proc.stdin.write("讲一个很长的故事\n")
    proc.stdin.flush()
    assert wait_for(lambda o: o.count("心语: ") >= 1 and len(o.split("心语: ")[-1]) > 20)
    proc.send_signal(signal.SIGINT)
    assert wait_for(lambda o: "[已中断]" in o), "".join(output)
    # Still alive and answering.
    proc.stdin.write("你好\n")
    proc.stdin.flush()
    assert proc.poll() is None
    assert wait_for(lambda o: o.count("心语: ") >= 2 and len(o.split("心语: ")[-1]) > 10)
    proc.send_signal(signal.SIGINT)  # interrupts the second reply
    assert wait_for(lambda o: o.count("[已中断]") == 2 and o.rstrip().endswith("你:"))
    proc.send_signal(signal.SIGINT)  # at the prompt: first press warns
    assert wait_for(lambda o: "再按一次" in o)
    proc.send_signal(signal.SIGINT)  # second press exits
    assert proc.wait(timeout=20) == 0
    # Interrupted replies are kept (partial) in the saved session.
    record = json.loads(session_file.read_text(encoding="utf-8"))
    assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert all(m["content"] for m in record["messages"])
