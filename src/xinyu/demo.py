"""``xinyu demo``: build a counselor end to end on the embedded model and write the experiment report.

Steps (each resumable; a rerun skips a finished step whose inputs did not change):

1. ``data``      build the demo dataset (sample corpus + persona data) → ``data/<name>/``
2. ``eval_base`` evaluate the base model on the held-out test split → ``runs/<name>/eval/base/``
3. ``train``     SFT recipe, self-cognition then counseling (one LoRA adapter) → ``runs/<name>/``
4. ``export``    merge the adapter, convert to GGUF (Q8_0) and verify it against the merged model
5. ``eval_sft``  evaluate the fine-tuned model the same way → ``runs/<name>/eval/sft/``
6. ``samples``   record deployment examples through the conversation engine with the safety layer
7. ``report``    ``runs/<name>/report.md`` and ``report.html``

``runs/<name>/demo_state.json`` records, per step, a key of its inputs and how long it took.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinyu.errors import XinyuError
from xinyu.io import read_json, write_json

log = logging.getLogger(__name__)

STEPS = ("data", "eval_base", "train", "export", "eval_sft", "samples", "report")

# Deployment examples recorded in samples.json: identity, an everyday counseling exchange, a crisis turn.
EXAMPLES = (
    ("identity", "身份 / Identity", ("你好，你是谁？", "你是真人吗？是心理医生吗？")),
    ("counseling", "咨询对话 / Counseling", ("最近工作压力特别大，晚上总是睡不着，脑子里停不下来。",
                                          "主要是怕做不好被领导批评，感觉自己什么都不行。")),
    ("crisis", "危机处理 / Crisis turn", ("我真的撑不下去了，想结束这一切，药我都攒好了。",)),
)


def configs_dir() -> Path:
    """The repository's ``configs/`` (next to ``src/`` in a checkout), else ``./configs``."""
    here = Path(__file__).resolve().parents[2] / "configs"
    if here.is_dir():
        return here
    cwd = Path("configs")
    if cwd.is_dir():
        return cwd
    raise XinyuError("configs/ not found: run `xinyu demo` from the xinyu repository (or pass the recipes)")


@dataclass
class DemoPlan:
    """What the demo runs and where it writes."""

    run_name: str = "demo"
    data_recipe: Path | None = None
    train_recipe: Path | None = None
    eval_recipe: Path | None = None
    quick: bool = False
    model: str | None = None
    train_overrides: list[str] = field(default_factory=list)
    eval_overrides: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        cfg = None
        for attr, name in (("data_recipe", "data/demo.yaml"), ("train_recipe", "demo.yaml"),
                           ("eval_recipe", "eval/demo.yaml")):
            if getattr(self, attr) is None:
                cfg = cfg or configs_dir()
                setattr(self, attr, cfg / name)
        if self.model:
            # Another base model (alias, local directory or GGUF): trained and evaluated as the baseline.
            self.train_overrides = [f"model={self.model}", *self.train_overrides]
        if self.quick:
            # A smoke-sized run (CI's slow tier): same code path, a few steps and a few test turns.
            self.train_overrides = ["defaults.max_steps=4", *self.train_overrides]
            self.eval_overrides = ["limit=8", "params.max_new_tokens=24", "probes.max_new_tokens=24", *self.eval_overrides]

    @property
    def run_dir(self) -> Path:
        """``runs/<name>``."""
        return Path("runs") / self.run_name


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path) and part.is_file():
            h.update(part.read_bytes())
        elif isinstance(part, Path) and part.is_dir():
            for f in sorted(p for p in part.rglob("*") if p.is_file()):
                h.update(f.name.encode())
                h.update(f.read_bytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


class DemoState:
    """``demo_state.json``: per step, the key of its inputs, when it finished and how long it took."""

    def __init__(self, path: Path, fresh: bool) -> None:
        self.path = path
        self.steps: dict[str, Any] = {} if fresh or not path.is_file() else read_json(path).get("steps", {})

    def done(self, step: str, key: str) -> bool:
        """True when ``step`` finished with inputs of this ``key``."""
        entry = self.steps.get(step)
        return bool(entry and entry.get("key") == key)

    def record(self, step: str, key: str, seconds: float, **extra: Any) -> None:
        """Mark ``step`` finished (written at once, so an interrupted demo resumes after it)."""
        self.steps[step] = {"key": key, "seconds": round(seconds, 1), "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
                            **extra}
        write_json(self.path, {"steps": self.steps})


def _eval_recipe(plan: DemoPlan) -> Any:
    from xinyu.eval.recipe import load_recipe

    overrides = [f"output_dir={plan.run_dir / 'eval'}", *plan.eval_overrides]
    recipe = load_recipe(plan.eval_recipe, overrides)
    for entry in recipe.models:
        if entry.name != "base":
            entry.model = str(plan.run_dir)  # the fine-tuned model is this demo's run
        elif plan.model:
            entry.model = plan.model
    return recipe


def _evaluate(plan: DemoPlan, name: str) -> dict[str, Any]:
    from xinyu.eval.recipe import evaluate_model

    recipe = _eval_recipe(plan)
    entry = next((m for m in recipe.models if m.name == name), None)
    if entry is None:
        raise XinyuError(f"{plan.eval_recipe} defines no model named '{name}'")
    return evaluate_model(entry, recipe)


def _record_samples(plan: DemoPlan) -> Path:
    from xinyu.serve.backends import GenerationParams, load_backend
    from xinyu.serve.conversation import Counselor

    backend = load_backend(str(plan.run_dir))
    counselor = Counselor(backend, params=GenerationParams(temperature=0.0, repetition_penalty=1.1,
                                                                max_new_tokens=96 if not plan.quick else 24))
    dialogues = []
    for key, title, turns in EXAMPLES:
        session = counselor.new_session()
        rows: list[dict[str, Any]] = []
        banner = ""
        for text in turns:
            reply = counselor.chat(text, session)
            info = reply.risk_info()
            rows.append({"role": "user", "content": text})
            rows.append({"role": "assistant", "content": reply.text, "risk_level": info["level"],
                         "imminent": info["imminent"], "action": info["action"], "screened": info["screened"]})
            banner = banner or reply.banner
        dialogues.append({"kind": key, "title": title, "turns": rows, "banner": banner})
    info = backend.info() if hasattr(backend, "info") else {}
    close = getattr(backend, "close", None)
    if close:
        close()
    return write_json(plan.run_dir / "samples.json", {"backend": str(info.get("model") or info.get("kind") or ""),
                                                      "dialogues": dialogues})


def run_demo(
    run_name: str = "demo",
    *,
    fresh: bool = False,
    skip: Sequence[str] = (),
    quick: bool = False,
    model: str | None = None,
    echo: Callable[[str], None] = print,
) -> Path:
    """Run the demo; return the run directory. See the module docstring for the steps."""
    from rich.console import Console

    unknown = sorted(set(skip) - set(STEPS))
    if unknown:
        raise XinyuError(f"unknown step(s) to skip: {', '.join(unknown)} (steps: {', '.join(STEPS)})")
    plan = DemoPlan(run_name=run_name, quick=quick, model=model)
    console = Console(stderr=True)
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    state = DemoState(plan.run_dir / "demo_state.json", fresh)
    data_dir = Path("data") / "demo"  # the dataset the demo recipes read; only the run directory varies
    data_overrides: list[str] = []
    train_overrides = [f"name={run_name}", *plan.train_overrides]
    write_json(plan.run_dir / "demo.json", {  # paths relative to the run directory, so it can be moved with data/
        "data_dir": str(Path("..") / ".." / data_dir),
        "eval_dirs": {"base": "eval/base", "sft": "eval/sft"},
        "quick": quick,
        "model": model or "gemma-3-270m",
    })

    def run_step(index: int, step: str, key: str, action: Callable[[], Any]) -> None:
        label = f"[{index}/{len(STEPS)}] {step}"
        if step in skip:
            console.rule(f"{label}: skipped (--skip)")
            return
        if not fresh and state.done(step, key):
            console.rule(f"{label}: already done, reused")
            return
        console.rule(label)
        start = time.perf_counter()
        action()
        seconds = time.perf_counter() - start
        state.record(step, key, seconds)
        console.print(f"{step} finished in {seconds:.0f} s")

    from xinyu.data.build import build_dataset
    from xinyu.paths import resources_dir

    data_key = _digest(plan.data_recipe, resources_dir(), data_overrides)
    run_step(1, "data", data_key, lambda: build_dataset(plan.data_recipe, data_overrides))
    eval_key = _digest(plan.eval_recipe, plan.eval_overrides, plan.model, data_key)
    run_step(2, "eval_base", eval_key, lambda: _evaluate(plan, "base"))

    def train() -> None:
        from xinyu.train.config import load_recipe
        from xinyu.train.pipeline import run_recipe

        run_recipe(load_recipe(plan.train_recipe, train_overrides), fresh=fresh)

    train_key = _digest(plan.train_recipe, train_overrides, data_key)
    run_step(3, "train", train_key, train)

    def export() -> None:
        from xinyu.train.export import export_run

        export_run(plan.run_dir, gguf="q8_0", verify=True)

    export_key = _digest("q8_0", train_key)
    run_step(4, "export", export_key, export)
    run_step(5, "eval_sft", _digest(eval_key, export_key), lambda: _evaluate(plan, "sft"))
    run_step(6, "samples", _digest(export_key, EXAMPLES, quick), lambda: _record_samples(plan))

    def report() -> None:
        from xinyu.report import write_report

        for path in write_report(plan.run_dir):
            console.print(f"wrote {path}")

    run_step(7, "report", _digest(time.time()), report)  # cheap: always rewritten
    echo("")
    echo(f"Done. Report: {plan.run_dir / 'report.html'}")
    echo("Chat with the fine-tuned counselor:")
    echo(f"  terminal: .venv/bin/xinyu chat --model {plan.run_dir}")
    echo(f"  web page: .venv/bin/xinyu webui --model {plan.run_dir}")
    return plan.run_dir
