"""Fixtures for the evaluation tests: a small hand-written test split and two tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# Written for these tests (not taken from any corpus).
DIALOGUES = [
    {
        "id": "t-1",
        "source": "fixture",
        "messages": [
            {"role": "user", "content": "我最近总是睡不着，脑子里一直在想工作的事。"},
            {"role": "assistant", "content": "听起来工作给你带来了很大的压力，能说说具体是哪些事让你放不下吗？"},
            {"role": "user", "content": "项目快到期了，我怕做不完被领导批评。"},
            {"role": "assistant", "content": "担心做不完又怕被批评，这种紧绷的感觉一定很累。我们可以一起看看哪些事情最要紧。"},
        ],
        "meta": {"topic": "career"},
    },
    {
        "id": "t-2",
        "source": "fixture",
        "messages": [
            {"role": "system", "content": "你是一位温和的心理咨询师。"},
            {"role": "user", "content": "和男朋友吵架了，他好几天不回我消息。"},
            {"role": "assistant", "content": "几天都等不到回复，你心里一定很不安。吵架的时候发生了什么呢？"},
        ],
        "meta": {"topic": "love"},
    },
    {
        "id": "t-3",
        "source": "fixture",
        "messages": [
            {"role": "user", "content": "孩子不愿意去上学，我不知道该怎么办。"},
            {"role": "assistant", "content": "孩子不想上学，做父母的难免着急。他有没有说过是什么原因？"},
            {"role": "user", "content": "他说同学总是笑话他。"},
            {"role": "assistant", "content": "被同学取笑会让孩子很难受。你可以先耐心听他讲讲发生了什么，让他感到被理解。"},
            {"role": "user", "content": "好的，我回去试试。"},
            {"role": "assistant", "content": "好的，有需要随时再来聊。"},
        ],
        "meta": {"topic": "family"},
    },
]


@pytest.fixture
def test_split(tmp_path) -> Path:
    """A Dialogue JSONL test split with 3 dialogues and 6 assistant turns."""
    path = tmp_path / "data" / "test.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in DIALOGUES), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def second_tiny_model_dir(tmp_path_factory, embedded_tokenizer) -> Path:
    """Another tiny random Gemma-3 model (different seed), to compare two models."""
    from tests.conftest import build_tiny_model

    return build_tiny_model(embedded_tokenizer, tmp_path_factory.mktemp("tiny-gemma-b"), seed=1)


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir):
    """A transformers backend over the tiny model (session-wide: loads once)."""
    from xinyu.serve.backends_hf import TransformersBackend

    return TransformersBackend(str(tiny_model_dir), name="tiny-a")


@pytest.fixture
def greedy():
    """Short greedy generation parameters."""
    from xinyu.serve.backends import GenerationParams

    return GenerationParams(max_new_tokens=6, temperature=0.0, top_p=1.0)


def write_generations(out_dir: Path, n: int = 4) -> Path:
    """An evaluation directory with ``n`` hand-written generations (no model needed)."""
    replies = ["我在听，你愿意多说一点吗？", "别想太多，睡一觉就好了。", "听起来你很难过。", "嗯。"]
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        rows.append({
            "id": f"d{i}#1", "dialogue_id": f"d{i}", "turn": 1,
            "context": [{"role": "system", "content": "你是心理咨询师。"}, {"role": "user", "content": f"我很难受（{i}）"}],
            "reference": "我在这里陪着你。", "prediction": replies[i % len(replies)],
            "tokens": 5, "latency": 0.1, "cost_s": 0.1, "finish_reason": "stop",
        })
    (out_dir / "generations.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    (out_dir / "info.json").write_text(json.dumps({"name": out_dir.name}), encoding="utf-8")
    return out_dir


@pytest.fixture
def retry_after_server():
    """A loopback OpenAI-protocol server answering 429 with ``Retry-After: 1.2`` once, then a verdict."""
    import threading
    import time

    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from tests.support.openai_server import _free_port

    app = FastAPI()
    hits: list[float] = []

    @app.post("/v1/chat/completions")
    def chat() -> JSONResponse:
        hits.append(time.monotonic())
        if len(hits) == 1:
            return JSONResponse({"error": {"message": "slow down"}}, status_code=429, headers={"Retry-After": "1.2"})
        return JSONResponse({
            "id": "x", "object": "chat.completion", "created": 0, "model": "judge",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "[2, 3, 3, 1]"}, "finish_reason": "stop"}],
        })

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/v1", hits
    server.should_exit = True
    thread.join(timeout=10)
