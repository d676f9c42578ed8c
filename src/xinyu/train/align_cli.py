"""``xinyu eval align``: SFT vs. aligned policy on held-out prompts (light imports only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def align(
    before: Annotated[str, typer.Argument(help="The SFT policy: run dir, adapter dir, GGUF, HF dir or http(s):// URL.")],
    after: Annotated[str, typer.Argument(help="The aligned policy (same kinds of argument).")],
    prompts: Annotated[Path, typer.Option(help="Held-out dialogues, pairs or prompts (JSONL).")],
    reward_model: Annotated[
        Path | None, typer.Option(help="Reward stage directory, or a run holding one (default: found in AFTER).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory (default: <after>/eval-align or ./eval-align).")] = None,
    weights: Annotated[str, typer.Option(help="Reward weights, e.g. reward_model=1,safety=1,style=0.5.")] = (
        "reward_model=1,safety=1,style=0.5"
    ),
    names: Annotated[str, typer.Option(help="Labels of the two policies.")] = "sft,aligned",
    limit: Annotated[int | None, typer.Option(help="Seeded subset of prompts (0: all).")] = 32,
    samples: Annotated[int, typer.Option(help="Replies per prompt and policy.")] = 2,
    max_new_tokens: Annotated[int, typer.Option()] = 96,
    temperature: Annotated[float, typer.Option(help="0 for greedy (one reply per prompt).")] = 0.7,
    top_p: Annotated[float, typer.Option()] = 0.9,
    max_history: Annotated[int, typer.Option(help="History kept with each user turn (-1: all).")] = 4,
    seed: Annotated[int, typer.Option()] = 0,
    judge: Annotated[Path | None, typer.Option(help="YAML with a judge section: also judge every reply.")] = None,
) -> None:
    """Compare two policies: reward-model score, safety screen pass rate, safety reward, combined reward."""
    from xinyu.errors import XinyuError
    from xinyu.train.align_eval import compare_policies, markdown_section

    parsed: dict[str, float] = {}
    for item in filter(None, (w.strip() for w in weights.split(","))):
        key, _, value = item.partition("=")
        try:
            parsed[key.strip()] = float(value)
        except ValueError:
            raise XinyuError(f"--weights: expected name=number pairs, got '{item}'") from None
    label = tuple(n.strip() for n in names.split(","))
    if len(label) != 2:
        raise XinyuError("--names: expected two labels, e.g. sft,aligned")
    rm = reward_model
    if rm is None and Path(after).is_dir() and any(Path(after).glob("stages/*/reward_model.json")):
        rm = Path(after)
    target = out or (Path(after) / "eval-align" if Path(after).is_dir() else Path("eval-align"))
    judge_config = None
    if judge is not None:
        from xinyu.config import load_yaml, validate
        from xinyu.eval.judge import JudgeConfig

        data = load_yaml(judge)
        judge_config = validate(JudgeConfig, data.get("judge", data), source=judge)
    result = compare_policies(
        before, after, prompts, target, reward_model=rm, weights=parsed, names=label,  # type: ignore[arg-type]
        limit=limit or None, samples=samples, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
        seed=seed, max_history=None if max_history < 0 else max_history, judge_config=judge_config,
    )
    typer.echo(markdown_section(result))
    typer.echo(f"wrote {target / 'align.json'}, {target / 'align.md'}, {target / 'align_samples.jsonl'}")


def register(app: typer.Typer) -> None:
    """Add ``align`` to the ``xinyu eval`` group."""
    app.command("align")(align)
