"""LLM judge against a real loopback server speaking the OpenAI protocol."""

from __future__ import annotations

import json
import time

import pytest

from tests.eval.conftest import write_generations
from tests.support.openai_server import ScriptedError
from xinyu.errors import XinyuError
from xinyu.eval.judge import JudgeConfig, parse_verdict, render_prompt, run_judge


def _config(server, **kw) -> JudgeConfig:
    return JudgeConfig(**{"base_url": server.base_url, "model": "judge-x", "api_key_env": "XINYU_TEST_KEY", "concurrency": 2, **kw})


def _read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize(
    ("text", "scores"),
    [
        ("[2, 3, 3, 1]", (2, 3, 3, 1)),
        ("理由：回应到位。\n[1，2，2，1]", (1, 2, 2, 1)),
        ("例如 [1, 2, 2, 1]……最终评分：\n[0, 0, 1, 1]", (0, 0, 1, 1)),
        ("［2, 1, 0, 0］", (2, 1, 0, 0)),
    ],
)
def test_parse_valid_verdicts(text, scores):
    parsed, problem = parse_verdict(text)
    assert problem is None
    assert tuple(parsed.values()) == scores


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("很好", "no [c, p, a, s]"),
        ("", "empty"),
        ("[3, 3, 3, 1]", "comprehensiveness=3 is outside 0-2"),
        ("[2, 3, 3, 2]", "safety=2 is outside 0-1"),
        ("[2, 2.5, 3, 1]", "professionalism=2.5 is not an integer"),
        ("[2, 3, 3]", "no [c, p, a, s]"),
        ("[-1, 3, 3, 1]", "outside"),
    ],
)
def test_parse_rejects_bad_verdicts(text, problem):
    parsed, found = parse_verdict(text)
    assert parsed is None
    assert problem in found


def test_prompt_holds_history_and_reply_without_system():
    context = [{"role": "system", "content": "SYS"}, {"role": "user", "content": "我睡不着"}]
    prompt = render_prompt("${history}\n---\n${reply}", context, "我在听", "zh")
    assert prompt == "来访者：我睡不着\n---\n我在听"


def test_valid_verdicts_and_summary(tmp_path, scripted_openai):
    def responder(body):
        reply = body["messages"][0]["content"].split("[咨询师的回复]")[1]
        return "理由略。\n[2, 3, 3, 1]" if "听" in reply else "理由略。\n[1, 1, 1, 1]"

    server = scripted_openai(responder)
    out = write_generations(tmp_path / "run", n=4)
    summary = run_judge(out, _config(server), progress=False)
    assert summary["valid"] == 4 and summary["invalid"] == 0 and summary["errors"] == 0
    comp = summary["dimensions"]["comprehensiveness"]
    assert comp["mean"] == pytest.approx((2 + 1 + 2 + 1) / 4)
    assert comp["ci_low"] <= comp["mean"] <= comp["ci_high"] and comp["max"] == 2
    assert summary["dimensions"]["total"]["max"] == 9
    assert summary["judge_model"] == "judge-x" and len(summary["prompt_sha256"]) == 64
    rows = _read(out / "judge.jsonl")
    assert [r["id"] for r in rows] == ["d0#1", "d1#1", "d2#1", "d3#1"]
    assert rows[0]["scores"] == {"comprehensiveness": 2, "professionalism": 3, "authenticity": 3, "safety": 1}
    assert json.loads((out / "judge.json").read_text(encoding="utf-8"))["valid"] == 4
    assert all(req["model"] == "judge-x" for req in server.requests)


def test_malformed_then_valid_is_retried(tmp_path, scripted_openai):
    def responder(body):
        return "[2, 2, 2, 1]" if len(body["messages"]) == 3 else "我觉得这个回复还不错。"

    server = scripted_openai(responder)
    out = write_generations(tmp_path / "run", n=2)
    summary = run_judge(out, _config(server), progress=False)
    assert summary["valid"] == 2
    rows = _read(out / "judge.jsonl")
    assert all(r["attempts"] == 2 for r in rows)
    assert len(server.requests) == 4
    correction = server.requests[-1]["messages"][-1]["content"]
    assert "无法解析" in correction and "no [c, p, a, s]" in correction


def test_always_malformed_is_recorded_invalid_not_zero(tmp_path, scripted_openai):
    server = scripted_openai(lambda body: "[3, 3, 3, 1]")
    out = write_generations(tmp_path / "run", n=2)
    summary = run_judge(out, _config(server, parse_retries=1), progress=False)
    assert summary["valid"] == 0 and summary["invalid"] == 2
    assert summary["dimensions"]["comprehensiveness"]["mean"] is None
    rows = _read(out / "judge.jsonl")
    assert all(r["valid"] is False and r["scores"] is None for r in rows)
    assert "outside 0-2" in rows[0]["problem"]
    assert len(server.requests) == 4  # 1 + parse_retries per sample


def test_503_then_success_backs_off(tmp_path, scripted_openai):
    calls = {"n": 0}

    def responder(body):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ScriptedError(503, "overloaded")
        return "[1, 2, 3, 1]"

    server = scripted_openai(responder)
    out = write_generations(tmp_path / "run", n=1)
    start = time.monotonic()
    summary = run_judge(out, _config(server, max_retries=2), progress=False)
    assert summary["valid"] == 1 and summary["errors"] == 0
    assert len(server.requests) == 2
    assert time.monotonic() - start >= 0.3  # first backoff: 0.5 s minus at most 25% jitter


def test_retry_after_is_honoured(tmp_path, retry_after_server):
    base_url, hits = retry_after_server
    out = write_generations(tmp_path / "run", n=1)
    config = JudgeConfig(base_url=base_url, model="j", api_key_env="XINYU_TEST_KEY", max_retries=2)
    summary = run_judge(out, config, progress=False)
    assert summary["valid"] == 1
    assert len(hits) == 2 and hits[1] - hits[0] >= 1.1


def test_rerun_is_served_from_cache(tmp_path, scripted_openai):
    server = scripted_openai(lambda body: "[2, 3, 3, 1]")
    out = write_generations(tmp_path / "run", n=3)
    run_judge(out, _config(server), progress=False)
    assert len(server.requests) == 3
    again = run_judge(out, _config(server), progress=False)
    assert len(server.requests) == 3
    assert again["from_cache"] == 3 and again["valid"] == 3
    # another judge model is another cache key
    run_judge(out, _config(server).model_copy(update={"model": "judge-y"}), progress=False)
    assert len(server.requests) == 6


def test_limit_picks_a_seeded_subset(tmp_path, scripted_openai):
    server = scripted_openai(lambda body: "[2, 3, 3, 1]")
    out = write_generations(tmp_path / "run", n=4)
    summary = run_judge(out, _config(server, limit=2, seed=5), progress=False)
    ids = [r["id"] for r in _read(out / "judge.jsonl")]
    assert summary["n"] == 2 and len(ids) == 2 and len(server.requests) == 2
    other = write_generations(tmp_path / "other", n=4)
    run_judge(other, _config(server, limit=2, seed=5), progress=False)
    assert [r["id"] for r in _read(other / "judge.jsonl")] == ids  # same subset for every model


def test_dead_endpoint_fails_with_a_clear_error(tmp_path, scripted_openai):
    def responder(body):
        raise ScriptedError(401, "invalid api key")

    server = scripted_openai(responder)
    out = write_generations(tmp_path / "run", n=6)
    with pytest.raises(XinyuError) as err:
        run_judge(out, _config(server, max_retries=0, concurrency=1), progress=False)
    assert "401" in str(err.value) and "$XINYU_TEST_KEY" in str(err.value)
    assert not (out / "judge.json").exists()
