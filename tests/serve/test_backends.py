import json

import pytest

from xinyu.errors import XinyuError
from xinyu.serve.backends import (
    GenerationParams,
    StopStrings,
    StreamStats,
    complete,
    load_backend,
    open_stream,
    pick_kind,
    preset,
)

CONVERSATIONS = [
    [{"role": "user", "content": "我最近总是睡不好"}],
    [{"role": "system", "content": "你是心语。"}, {"role": "user", "content": "工作压力很大，晚上总是失眠，怎么办？"}],
    [{"role": "user", "content": "嗯"}],
]


def test_stop_strings_hold_back_partial_matches():
    stops = StopStrings(["<end_of_turn>", "###"])
    out = [stops.feed(p) for p in ["你好", "<end", "_of", "_tu"]]
    assert out == ["你好", "", "", ""]
    assert stops.feed("rn>后面") == "" and stops.stopped
    stops = StopStrings(["###"])
    assert stops.feed("a#") == "a" and stops.feed("b") == "#b" and stops.flush() == ""
    stops = StopStrings(["###"])
    assert stops.feed("结尾#") == "结尾" and stops.flush() == "#"


def test_presets_are_copies():
    params = preset("hearmeglm")
    assert (params.top_p, params.temperature) == (0.7, 0.95)
    params.stop.append("x")
    assert preset("hearmeglm").stop == []
    with pytest.raises(XinyuError, match="hearmeglm"):
        preset("nope")


def test_transformers_stream_fills_stats(tiny_backend, greedy):
    stream, stats = open_stream(tiny_backend, CONVERSATIONS[0], greedy)
    text = "".join(stream)
    assert text
    expected_prompt = tiny_backend.count_tokens(tiny_backend.render(CONVERSATIONS[0]))
    assert stats.prompt_tokens == expected_prompt
    assert stats.completion_tokens == greedy.max_new_tokens
    assert stats.finish_reason == "length"
    assert tiny_backend.last_stats is stats
    # The plain contract (no stats argument) gives the same greedy text.
    assert complete(tiny_backend, CONVERSATIONS[0], greedy) == text


def test_transformers_close_stops_generation(tiny_backend):
    before = tiny_backend.streams_cancelled
    stream, stats = open_stream(tiny_backend, CONVERSATIONS[0], GenerationParams(temperature=0.0, max_new_tokens=500))
    next(stream)
    stream.close()
    assert tiny_backend.streams_cancelled == before + 1
    assert stats.finish_reason == "cancelled"
    assert stats.completion_tokens < 50  # stopped long before max_new_tokens


def test_transformers_stop_string_cuts_reply(tiny_backend, greedy):
    full = complete(tiny_backend, CONVERSATIONS[2], greedy)
    marker = full[3:5]
    cut = complete(tiny_backend, CONVERSATIONS[2], greedy.replace(stop=[marker]))
    assert cut == full[: full.index(marker)]


def test_generate_batch_equals_sequential_greedy(tiny_backend, greedy):
    sequential = [complete(tiny_backend, conv, greedy) for conv in CONVERSATIONS]
    assert tiny_backend.generate_batch(CONVERSATIONS, greedy, batch_size=2) == sequential
    assert tiny_backend.tokenizer.padding_side == "right"  # restored


def test_remote_backend_streams_and_sends_params(scripted_openai):
    server = scripted_openai(lambda body: "我在这里，愿意听你说。")
    backend = load_backend(server.base_url, max_retries=0)
    assert backend.name == "scripted"
    params = GenerationParams(temperature=0.3, top_p=0.8, max_new_tokens=33, seed=7, stop=["。"])
    stream, stats = open_stream(backend, CONVERSATIONS[1], params)
    assert "".join(stream) == "我在这里，愿意听你说。"
    body = server.requests[-1]
    assert body["messages"] == CONVERSATIONS[1]
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"], body["stop"]) == (
        0.3, 0.8, 33, 7, ["。"]
    )
    assert "repetition_penalty" not in body and "top_k" not in body
    assert stats.finish_reason == "stop" and stats.completion_tokens > 0
    complete(backend, CONVERSATIONS[0], params.replace(repetition_penalty=1.2, top_k=20))
    assert server.requests[-1]["repetition_penalty"] == 1.2 and server.requests[-1]["top_k"] == 20


def test_remote_backend_errors_are_clear(scripted_openai):
    from tests.support.openai_server import ScriptedError

    def fail(body):
        raise ScriptedError(503, "overloaded")

    server = scripted_openai(fail)
    backend = load_backend(server.base_url, remote_model="scripted", max_retries=0)
    with pytest.raises(XinyuError, match="503"):
        complete(backend, CONVERSATIONS[0], GenerationParams())


def test_remote_backend_close_counts_cancel(scripted_openai):
    server = scripted_openai(lambda body: "一二三四五六七八九十" * 5)
    backend = load_backend(server.base_url, max_retries=0)
    stream, stats = open_stream(backend, CONVERSATIONS[0], GenerationParams())
    next(stream)
    stream.close()
    assert stats.finish_reason == "cancelled" and backend.streams_cancelled == 1


def test_open_stream_wraps_foreign_backends():
    class Echo:
        name = "echo"

        def __init__(self):
            self.last_stats = None

        def stream(self, messages, params):
            yield from messages[-1]["content"]
            self.last_stats = StreamStats(prompt_tokens=3, completion_tokens=len(messages[-1]["content"]))

        def info(self):
            return {"kind": "echo"}

    stream, stats = open_stream(Echo(), [{"role": "user", "content": "你好"}], GenerationParams())
    assert "".join(stream) == "你好"
    assert (stats.prompt_tokens, stats.completion_tokens, stats.finish_reason) == (3, 2, "stop")


def test_load_backend_picks_kind(tiny_model_dir, tmp_path):
    assert pick_kind("http://host:8000/v1") == "remote"
    assert pick_kind(str(tiny_model_dir)) == "transformers"
    assert pick_kind(str(tiny_model_dir), kind="llama") == "llama"
    with pytest.raises(XinyuError, match="unknown backend kind"):
        pick_kind("x", kind="vllm")
    with pytest.raises(XinyuError, match="n_ctx"):
        load_backend(str(tiny_model_dir), n_ctx=1024)
    # A run directory whose model.json points at an HF model resolves through the pointer.
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.json").write_text(json.dumps({"path": str(tiny_model_dir), "base": "x"}), encoding="utf-8")
    assert pick_kind(str(run)) == "transformers"


@pytest.mark.slow
def test_llama_backend_on_embedded_gguf():
    from xinyu.models import embedded_gguf
    from xinyu.serve.backends_llama import LlamaCppBackend

    assert pick_kind("gemma-3-270m") == "llama"
    backend = LlamaCppBackend(embedded_gguf(), n_ctx=1024)
    info = backend.info()
    assert info["chat_template"] == "default:gemma" and info["n_ctx"] == 1024
    prompt = backend.render(CONVERSATIONS[1])
    assert prompt.startswith("<start_of_turn>user\n你是心语。") and prompt.endswith("<start_of_turn>model\n")
    params = GenerationParams(temperature=0.0, max_new_tokens=16)
    stream, stats = open_stream(backend, CONVERSATIONS[1], params)
    text = "".join(stream)
    assert stats.prompt_tokens == backend.count_tokens(prompt) + 1  # + BOS
    assert 0 < stats.completion_tokens <= 16 and stats.finish_reason in ("stop", "length")
    assert complete(backend, CONVERSATIONS[1], params) == text  # greedy is deterministic
    stream, stats = open_stream(backend, CONVERSATIONS[0], params.replace(max_new_tokens=200))
    next(stream)
    stream.close()
    assert stats.finish_reason == "cancelled" and stats.completion_tokens < 20
    # The lock was released: the next stream runs.
    assert complete(backend, CONVERSATIONS[0], params.replace(max_new_tokens=4))


def test_run_dir_with_lora_adapter_loads_through_transformers(tiny_model_dir, tiny_backend, tmp_path, greedy):
    """A freshly trained run (model.json → LoRA adapter on the tiny base) serves through transformers."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    peft_model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    with torch.no_grad():  # make the adapter change the output
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.add_(0.5)
    run = tmp_path / "runs" / "fresh"
    peft_model.save_pretrained(run / "adapter")
    (run / "model.json").write_text(json.dumps({"path": "adapter", "base": str(tiny_model_dir)}), encoding="utf-8")
    assert pick_kind(str(run)) == "transformers"
    backend = load_backend(str(run))
    assert backend.info()["kind"] == "transformers" and backend.name == "fresh"
    adapted = complete(backend, CONVERSATIONS[0], greedy)
    plain = complete(tiny_backend, CONVERSATIONS[0], greedy)
    assert adapted and adapted != plain


@pytest.mark.slow
def test_run_dir_with_exported_gguf_uses_llama(tmp_path):
    from xinyu.models import embedded_gguf

    run = tmp_path / "runs" / "exported"
    (run / "export").mkdir(parents=True)
    (run / "export" / "model-q4.gguf").symlink_to(embedded_gguf())
    (run / "model.json").write_text(json.dumps({"path": "export", "base": "gemma-3-270m",
                                                "gguf": "export/model-q4.gguf"}), encoding="utf-8")
    assert pick_kind(str(run)) == "llama"
    backend = load_backend(str(run), n_ctx=512)
    assert backend.info()["kind"] == "llama.cpp" and backend.name == "exported"
    assert complete(backend, CONVERSATIONS[0], GenerationParams(temperature=0.0, max_new_tokens=4))
