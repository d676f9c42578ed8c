"""The HTTP API end to end: a real `xinyu serve` process, the official openai client, plain HTTP."""

import json
import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import openai
import pytest

KEY, OTHER_KEY = "test-key-1", "test-key-2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    """`xinyu serve` on the tiny model (transformers backend) in a subprocess."""
    port = free_port()
    home = tmp_path_factory.mktemp("xinyu-home")
    log_path = home / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "XINYU_HOME": str(home), "XINYU_API_KEYS": OTHER_KEY}
    cmd = [
        sys.executable, "-m", "xinyu", "serve", "--model", str(tiny_model_dir), "--backend", "transformers",
        "--port", str(port), "--api-key", KEY, "--served-model-name", "tiny", "--preset", "greedy",
        "--max-new-tokens", "12", "--rate-limit", "600", "--rate-burst", "30", "--max-body-bytes", "200000",
        "--no-ui", "--log-level", "info",
    ]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"xinyu serve exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("xinyu serve did not start in time")
    yield {"base": base, "home": home, "log": log_path}
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server["base"] + "/v1", api_key=KEY, max_retries=0)


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server["base"], headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as c:
        yield c


def test_models_health_ready(client, http):
    assert [m.id for m in client.models.list()] == ["tiny"]
    assert httpx.get(http.base_url.join("/health")).json() == {"status": "ok"}
    ready = httpx.get(http.base_url.join("/ready")).json()  # no auth needed
    assert ready["status"] == "ready" and ready["backend"]["kind"] == "transformers"


def test_chat_completion_non_streaming(client):
    out = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "你好，想和你聊聊周末的安排"}])
    choice = out.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert out.usage.completion_tokens > 0 and out.usage.prompt_tokens > 10
    assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens
    assert out.model_extra["xinyu"]["level"] == "none"


def test_chat_completion_streaming_matches_non_streaming(client):
    messages = [{"role": "system", "content": "你是助手。"}, {"role": "user", "content": "今天心情不好"}]
    whole = client.chat.completions.create(model="tiny", messages=messages).choices[0].message.content
    chunks = list(
        client.chat.completions.create(
            model="tiny", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole  # greedy preset: same reply both ways
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and "xinyu" in finals[0].model_extra


def test_crisis_message_carries_risk_info(client):
    out = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "我不想活了，今晚就打算吃药结束这一切"}]
    )
    info = out.model_extra["xinyu"]
    assert info["level"] == "crisis" and info["banner"] and info["resources"]


def test_errors_have_openai_shape(client, http, server):
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hi"}])
    assert err.value.body["code"] == "model_not_found" and err.value.body["param"] == "model"

    bad_key = openai.OpenAI(base_url=server["base"] + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad_key.models.list()
    assert httpx.get(server["base"] + "/v1/models").status_code == 401

    resp = http.post("/v1/chat/completions", content=b'{"model": "tiny", "messages": [',
                     headers={"content-type": "application/json"})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == "invalid_json"

    resp = http.post("/v1/chat/completions", json={"model": "tiny", "messages": [{"role": "robot", "content": "x"}]})
    assert resp.status_code == 400 and resp.json()["error"]["param"].startswith("messages.0")

    resp = http.post("/v1/chat/completions", json={"model": "tiny", "messages": [{"role": "user", "content": "x"}],
                                                   "temperature": 5})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "temperature"

    huge = {"model": "tiny", "messages": [{"role": "user", "content": "很" * 100_000}]}
    resp = http.post("/v1/chat/completions", content=json.dumps(huge, ensure_ascii=False).encode())
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "request_too_large"

    # A second key from XINYU_API_KEYS works too.
    assert httpx.get(server["base"] + "/v1/models", headers={"Authorization": f"Bearer {OTHER_KEY}"}).status_code == 200


def test_rate_limit_per_key(server):
    statuses = []
    with httpx.Client(base_url=server["base"], headers={"Authorization": f"Bearer {OTHER_KEY}"}) as c:
        for _ in range(40):
            resp = c.get("/v1/models")
            statuses.append(resp.status_code)
            if resp.status_code == 429:
                assert int(resp.headers["Retry-After"]) >= 1
                assert resp.json()["error"]["type"] == "rate_limit_error"
                break
    assert statuses[-1] == 429 and statuses.count(200) >= 25
    # The other key has its own bucket.
    assert httpx.get(server["base"] + "/v1/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_sessions_feedback_and_export(http, server):
    created = http.post("/v1/sessions", json={"meta": {"channel": "test"}})
    assert created.status_code == 201
    sid = created.json()["id"]
    reply = http.post(f"/v1/sessions/{sid}/messages", json={"content": "我的电话是13812345678，最近失眠"}).json()
    assert reply["session_id"] == sid and reply["content"] and reply["usage"]["completion_tokens"] > 0
    with http.stream("POST", f"/v1/sessions/{sid}/regenerate", json={"stream": True}) as resp:
        events = [json.loads(line[6:]) for line in resp.iter_lines() if line.startswith("data: {")]
    assert events[0]["type"] == "start" and events[-1]["type"] == "done"
    regenerated = events[-1]["reply"]
    messages = http.get(f"/v1/sessions/{sid}/messages").json()
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert "13812345678" not in messages[0]["content"] and "[电话]" in messages[0]["content"]
    assert messages[1]["id"] == regenerated["id"]
    assert http.post("/v1/feedback", json={"message_id": reply["id"], "rating": "down", "comment": "太短"}).status_code == 201
    assert http.post("/v1/feedback", json={"message_id": "nope", "rating": 1}).status_code == 404
    assert http.post("/v1/feedback", json={"message_id": reply["id"], "rating": 3}).status_code == 400
    assert sid in [s["id"] for s in http.get("/v1/sessions").json()]

    out = server["home"] / "pairs.jsonl"
    env = {**os.environ, "XINYU_HOME": str(server["home"])}
    done = subprocess.run([sys.executable, "-m", "xinyu", "store", "export-feedback", "-o", str(out)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    pairs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    pair = next(p for p in pairs if p["meta"]["session_id"] == sid)
    assert pair["rejected"][0]["content"] == reply["content"]
    assert pair["chosen"][0]["content"] == regenerated["content"]
    assert pair["messages"][-1]["role"] == "user"

    assert http.delete(f"/v1/sessions/{sid}").json() == {"id": sid, "deleted": True}
    assert http.get(f"/v1/sessions/{sid}/messages").status_code == 404


def test_end_command_in_a_session(http):
    sid = http.post("/v1/sessions", json={}).json()["id"]
    reply = http.post(f"/v1/sessions/{sid}/messages", json={"content": "结束对话"}).json()
    assert reply["ended"] is True
    again = http.post(f"/v1/sessions/{sid}/messages", json={"content": "还在吗"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "session_ended"


def test_server_log_has_no_message_text(server, client):
    client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "日志里不应出现的橙色企鹅"}])
    time.sleep(0.2)
    log = server["log"].read_text(encoding="utf-8")
    assert "橙色企鹅" not in log and "13812345678" not in log and "POST /v1/chat/completions" in log


# -- in-process server: the backend's counters are visible to the test -------------------------------
@pytest.fixture
def inproc(tiny_backend, tmp_path):
    import uvicorn

    from xinyu.serve.api import create_app
    from xinyu.serve.backends import GenerationParams
    from xinyu.serve.conversation import Counselor
    from xinyu.serve.settings import ServeSettings
    from xinyu.serve.store import Store

    store = Store(f"sqlite:///{tmp_path / 'api.db'}", key="")
    counselor = Counselor(tiny_backend, params=GenerationParams(temperature=0.0, max_new_tokens=4000), store=store)
    app = create_app(counselor, ServeSettings(ui=False, rate_limit_per_minute=0, disconnect_poll_s=0.05), store)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def _wait(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_disconnect_stops_generation(inproc, tiny_backend):
    before = tiny_backend.streams_cancelled
    body = {"model": "tiny", "messages": [{"role": "user", "content": "讲一个很长的故事"}], "stream": True}
    with httpx.Client(base_url=inproc, timeout=30) as c, c.stream("POST", "/v1/chat/completions", json=body) as resp:
        lines = resp.iter_lines()
        got = [next(lines) for _ in range(6)]
    assert any("content" in line for line in got)
    assert _wait(lambda: tiny_backend.streams_cancelled == before + 1)
    stats = tiny_backend.last_stats
    assert stats.finish_reason == "cancelled" and stats.completion_tokens < 500


def test_queued_requests_run_in_order(inproc, tiny_backend):
    """Two clients at once: the backend runs one generation at a time, the second waits its turn."""
    results = {}

    def ask(name):
        body = {"model": "tiny", "messages": [{"role": "user", "content": name}], "max_tokens": 30}
        results[name] = (time.time(), httpx.post(inproc + "/v1/chat/completions", json=body, timeout=60))

    first = threading.Thread(target=ask, args=("一",))
    first.start()
    time.sleep(0.05)
    second = threading.Thread(target=ask, args=("二",))
    second.start()
    first.join()
    second.join()
    assert all(r.status_code == 200 for _, r in results.values())
    assert results["一"][0] <= results["二"][0]
