"""``xinyu train`` and ``xinyu export`` (light imports only)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def _setup_logging() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("httpx", "urllib3", "datasets", "accelerate"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def register(app: typer.Typer) -> None:
    """Add the training commands to the root app."""

    @app.command("train")
    def train(
        recipe: Annotated[Path, typer.Argument(help="Recipe YAML, e.g. configs/demo.yaml.")],
        overrides: Annotated[
            list[str] | None, typer.Argument(help="Dotted overrides: lora.r=16 stages.1.lr=2e-5 ...")
        ] = None,
        fresh: Annotated[
            bool, typer.Option("--fresh", help="Redo every stage, ignoring finished ones and checkpoints.")
        ] = False,
    ) -> None:
        """Fine-tune a model from a multi-stage recipe into runs/<name>/ (resumable)."""
        from xinyu.train.config import load_recipe

        _setup_logging()
        loaded = load_recipe(recipe, overrides or [])
        from xinyu.train.pipeline import run_recipe

        run_dir = run_recipe(loaded, fresh=fresh)
        if os.environ.get("RANK", "0") != "0":
            return  # other ranks of a distributed launch stay quiet
        summary = run_dir / "summary.md"
        if summary.is_file():
            typer.echo(summary.read_text(encoding="utf-8"))
        typer.echo(f"run directory: {run_dir}")

    @app.command("export")
    def export(
        run_dir: Annotated[Path, typer.Argument(help="A run directory (runs/<name>) or a LoRA adapter directory.")],
        merge: Annotated[
            bool, typer.Option("--merge", help="Write the merged Hugging Face checkpoint (export/merged).")
        ] = False,
        gguf: Annotated[
            str | None, typer.Option("--gguf", help="Also write a GGUF for llama.cpp: q8_0, f16 or q4_k_m.")
        ] = None,
        output: Annotated[
            Path | None, typer.Option("-o", "--output", help="Output directory (default: RUN_DIR/export).")
        ] = None,
        verify: Annotated[bool, typer.Option(help="Check the GGUF's greedy tokens against the merged model.")] = True,
    ) -> None:
        """Merge a run's adapter into its base model and/or convert it to GGUF."""
        from xinyu.errors import XinyuError

        if not merge and not gguf:
            raise XinyuError("nothing to export: pass --merge and/or --gguf q8_0|f16|q4_k_m")
        _setup_logging()
        from xinyu.train.export import export_run

        result = export_run(run_dir, merge=merge, gguf=gguf, output=output, verify=verify)
        if result.merged:
            typer.echo(f"merged checkpoint: {result.merged}")
        if result.gguf:
            typer.echo(f"GGUF: {result.gguf}")
        if result.verification:
            v = result.verification
            status = "passed" if v.passed else "FAILED"
            typer.echo(f"verification {status}: {v.greedy_prefix}/{v.n_tokens} leading greedy tokens identical, "
                       f"{v.exact_agreement:.0%} identical, {v.agreement:.0%} identical or near-tie ({v.rule})")
            if not v.passed:
                raise typer.Exit(1)
