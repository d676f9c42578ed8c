"""Comparison report: tables with relative changes, charts, judge CIs, probes, samples, contamination."""

from __future__ import annotations

import json
import re

import pytest

from tests.eval.conftest import write_generations
from xinyu.errors import DataError
from xinyu.eval.compare import relative_change, write_comparison
from xinyu.eval.metrics import compute_metrics

PNG = b"\x89PNG\r\n\x1a\n"


def _judge(out, mean):
    dims = {d: {"mean": mean, "ci_low": mean - 0.2, "ci_high": mean + 0.1, "max": m}
            for d, m in (("comprehensiveness", 2), ("professionalism", 3), ("authenticity", 3), ("safety", 1),
                         ("total", 9))}
    (out / "judge.json").write_text(json.dumps({"judge_model": "gpt-4o", "prompt_sha256": "ab" * 32, "valid": 4,
                                                "invalid": 1, "errors": 0, "dimensions": dims}), encoding="utf-8")


def _runs(tmp_path):
    a = write_generations(tmp_path / "base", n=4)
    b = write_generations(tmp_path / "sft", n=4)
    rows = [json.loads(line) for line in (b / "generations.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rows:
        row["prediction"] = row["reference"]  # the "fine-tuned" model matches the reference
    (b / "generations.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    info = {"name": "x", "data": {"path": str(tmp_path / "data" / "test.jsonl"), "sha256": "s"}, "params": {}}
    for d in (a, b):
        (d / "info.json").write_text(json.dumps({**info, "name": d.name}), encoding="utf-8")
    return a, b


def test_relative_change():
    assert relative_change(14.8, 10.0) == "+48.0%"
    assert relative_change(5.0, 10.0) == "-50.0%"
    assert relative_change(1.0, 0.0) == "n/a" and relative_change(None, 1.0) == "n/a"


def test_report_compares_two_runs(tmp_path):
    a, b = _runs(tmp_path)
    _judge(a, 1.0)
    _judge(b, 1.5)
    (a / "probes.json").write_text(json.dumps({"rates": {"all": {"rate": 0.25, "n": 4}}}), encoding="utf-8")
    paths = write_comparison([a, b], ["基座", "微调"], tmp_path / "cmp", samples=2)
    md, page = paths[0].read_text(encoding="utf-8"), paths[1].read_text(encoding="utf-8")
    base_bleu = compute_metrics(a, progress=False)["bleu-4"]
    assert f"{base_bleu:.4f}" in md
    assert "| bleu-4 |" in md and "微调 vs 基座" in md
    assert re.search(r"\| bleu-4 \| [\d.]+ \| 100\.0000 \| \+[\d.]+% \|", md)
    assert "1.000 [0.800, 1.100]" in md and "+50.0%" in md  # judge means with CIs and change
    assert "25% (n=4)" in md
    assert "contamination" in md and "not checked" in md
    assert md.count("- **reference**") == 2
    for png in paths[2:]:
        assert png.read_bytes().startswith(PNG)
    # self-contained HTML: only embedded images, no external links, a CJK font stack, escaped text
    assert "<img" in page and not re.search(r'src="(?!data:image/png;base64,)', page)
    assert "<link" not in page and "http" not in page
    assert "Noto Sans CJK SC" in page and "微调" in page


def test_contamination_status_is_read(tmp_path):
    a, b = _runs(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    (data / "contamination.json").write_text(json.dumps({"name": "test", "ngram_chars": 13, "targets_checked": 40,
                                                         "flagged_count": 3, "flagged": []}), encoding="utf-8")
    md = write_comparison([a, b], None, tmp_path / "cmp")[0].read_text(encoding="utf-8")
    assert "3 of 40 dialogues share a 13-character" in md


def test_incomparable_runs_are_flagged(tmp_path):
    a, b = _runs(tmp_path)
    info = json.loads((b / "info.json").read_text(encoding="utf-8"))
    info["data"]["sha256"] = "other"
    (b / "info.json").write_text(json.dumps(info), encoding="utf-8")
    md = write_comparison([a, b], None, tmp_path / "cmp")[0].read_text(encoding="utf-8")
    assert "Not comparable: the runs differ in test data." in md


def test_not_an_eval_dir(tmp_path):
    with pytest.raises(DataError):
        write_comparison([tmp_path], None, tmp_path / "cmp")
