"""`xinyu data ...` through the real Typer app (CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xinyu.cli import app
from xinyu.data.schema import read_dialogues

FIX = Path(__file__).parents[1] / "fixtures" / "data"
runner = CliRunner()


def run(*args: str):
    result = runner.invoke(app, ["data", *args])
    return result


def test_formats_lists_every_format():
    result = run("formats")
    assert result.exit_code == 0
    for name in (
        "smile",
        "cpsycound",
        "cpsycoune",
        "emollm",
        "psyqa",
        "openai",
        "sharegpt",
        "alpaca",
        "llamafactory",
    ):
        assert name in result.output


def test_import_clean_split_stats_pipeline(tmp_path):
    raw = tmp_path / "raw.jsonl"
    result = run("import", str(FIX / "smile"), "-o", str(raw))
    assert result.exit_code == 0, result.output
    assert "wrote 4 dialogues" in result.output and "empty utterance" in result.output
    assert len(raw.read_text(encoding="utf-8").splitlines()) == 4

    cleaned = tmp_path / "clean.jsonl"
    result = run("clean", str(raw), "-o", str(cleaned))
    assert result.exit_code == 0, result.output
    assert "strip_role_prefixes" in result.output and "dropped because" in result.output
    kept = read_dialogues(cleaned, strict=True)
    assert len(kept) == 4 and kept[2].messages[0]["content"] == "我总觉得自己不够好，做什么都没有信心。"

    out = tmp_path / "split"
    result = run("split", str(cleaned), "-o", str(out), "--ratios", "50/50", "--seed", "1")
    assert result.exit_code == 0, result.output
    counts = {s: len(read_dialogues(out / f"{s}.jsonl")) for s in ("train", "val", "test")}
    assert counts == {"train": 2, "val": 2, "test": 0}

    result = run(
        "stats",
        str(out),
        "--tokenizer",
        "none",
        "--json",
        str(tmp_path / "stats.json"),
        "--plots",
        str(tmp_path / "plots"),
    )
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "stats.json").read_text(encoding="utf-8"))
    assert stats["files"]["train"]["dialogues"] == 2 and stats["tokenizer"] is None
    assert (tmp_path / "plots" / "turns_per_dialogue.png").is_file()


def test_clean_rule_switches(tmp_path):
    cleaned = tmp_path / "clean.jsonl"
    result = run(
        "clean", str(FIX / "smile"), "-o", str(cleaned), "--no-strip-role-prefixes", "--no-near-dedup"
    )
    assert result.exit_code == 0, result.output
    assert read_dialogues(cleaned)[2].messages[0]["content"].startswith("求助者：")


def test_import_options_dataset_and_skip_bad(tmp_path):
    out = tmp_path / "lf.jsonl"
    result = run(
        "import", str(FIX / "llamafactory" / "dataset_info.json"), "--dataset", "psy_alpaca", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    assert read_dialogues(out)[0].source == "psy_alpaca"
    result = run("import", str(FIX / "smile_bad"), "--skip-bad", "-o", str(tmp_path / "s.jsonl"))
    assert result.exit_code == 0 and "skipped:" in result.output and "bad records skipped" in result.output


def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path):
    from xinyu.errors import DataError

    result = run("import", str(FIX / "bad" / "broken.jsonl"), "-o", str(tmp_path / "x.jsonl"))
    assert result.exit_code != 0 and isinstance(result.exception, DataError)
    assert "line 3" in str(result.exception)
    assert not (tmp_path / "x.jsonl").exists()  # atomic: no partial output


def test_persona_command(tmp_path):
    out = tmp_path / "persona.jsonl"
    result = run("persona", "-o", str(out), "--name", "小语", "--author", "测试社区", "--n", "25")
    assert result.exit_code == 0, result.output
    dialogues = read_dialogues(out, strict=True)
    assert len(dialogues) == 25 and any("小语" in m["content"] for d in dialogues for m in d.messages)


def test_build_command(tmp_path):
    import yaml

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "name": "cli",
                "sources": [{"path": str(FIX / "cpsycound")}, {"builtin": "persona"}],
                "persona": {"n": 10},
                "stats": {"tokenizer": "none", "plots": False},
            }
        ),
        encoding="utf-8",
    )
    result = run("build", str(recipe), "split.seed=5", "--out", str(tmp_path / "ds"))
    assert result.exit_code == 0, result.output
    assert "splits" in result.output and "contamination" in result.output
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["split_seed"] == 5


def test_build_command_rejects_unknown_override(tmp_path):
    from xinyu.errors import ConfigError

    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: x\nsources: [{builtin: persona}]\n", encoding="utf-8")
    result = run("build", str(recipe), "split.sed=5")
    assert isinstance(result.exception, ConfigError) and "split.sed: unknown key" in str(result.exception)


@pytest.mark.parametrize("command", ["import", "clean", "split", "stats", "persona", "build", "formats"])
def test_help(command):
    assert run(command, "--help").exit_code == 0
