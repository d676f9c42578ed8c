"""SFT speed/memory benchmark: xinyu's SFT stage against TRL's ``SFTTrainer`` defaults, same run.

Both train the embedded Gemma-3-270M with the same LoRA adapter (r=16, alpha=32, dropout 0.05, the
alias's attention+MLP projections) for the same number of optimizer steps on the same 100 sample
dialogues (``src/xinyu/data/resources/sample_corpus``, the first 100 by id), ``max_length=384``:

* ``trl-default``: ``SFTConfig()`` defaults apart from the output directory, ``max_length=384``,
  ``max_steps``, ``logging_steps=1`` (to record the loss curve) and ``bf16=False``. TRL's default
  ``bf16=True`` refuses to start on a CPU; with ``use_cpu=True`` it autocasts to bf16, which a CPU
  without AVX512-BF16 (like this one) emulates at a few tokens/s. Dialogues are given in the
  conversational ``messages`` format, so TRL trains on every token (its default).
* ``xinyu``: xinyu's SFT stage (assistant-only loss, labelled-positions LM head, no gradient
  checkpointing), same optimizer, schedule, learning rate and effective batch: 8 = 1 dialogue x 8
  accumulation steps, so no position is padding and attention needs no padding mask.
* ``xinyu-all-tokens``: the same with ``train_on_prompt: true``, i.e. TRL's objective (loss on every
  token), to compare the loss curve step by step with TRL's.

Each run is a fresh process (peak RSS is per run). Reported: non-padding tokens/s over the training
loop (``train_runtime``), peak RSS, final train loss, and (``--heldout N``) the assistant-token loss
of each trained adapter on N held-out sample dialogues, computed the same way for all.

Usage::

    .venv/bin/python benchmarks/bench_sft.py                  # 8 steps, about 10-20 minutes on 2 cores
    .venv/bin/python benchmarks/bench_sft.py --steps 4 --heldout 0 --json runs/bench_sft.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "src" / "xinyu" / "data" / "resources" / "sample_corpus"
LORA = {"r": 16, "alpha": 32, "dropout": 0.05}
TARGET_SPEEDUP = 2.0


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_sample(n: int) -> tuple[list[dict], list[dict]]:
    rows = []
    for path in sorted(SAMPLE.glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(rows) < n:
        sys.exit(f"the sample corpus has {len(rows)} dialogues, fewer than --n {n}")
    rows.sort(key=lambda r: r["id"])
    return rows[:n], rows[n:]


def heldout_loss(model, tokenizer, dialogues: list[dict], max_length: int) -> float:
    """Mean assistant-token loss of ``model`` on ``dialogues`` (the same measure for every run)."""
    import torch

    from xinyu.models.masks import tokenize_dialogue
    from xinyu.train.loss import attach_labelled_loss

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    attach_labelled_loss(base)
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for d in dialogues:
            ex = tokenize_dialogue(tokenizer, d["messages"], max_length=max_length)
            ids = torch.tensor([ex.input_ids])
            out = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=torch.tensor([ex.labels]),
                        xinyu_labelled_loss=True)
            total += float(out.loss_sum)
            count += int(out.num_labels)
    return total / max(count, 1)


# ------------------------------------------------------------------------------------------- runs


def run_trl(work: Path, args: argparse.Namespace) -> dict:
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from xinyu.models import ALIASES, load_model

    train, heldout = load_sample(args.n)
    model, tokenizer = load_model("gemma-3-270m", trainable_adapter=True)
    config = SFTConfig(output_dir=str(work / "trl"), max_length=args.max_length, max_steps=args.steps,
                       logging_steps=1, bf16=False)
    peft_config = LoraConfig(r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"],
                             target_modules=list(ALIASES["gemma-3-270m"].lora_targets), task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=config, processing_class=tokenizer, peft_config=peft_config,
                         train_dataset=Dataset.from_list([{"messages": d["messages"]} for d in train]))
    output = trainer.train()
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    result = {
        "tokens": trainer._total_train_tokens,
        "runtime_s": output.metrics["train_runtime"],
        "losses": losses,
        "optim": str(config.optim), "lr": config.learning_rate, "batch": config.per_device_train_batch_size,
        "grad_accum": config.gradient_accumulation_steps, "gradient_checkpointing": config.gradient_checkpointing,
    }
    if args.heldout:
        result["heldout_loss"] = heldout_loss(trainer.model, tokenizer, heldout[: args.heldout], args.max_length)
    return result


def run_xinyu(work: Path, args: argparse.Namespace, all_tokens: bool) -> dict:
    from xinyu.models import load_model
    from xinyu.train.config import validate_recipe
    from xinyu.train.pipeline import run_recipe

    train, heldout = load_sample(args.n)
    data = work / "train.jsonl"
    data.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in train), encoding="utf-8")
    name = "xinyu-all" if all_tokens else "xinyu"
    recipe = validate_recipe({
        "name": name, "model": "gemma-3-270m", "method": "lora", "lora": LORA, "output_dir": str(work),
        "seed": 42,
        "stages": [{
            "name": "sft", "data": {"train": str(data)}, "max_steps": args.steps, "lr": 2e-5,
            "scheduler": "linear", "optimizer": "adamw_torch_fused", "batch_size": 1, "grad_accum": 8,
            "max_length": args.max_length, "logging_steps": 1, "train_on_prompt": all_tokens,
        }],
    })
    run_dir = run_recipe(recipe, fresh=True)
    summary = json.loads((run_dir / "train_summary.json").read_text(encoding="utf-8"))
    stage = summary["stages"][0]
    losses = [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()
              if '"loss"' in line]
    result = {"tokens": stage["tokens"], "runtime_s": stage["train_runtime_s"], "losses": losses,
              "label_tokens": stage["label_tokens"]}
    if args.heldout:
        model, tokenizer = load_model(str(run_dir))
        result["heldout_loss"] = heldout_loss(model, tokenizer, heldout[: args.heldout], args.max_length)
    return result


def child(args: argparse.Namespace) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    work = Path(args.workdir)
    start = time.perf_counter()
    if args.child == "trl-default":
        result = run_trl(work, args)
    else:
        result = run_xinyu(work, args, all_tokens=args.child == "xinyu-all-tokens")
    result["wall_s"] = time.perf_counter() - start
    result["peak_rss_mb"] = peak_rss_mb()
    (work / f"{args.child}.json").write_text(json.dumps(result), encoding="utf-8")


# ----------------------------------------------------------------------------------------- parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=8, help="optimizer steps per run (effective batch 8)")
    parser.add_argument("--n", type=int, default=100, help="training dialogues")
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--heldout", type=int, default=24, help="held-out dialogues to score (0: skip)")
    parser.add_argument("--runs", default="trl-default,xinyu,xinyu-all-tokens")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per run (0: torch's default)")
    parser.add_argument("--parallel", action="store_true",
                        help="run the first run (TRL) beside the others (one after another), so that on a shared "
                             "machine the baseline and xinyu see the same load")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    results = {}
    names = args.runs.split(",")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with tempfile.TemporaryDirectory(prefix="bench_sft_") as tmp:
        def start(name: str) -> subprocess.Popen:
            print(f"running {name} ...", flush=True)
            cmd = [sys.executable, __file__, "--child", name, "--workdir", tmp, "--steps", str(args.steps),
                   "--n", str(args.n), "--max-length", str(args.max_length), "--heldout", str(args.heldout),
                   "--threads", str(args.threads)]
            return subprocess.Popen(cmd, env=env)

        # --parallel: the first run (TRL) in one lane, the others one after another in a second lane, so
        # that the baseline shares the machine with a xinyu run for (nearly) its whole duration.
        background = start(names[0]) if args.parallel else None
        for name in names[1:] if args.parallel else names:
            if start(name).wait() != 0:
                sys.exit(f"{name} failed")
        if background is not None and background.wait() != 0:
            sys.exit(f"{names[0]} failed")
        for name in names:
            results[name] = json.loads((Path(tmp) / f"{name}.json").read_text(encoding="utf-8"))
    report(results, args)


def report(results: dict, args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    base = results.get("trl-default")
    how = "concurrently" if args.parallel else "one after the other"
    table = Table(title=f"SFT on gemma-3-270m, LoRA r=16, {args.n} dialogues, max_length {args.max_length}, "
                        f"{args.steps} steps x batch 8; runs {how}, torch threads {args.threads or 'default'}")
    for col in ("run", "tokens", "train s", "tokens/s", "speed-up", "peak RSS MiB", "first loss", "final loss",
                "held-out loss"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for name, r in results.items():
        r["tokens_per_s"] = r["tokens"] / r["runtime_s"]
        speed = r["tokens_per_s"] / (base["tokens"] / base["runtime_s"]) if base else None
        r["speedup"] = speed
        table.add_row(name, f"{r['tokens']:,}", f"{r['runtime_s']:.1f}", f"{r['tokens_per_s']:.1f}",
                      f"{speed:.2f}x" if speed else "–", f"{r['peak_rss_mb']:.0f}", f"{r['losses'][0]:.3f}",
                      f"{r['losses'][-1]:.3f}", f"{r['heldout_loss']:.3f}" if "heldout_loss" in r else "–")
    console = Console()
    console.print(table)
    if base and "xinyu-all-tokens" in results:
        a, b = base["losses"], results["xinyu-all-tokens"]["losses"]
        diffs = [abs(x - y) for x, y in zip(a, b, strict=False)]
        console.print(f"loss curve, all-token objective: max |xinyu - TRL| per step = {max(diffs):.3f} "
                      f"(TRL {', '.join(f'{x:.2f}' for x in a)}; xinyu {', '.join(f'{x:.2f}' for x in b)})")
    if base and "xinyu" in results:
        ok = results["xinyu"]["speedup"] >= TARGET_SPEEDUP and results["xinyu"]["peak_rss_mb"] <= base["peak_rss_mb"]
        console.print(f"target: >= {TARGET_SPEEDUP}x TRL's tokens/s with no more memory -> {'met' if ok else 'NOT met'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)}, "results": results},
                                        indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
