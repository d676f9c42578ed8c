"""The experiment report of a run, in Chinese and English, as ``report.md`` and a self-contained ``report.html``.

It is assembled from what the run already wrote, so nothing is re-computed by hand:

* the dataset directory (``manifest.json``, ``stats.json``, ``contamination.json``, ``plots/``),
* the training run (``train_summary.json``, ``config.yaml``, ``plots/loss.png``),
* the evaluation directories under ``runs/<name>/eval/`` (the first, conventionally ``base``, is the baseline),
* ``samples.json`` (deployment examples recorded through the conversation engine with the safety layer),
* ``report_intro.md`` (application and social value: a template copied into the run directory on first use,
  for the author to edit).

``runs/<name>/demo.json`` (written by ``xinyu demo``) names the dataset and evaluation directories; other runs
are discovered from the training recipe.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinyu.errors import XinyuError
from xinyu.eval.render import Figure, Heading, Paragraph, Table, to_html, to_markdown
from xinyu.io import read_json, write_text

INTRO = Path(__file__).parent / "resources" / "intro.md"

DATA_PLOTS = (
    ("tokens_per_dialogue.png", "每段对话的 token 数 / Tokens per dialogue"),
    ("turns_per_dialogue.png", "每段对话的轮数 / Turns per dialogue"),
    ("chars_per_turn.png", "每轮字符数 / Characters per turn"),
    ("dialogues_by_topic.png", "各主题对话数 / Dialogues per topic"),
)
HYPERPARAMETERS = (
    "epochs", "lr", "scheduler", "warmup_ratio", "batch_size", "grad_accum", "max_length", "optimizer",
    "weight_decay", "packing", "group_by_length", "gradient_checkpointing", "early_stopping_patience",
)


@dataclass
class ReportInputs:
    """Where the pieces of a run are."""

    run_dir: Path
    data_dir: Path | None = None
    eval_dirs: list[Path] = field(default_factory=list)
    eval_names: list[str] = field(default_factory=list)
    compare_dir: Path | None = None


def _data_dir_from_recipe(summary: dict[str, Any]) -> Path | None:
    for stage in (summary.get("recipe") or {}).get("stages", []):
        train = (stage.get("data") or {}).get("train")
        if train and (Path(train).parent / "manifest.json").is_file():
            return Path(train).parent
    return None


def find_inputs(run_dir: str | Path) -> ReportInputs:
    """Locate the dataset and evaluation directories of a run."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise XinyuError(f"{run_dir}: no such run directory")
    demo = read_json(run_dir / "demo.json") if (run_dir / "demo.json").is_file() else {}
    inputs = ReportInputs(run_dir=run_dir)
    if demo.get("data_dir"):  # relative paths in demo.json are relative to the run directory
        inputs.data_dir = Path(os.path.normpath(run_dir / demo["data_dir"]))
    elif (run_dir / "train_summary.json").is_file():
        inputs.data_dir = _data_dir_from_recipe(read_json(run_dir / "train_summary.json"))
    if demo.get("eval_dirs"):
        inputs.eval_names = list(demo["eval_dirs"])
        inputs.eval_dirs = [run_dir / p for p in demo["eval_dirs"].values()]
    elif (run_dir / "eval").is_dir():
        found = sorted(p for p in (run_dir / "eval").iterdir() if (p / "generations.jsonl").is_file())
        found.sort(key=lambda p: (p.name != "base", p.name))  # the base model is the baseline
        inputs.eval_dirs = found
        inputs.eval_names = [p.name for p in found]
    inputs.compare_dir = run_dir / "eval" / "compare"
    return inputs


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and abs(value) >= 100:
        return f"{value:,.1f}"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value else f"{value:,.{digits}f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _intro(run_dir: Path) -> list[Any]:
    path = run_dir / "report_intro.md"
    if not path.is_file():
        shutil.copyfile(INTRO, path)  # the author edits this copy; later reports keep their text
    blocks: list[Any] = []
    for chunk in path.read_text(encoding="utf-8").split("\n\n"):
        chunk = chunk.strip()
        if not chunk or chunk.startswith("<!--"):
            continue
        if chunk.startswith("## "):
            blocks.append(Heading(chunk[3:].strip()))
        else:
            blocks.append(Paragraph(" ".join(line.strip() for line in chunk.splitlines())))
    return blocks


def _data_section(data_dir: Path | None) -> list[Any]:
    blocks: list[Any] = [Heading("数据 / Data")]
    if data_dir is None or not (data_dir / "manifest.json").is_file():
        return [*blocks, Paragraph("The dataset directory of this run was not found (no manifest.json).")]
    manifest = read_json(data_dir / "manifest.json")
    stats = read_json(data_dir / "stats.json") if (data_dir / "stats.json").is_file() else {}
    blocks.append(Paragraph(
        f"Dataset '{manifest.get('name')}' in {data_dir}, built by xinyu {manifest.get('xinyu_version')} on "
        f"{manifest.get('created_at')} (seed {manifest.get('seed')}). Every count below comes from its manifest."
    ))
    rows = []
    for src in manifest.get("sources", []):
        counts = src.get("counts") or {}
        rows.append([
            str(src.get("name") or src.get("builtin") or src.get("path")), str(src.get("format") or "–"),
            str(src.get("license") or "–"), _fmt(counts.get("imported")), _fmt(counts.get("dropped_by_cleaning")),
            _fmt(counts.get("kept")),
        ])
    blocks.append(Table(["来源 source", "格式 format", "许可 license", "imported", "dropped", "kept"], rows,
                        caption="数据来源与许可 / Sources and licenses"))
    cleaning = (stats.get("cleaning") or {})
    rules = cleaning.get("rules") or {}
    reasons = cleaning.get("dropped") or {}
    if rules or reasons:
        rows = [[f"rule: {k}", _fmt(v)] for k, v in rules.items() if v] + \
            [[f"dropped: {k}", _fmt(v)] for k, v in reasons.items() if v]
        idle = [k for k, v in rules.items() if not v]
        caption = "清洗记录 / Cleaning log (turns changed per rule; dialogues dropped per reason)"
        if rows:
            blocks.append(Table(["清洗规则 rule / 丢弃原因 drop reason", "count"], rows, caption=caption))
        blocks.append(Paragraph(
            (f"Rules applied that changed nothing: {', '.join(idle)}. " if idle else "")
            + ("No dialogue was dropped." if not any(reasons.values()) else "")
        ))
    splits = stats.get("splits") or {}
    if splits:
        blocks.append(Table(
            ["split", "dialogues", "mean turns", "median chars", "median tokens"],
            [[name, _fmt(s.get("dialogues")), _fmt((s.get("turns_per_dialogue") or {}).get("mean"), 3),
              _fmt((s.get("chars_per_dialogue") or {}).get("p50")),
              _fmt((s.get("tokens_per_dialogue") or {}).get("p50"))] for name, s in splits.items()],
            caption="划分 / Splits (by dialogue, seeded; persona data in train only)",
        ))
    split_cfg = (manifest.get("recipe") or {}).get("split") or {}
    if split_cfg:
        blocks.append(Paragraph(
            f"划分依据 / Split rationale: dialogues (never single turns) are assigned to train/val/test with ratios "
            f"{split_cfg.get('ratios')} and seed {split_cfg.get('seed')}, stratified by "
            f"{split_cfg.get('stratify') or 'nothing'}, so every topic is represented in the held-out test set and no "
            "dialogue contributes turns to two splits. Near-duplicates are kept in one split."
        ))
    blocks += _contamination(data_dir)
    for name, caption in DATA_PLOTS:
        if (data_dir / "plots" / name).is_file():
            blocks.append(Figure(data_dir / "plots" / name, caption))
    return blocks


def _contamination(data_dir: Path) -> list[Any]:
    path = data_dir / "contamination.json"
    if not path.is_file():
        return [Paragraph("污染检查 / Contamination check: not run.")]
    report = read_json(path)
    rows = []
    for name, part in report.items():
        if isinstance(part, dict) and "flagged_count" in part:
            rows.append([name, _fmt(part.get("targets_checked")), _fmt(part.get("flagged_count")),
                         _fmt(part.get("likely_leak_count"))])
    if not rows:
        return [Paragraph(f"污染检查 / Contamination check: see {path}.")]
    return [Table(["check", "dialogues checked", "sharing a long n-gram", "likely leaks"], rows,
                  caption="污染检查 / Contamination: held-out assistant turns that share long character n-grams with "
                          "training data")]


def _training_section(run_dir: Path) -> list[Any]:
    blocks: list[Any] = [Heading("微调过程 / Fine-tuning")]
    path = run_dir / "train_summary.json"
    if not path.is_file():
        return [*blocks, Paragraph("This run has no train_summary.json (not trained yet).")]
    summary = read_json(path)
    recipe = summary.get("recipe") or {}
    lora = recipe.get("lora") or {}
    blocks.append(Paragraph(
        f"Base model {summary.get('model')}, method {summary.get('method')} on {summary.get('device')}; LoRA r="
        f"{lora.get('r')}, alpha={lora.get('alpha')}, dropout={lora.get('dropout')}, targets "
        f"{lora.get('target_modules')}. Stages continue one adapter. The resolved recipe is in {run_dir}/config.yaml."
    ))
    stages = summary.get("stages") or []
    names = [str(s.get("name")) for s in stages]
    rows = []
    for key in HYPERPARAMETERS:
        values = [s.get("hyperparameters", {}).get(key, s.get(key)) for s in stages]
        if any(v is not None for v in values):
            rows.append([key, *[_fmt(v) for v in values]])
    if rows:
        blocks.append(Table(["超参数 hyperparameter", *names], rows, caption="超参数 / Hyperparameters per stage"))
    if (run_dir / "plots" / "loss.png").is_file():
        blocks.append(Figure(run_dir / "plots" / "loss.png", "损失曲线 / Training and validation loss"))
    record_keys = (
        ("tokens", "tokens (non-padding)"), ("train_runtime_s", "train time (s)"), ("tokens_per_s", "tokens/s"),
        ("peak_rss_mb", "peak RSS (MB)"), ("peak_cuda_mb", "peak GPU memory (MB)"),
        ("trainable_params", "trainable params"), ("final_train_loss", "final train loss"),
        ("final_val_loss", "final val loss"),
    )
    total = summary.get("total") or {}
    rows = [[label, *[_fmt(s.get(key)) for s in stages], _fmt(total.get(key))] for key, label in record_keys
            if any(s.get(key) is not None for s in stages) or total.get(key) is not None]
    blocks.append(Table(["训练记录 record", *names, "total"], rows, caption="训练记录 / Training records"))
    return blocks


def _evaluation_section(inputs: ReportInputs) -> list[Any]:
    from xinyu.eval.compare import comparison_blocks, load_run

    blocks: list[Any] = [Heading("评估 / Evaluation (before and after fine-tuning)")]
    if not inputs.eval_dirs:
        return [*blocks, Paragraph("No evaluation directories under this run (run `xinyu eval run`).")]
    runs = [load_run(path, name) for path, name in zip(inputs.eval_dirs, inputs.eval_names, strict=True)]
    out = inputs.compare_dir or inputs.run_dir / "eval" / "compare"
    out.mkdir(parents=True, exist_ok=True)
    blocks.append(Paragraph(
        "Turn-based protocol (CPsyCoun): for each assistant turn of the held-out test split, the model sees the gold "
        "history up to the preceding user turn and writes one reply. Relative changes are against "
        f"'{runs[0].name}'. A judge section appears when an LLM judge was configured."
    ))
    return blocks + comparison_blocks(runs, out, samples=3, level=3)


def _examples_section(run_dir: Path) -> list[Any]:
    blocks: list[Any] = [Heading("部署示例 / Deployment examples")]
    path = run_dir / "samples.json"
    if not path.is_file():
        return [*blocks, Paragraph("No recorded examples (samples.json); `xinyu demo` records them.")]
    samples = read_json(path)
    blocks.append(Paragraph(
        f"Recorded through the conversation engine (persona, history budget, safety layer before and after the "
        f"model) on {samples.get('backend', 'the fine-tuned model')}. Safety columns show what the layer decided."
    ))
    for dialogue in samples.get("dialogues", []):
        blocks.append(Heading(str(dialogue.get("title")), level=3))
        rows = []
        for turn in dialogue.get("turns", []):
            safety = ""
            if turn.get("role") == "assistant":
                bits = [f"risk={turn.get('risk_level', 'none')}"]
                if turn.get("imminent"):
                    bits.append("imminent")
                if turn.get("action") and turn.get("action") != "generate":
                    bits.append(f"policy={turn['action']}")
                if turn.get("screened"):
                    bits.append("screened")
                safety = ", ".join(bits)
            role = "用户 user" if turn.get("role") == "user" else "心语 assistant"
            rows.append([role, str(turn.get("content", "")), safety])
        blocks.append(Table(["", "内容 content", "安全 safety"], rows))
        if dialogue.get("banner"):
            blocks.append(Paragraph(f"界面横幅 / UI banner: {dialogue['banner']}"))
    return blocks


def _deploy_section(run_dir: Path) -> list[Any]:
    model_json = read_json(run_dir / "model.json") if (run_dir / "model.json").is_file() else {}
    target = str(run_dir)
    lines = [
        f"终端 / terminal: xinyu chat --model {target}",
        f"网页 / web page: xinyu webui --model {target}   (http://127.0.0.1:7860)",
        f"API (OpenAI-compatible): xinyu serve --model {target} --port 8000   (POST /v1/chat/completions, web page at /ui)",
    ]
    if model_json.get("gguf"):
        lines.append(f"GGUF for llama.cpp / Ollama / LM Studio: {run_dir / model_json['gguf']}")
    return [
        Heading("部署 / How to deploy"),
        *[Paragraph(line) for line in lines],
        Paragraph("Any OpenAI client works against the API (base_url http://127.0.0.1:8000/v1). On a GPU cluster, "
                  "serve the merged checkpoint with vLLM and put xinyu's safety layer in front of it with "
                  "`xinyu serve --model http://vllm-host:8000/v1 --remote-model NAME`."),
    ]


LIMITS = (
    "局限 / Limitations: xinyu is not a substitute for professional care, diagnosis or treatment. The demo model is a "
    "270M-parameter base model fine-tuned for minutes on 165 example dialogues: it learns the tone and format of a "
    "supportive reply, not clinical skill, and it makes mistakes. Reference metrics (BLEU/ROUGE) measure overlap "
    "with one gold reply, not helpfulness; a judge model or human review is needed for quality. The crisis layer "
    "reduces but does not remove risk: it can miss novel phrasing. In an emergency call 110 / 120; the national "
    "psychological assistance hotline is 12356."
)


def build_blocks(inputs: ReportInputs) -> list[Any]:
    """All sections of the report, in order."""
    blocks: list[Any] = []
    blocks += _intro(inputs.run_dir)
    blocks += _data_section(inputs.data_dir)
    blocks += _training_section(inputs.run_dir)
    blocks += _evaluation_section(inputs)
    blocks += _examples_section(inputs.run_dir)
    blocks += _deploy_section(inputs.run_dir)
    blocks += [Heading("局限 / Limitations"), Paragraph(LIMITS)]
    return blocks


def write_report(run_dir: str | Path) -> list[Path]:
    """Write ``report.md`` and ``report.html`` (self-contained, images embedded) into the run directory."""
    inputs = find_inputs(run_dir)
    blocks = build_blocks(inputs)
    title = f"心语 xinyu 实验报告 / Experiment report: {inputs.run_dir.name}"
    md = write_text(inputs.run_dir / "report.md", to_markdown(title, blocks, inputs.run_dir))
    page = write_text(inputs.run_dir / "report.html", to_html(title, blocks))
    return [md, page]
