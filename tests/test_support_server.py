import openai
import pytest

from tests.support.openai_server import ScriptedError


def test_scripted_server_speaks_openai_protocol(scripted_openai):
    calls = {"n": 0}

    def responder(body):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ScriptedError(503, "busy")
        return "你好" + body["messages"][-1]["content"]

    server = scripted_openai(responder)
    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "a"}])
    assert err.value.status_code == 503
    out = client.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "世界"}])
    assert out.choices[0].message.content == "你好世界"
    stream = client.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "x"}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream) == "你好x"
    assert [m.id for m in client.models.list()] == ["scripted"]
