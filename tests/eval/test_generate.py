"""Turn-based generation: samples, backends (batched, remote concurrent), cache, info.json."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.support.openai_server import ScriptedError
from xinyu.errors import DataError, XinyuError
from xinyu.eval.generate import run_generation
from xinyu.eval.identity import model_identity
from xinyu.eval.samples import build_samples
from xinyu.serve.backends import GenerationParams, load_backend


def _rows(out):
    return [json.loads(line) for line in (out / "generations.jsonl").read_text(encoding="utf-8").splitlines()]


def test_samples_follow_the_turn_based_protocol(test_split):
    samples = build_samples(test_split)
    assert [s.id for s in samples] == ["t-1#1", "t-1#2", "t-2#1", "t-3#1", "t-3#2", "t-3#3"]
    second = samples[1]
    assert [m["role"] for m in second.context] == ["user", "assistant", "user"]
    assert second.context[-1]["content"] == "项目快到期了，我怕做不完被领导批评。"
    assert second.reference.startswith("担心做不完")
    assert samples[2].context[0] == {"role": "system", "content": "你是一位温和的心理咨询师。"}


def test_system_prompt_max_turns_and_limit(test_split):
    samples = build_samples(test_split, system_prompt="你是心语。", max_turns=1)
    assert [s.id for s in samples] == ["t-1#1", "t-2#1", "t-3#1"]
    assert all(s.context[0] == {"role": "system", "content": "你是心语。"} for s in samples)
    assert sum(m["role"] == "system" for m in samples[1].context) == 1  # replaced, not added
    assert len(build_samples(test_split, limit=4)) == 4


def test_bad_test_data_names_the_line(tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_text('{"id": "a", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}\n'
                    '{"id": "b", "messages": [{"role": "user"}]}\n', encoding="utf-8")
    with pytest.raises(DataError) as err:
        build_samples(path)
    assert "line 2" in str(err.value) and "messages[0]" in str(err.value)


def test_generation_with_batched_transformers_and_cache(test_split, tmp_path, tiny_backend, tiny_model_dir, greedy):
    out = tmp_path / "eval"
    run_generation(tiny_backend, test_split, out, greedy, model=str(tiny_model_dir), name="tiny", batch_size=4,
                   progress=False)
    rows = _rows(out)
    assert [r["id"] for r in rows] == [s.id for s in build_samples(test_split)]
    for row in rows:
        assert set(row) >= {"id", "dialogue_id", "turn", "context", "reference", "prediction", "tokens", "latency"}
        assert isinstance(row["prediction"], str) and row["tokens"] >= 0 and row["cost_s"] >= 0
    info = json.loads((out / "info.json").read_text(encoding="utf-8"))
    assert info["name"] == "tiny" and info["backend"]["kind"] == "transformers"
    assert info["data"]["sha256"] and info["data"]["samples"] == 6
    assert info["params"]["max_new_tokens"] == greedy.max_new_tokens
    assert info["generation"]["mode"] == "batched" and info["generation"]["generated_now"] == 6
    assert info["xinyu_version"] and info["started_at"] and info["finished_at"]

    # Greedy batched generation equals one-at-a-time streaming.
    single = tmp_path / "single"
    run_generation(tiny_backend, test_split, single, greedy, model=str(tiny_model_dir), batch_size=1, progress=False)
    assert [r["prediction"] for r in _rows(single)] == [r["prediction"] for r in rows]

    # A rerun generates nothing and writes the same predictions.
    cache_file = next((out / "cache").glob("generations-*.jsonl"))
    lines = cache_file.read_text(encoding="utf-8").count("\n")
    run_generation(tiny_backend, test_split, out, greedy, model=str(tiny_model_dir), batch_size=4, progress=False)
    info = json.loads((out / "info.json").read_text(encoding="utf-8"))
    assert info["generation"]["generated_now"] == 0 and info["generation"]["from_cache"] == 6
    assert cache_file.read_text(encoding="utf-8").count("\n") == lines
    assert [r["prediction"] for r in _rows(out)] == [r["prediction"] for r in rows]

    # Other parameters: another cache key, everything generated again.
    run_generation(tiny_backend, test_split, out, greedy.replace(max_new_tokens=3), model=str(tiny_model_dir),
                   progress=False)
    assert len(list((out / "cache").glob("generations-*.jsonl"))) == 2


def test_fingerprint_follows_the_model_files(tmp_path, tiny_model_dir, tiny_backend):
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)

    class Info:
        name = "m"

        def info(self):
            return {"kind": "transformers", "model": str(copy), "adapter": None, "dtype": "float32"}

    first = model_identity(Info(), str(copy))["fingerprint"]
    assert model_identity(Info(), str(copy))["fingerprint"] == first
    weights = next(copy.glob("*.safetensors"))
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    assert model_identity(Info(), str(copy))["fingerprint"] != first


def test_remote_backend_runs_concurrently(test_split, tmp_path, scripted_openai):
    server = scripted_openai(lambda body: "回声：" + body["messages"][-1]["content"][:4])
    backend = load_backend(server.base_url, "remote", api_key_env="XINYU_TEST_KEY")
    out = tmp_path / "remote"
    run_generation(backend, test_split, out, GenerationParams(max_new_tokens=16, temperature=0.0), concurrency=3,
                   progress=False)
    rows = _rows(out)
    assert rows[0]["prediction"] == "回声：我最近总"
    assert rows[1]["prediction"] == "回声：项目快到"
    assert all(isinstance(r["tokens"], int) and r["tokens"] > 0 for r in rows)  # streamed chunks: no usage sent
    assert len(server.requests) == 6
    assert server.requests[0]["max_tokens"] == 16
    info = json.loads((out / "info.json").read_text(encoding="utf-8"))
    assert info["generation"]["mode"] == "concurrent" and info["generation"]["concurrency"] == 3
    assert info["model"]["kind"] == "remote"


def test_failed_samples_stay_missing_and_are_retried(test_split, tmp_path, scripted_openai):
    broken = {"on": True}

    def responder(body):
        if broken["on"] and "男朋友" in body["messages"][-1]["content"]:
            raise ScriptedError(400, "bad request")
        return "好的"

    server = scripted_openai(responder)
    backend = load_backend(server.base_url, "remote", api_key_env="XINYU_TEST_KEY", max_retries=0)
    out = tmp_path / "partial"
    with pytest.raises(XinyuError) as err:
        run_generation(backend, test_split, out, concurrency=2, progress=False)
    assert "1 of 6 generations failed" in str(err.value) and "t-2#1" in str(err.value)
    assert not (out / "generations.jsonl").exists()
    broken["on"] = False
    before = len(server.requests)
    run_generation(backend, test_split, out, concurrency=2, progress=False)
    assert len(server.requests) == before + 1  # only the missing sample
    assert all(r["prediction"] == "好的" for r in _rows(out))


def test_persona_keyword_means_the_served_persona(test_split):
    from xinyu.serve.persona import DEFAULT_PERSONA, resolve_system_prompt

    assert resolve_system_prompt("persona") == DEFAULT_PERSONA and resolve_system_prompt(None) is None
    assert resolve_system_prompt("你是心语。") == "你是心语。"
    samples = build_samples(test_split, system_prompt=resolve_system_prompt("persona"), max_turns=1)
    assert all(s.context[0] == {"role": "system", "content": DEFAULT_PERSONA} for s in samples)
