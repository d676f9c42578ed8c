"""``xinyu demo`` end to end on a tiny model (every step but GGUF export), then the report in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.browser import ARGS, ARTIFACTS, CHROMIUM


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, tiny_model_dir):
    """Run the demo once on the tiny random model; return (working dir, run dir, echoed lines)."""
    import os

    from xinyu.demo import run_demo

    work = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    cwd = os.getcwd()
    os.chdir(work)  # the demo writes data/ and runs/ under the working directory
    try:
        run = run_demo("tiny", quick=True, model=str(tiny_model_dir), skip=["export"], echo=lines.append)
    finally:
        os.chdir(cwd)
    return work, work / run, lines


def test_every_step_runs_and_a_rerun_reuses_them(demo_run, tiny_model_dir, monkeypatch):
    from xinyu.demo import STEPS, run_demo

    work, run, lines = demo_run
    state = json.loads((run / "demo_state.json").read_text())["steps"]
    assert set(state) == set(STEPS) - {"export"}
    assert (work / "data" / "demo" / "manifest.json").is_file()
    for name in ("base", "sft"):
        metrics = json.loads((run / "eval" / name / "metrics.json").read_text())
        assert metrics["n"] == 8  # --quick evaluates 8 test turns
    assert json.loads((run / "eval" / "base" / "info.json").read_text())["model"]["model"] == str(tiny_model_dir)
    summary = json.loads((run / "train_summary.json").read_text())
    assert [s["name"] for s in summary["stages"]] == ["self_cognition", "counseling"]
    samples = json.loads((run / "samples.json").read_text())
    crisis = next(d for d in samples["dialogues"] if d["kind"] == "crisis")
    reply = crisis["turns"][1]
    assert reply["risk_level"] == "crisis" and reply["imminent"]
    assert "12356" in reply["content"] or "120" in reply["content"]  # the policy answers, whatever the model says
    assert any(f"xinyu chat --model {Path('runs') / 'tiny'}" in line for line in lines)

    # A rerun reuses every finished step (and rewrites only the report).
    before = {step: entry["finished"] for step, entry in state.items()}
    monkeypatch.chdir(work)
    run_demo("tiny", quick=True, model=str(tiny_model_dir), skip=["export"], echo=lambda _: None)
    after = json.loads((run / "demo_state.json").read_text())["steps"]
    assert {s: after[s]["finished"] for s in before if s != "report"} == {s: v for s, v in before.items() if s != "report"}


def test_unknown_step_is_refused():
    from xinyu.demo import run_demo
    from xinyu.errors import XinyuError

    with pytest.raises(XinyuError, match=r"unknown step.*exprot"):
        run_demo("x", skip=["exprot"])


def test_report_sections(demo_run):
    _, run, _ = demo_run
    md = (run / "report.md").read_text(encoding="utf-8")
    for heading in ("## 数据 / Data", "## 微调过程 / Fine-tuning", "## 评估 / Evaluation", "### Reference-based metrics",
                    "### Persona probes", "## 部署示例 / Deployment examples", "## 部署 / How to deploy",
                    "## 局限 / Limitations"):
        assert heading in md, heading
    assert "| sample | dialogue |" in md and "| persona | persona |" in md  # sources with licenses
    assert "| bleu-4 |" in md and "sft vs base" in md
    assert "| lr | 0.0002 | 0.0002 |" in md  # the recipe's hyperparameters, per stage
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and 'src="' not in html.replace('src="data:', "")  # self-contained
    # The editable introduction is copied once and kept.
    intro = run / "report_intro.md"
    intro.write_text("## 应用价值 / Value\n\n自定义的介绍。\n", encoding="utf-8")
    from xinyu.report import write_report

    write_report(run)
    assert "自定义的介绍。" in (run / "report.md").read_text(encoding="utf-8")


def test_report_displays_in_chromium_with_chinese_glyphs(demo_run):
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed at /usr/bin/chromium")
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    _, run, _ = demo_run
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        page.goto((run / "report.html").resolve().as_uri(), wait_until="load")
        assert "实验报告" in page.locator("h1").inner_text()
        images = page.evaluate("[...document.images].map(i => [i.complete, i.naturalWidth])")
        assert len(images) >= 5 and all(done and width > 0 for done, width in images)
        # Glyphs, not boxes: with no CJK font every character draws as the same .notdef box.
        page.evaluate("""() => { for (const t of ['心语', '报告']) { const s = document.createElement('span');
            s.textContent = t; s.className = 'glyph-probe'; s.style.fontSize = '40px'; document.body.prepend(s); } }""")
        probes = page.locator("span.glyph-probe")
        first, second = probes.nth(0).screenshot(), probes.nth(1).screenshot()
        assert first != second
        page.evaluate("() => document.querySelectorAll('span.glyph-probe').forEach(s => s.remove())")
        shot = page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        browser.close()
    assert len(shot) > 50_000


def test_markdown_figures_resolve_from_the_report(demo_run):
    import re

    _, run, _ = demo_run
    md = (run / "report.md").read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert any("tokens_per_dialogue.png" in link for link in links)  # a data plot outside the run directory
    assert links and all((run / link).is_file() for link in links)
