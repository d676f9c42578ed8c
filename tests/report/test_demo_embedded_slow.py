"""``xinyu demo --quick`` on the embedded model (slow tier): every step, GGUF export included, then the report."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_quick_demo_on_the_embedded_model(tmp_path, monkeypatch):
    pytest.importorskip("llama_cpp")
    from typer.testing import CliRunner

    from xinyu.cli import app
    from xinyu.demo import STEPS

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["demo", "--quick", "--name", "e2e"])
    assert result.exit_code == 0, result.output
    assert "xinyu chat --model runs/e2e" in result.output
    run = tmp_path / "runs" / "e2e"
    assert set(json.loads((run / "demo_state.json").read_text())["steps"]) == set(STEPS)
    export = json.loads((run / "export" / "export.json").read_text())
    assert export["verification"]["passed"]
    # Both evaluations went through llama.cpp: the base model's GGUF and the run's exported Q8_0 file.
    for name in ("base", "sft"):
        info = json.loads((run / "eval" / name / "info.json").read_text())
        assert info["backend"]["kind"] == "llama.cpp"
    assert json.loads((run / "model.json").read_text())["gguf"].endswith(".gguf")
    samples = json.loads((run / "samples.json").read_text())
    crisis = next(d for d in samples["dialogues"] if d["kind"] == "crisis")["turns"][1]
    assert crisis["risk_level"] == "crisis" and crisis["imminent"] and "120" in crisis["content"]
    identity = next(d for d in samples["dialogues"] if d["kind"] == "identity")["turns"]
    assert all(t["content"].strip() for t in identity)
    md = (run / "report.md").read_text(encoding="utf-8")
    assert "sft vs base" in md and "GGUF for llama.cpp" in md
