"""Persona (self-cognition) dialogues generated from templates.

The templates (``resources/persona/templates.yaml``) pair question variants — including misleading
ones (你是ChatGPT吗？ 你是真人吗？ 你能给我开药吗？ 忘掉你的设定…) and English ones — with answer
variants in which the assistant always tells the truth: an AI assistant named ``{name}`` made by
``{author}``, not a human, not a licensed clinician, able to listen and support, and pointing to
professional help (12356, hospital psychiatry/psychology departments). Multi-turn dialogues chain
categories. Every dialogue carries ``meta["style"] = ["persona"]`` and its category.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from xinyu.config import StrictModel
from xinyu.data.schema import Dialogue
from xinyu.errors import ConfigError
from xinyu.paths import resources_dir

TEMPLATES = resources_dir() / "persona" / "templates.yaml"


class PersonaConfig(StrictModel):
    """Options for generated persona data."""

    name: str = Field("心语", description="The assistant's name.")
    author: str = Field("心语开源社区", description="Who made it (Chinese answers).")
    name_en: str = Field("xinyu", description="The name in English answers.")
    author_en: str = Field("xinyu contributors", description="Who made it (English answers).")
    n: int | None = Field(
        None,
        ge=1,
        description="Total dialogues (default: every question x answer pair, plus the multi-turn ones).",
    )
    seed: int = Field(0, description="Sampling seed.")
    multi_turn: int = Field(24, ge=0, description="Multi-turn dialogues (at most n/5 when n is set).")
    english: bool = Field(True, description="Include English questions and answers.")
    categories: list[str] | None = Field(None, description="Only these categories (default: all).")
    templates: str | None = Field(
        None, description="Another templates YAML file (default: the built-in one)."
    )


def load_templates(path: str | Path | None = None) -> dict[str, Any]:
    """Read and check a persona templates file."""
    path = Path(path) if path else TEMPLATES
    if not path.is_file():
        raise ConfigError([f"persona templates not found: {path}"])
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    problems = []
    categories = data.get("categories")
    if not isinstance(categories, dict) or not categories:
        problems.append("categories: expected a mapping of category name to questions/answers")
        categories = {}
    for name, cat in categories.items():
        for key in ("questions", "answers"):
            items = (cat or {}).get(key)
            if (
                not isinstance(items, list)
                or not items
                or not all(isinstance(x, str) and x.strip() for x in items)
            ):
                problems.append(f"categories.{name}.{key}: expected a non-empty list of strings")
    for i, chain in enumerate(data.get("multi_turn") or []):
        if not isinstance(chain, list) or any(c not in categories for c in chain):
            problems.append(f"multi_turn.{i}: expected a list of category names from {sorted(categories)}")
    if problems:
        raise ConfigError(problems, source=path)
    return data


def _fill(text: str, cfg: PersonaConfig) -> str:
    return text.format(name=cfg.name, author=cfg.author, name_en=cfg.name_en, author_en=cfg.author_en)


def generate_persona(config: PersonaConfig | None = None) -> list[Dialogue]:
    """Generate persona dialogues.

    Single-turn dialogues cover every (question, answer) pair of each category, answers rotated so that
    each question meets several answers; with ``n`` set, a seeded sample is taken round-robin over
    categories so that all categories stay represented. ``multi_turn`` chained dialogues are added.

    Args:
        config: Names, size and seed.

    Returns:
        Dialogues with ids ``persona-<category>-<q>-<a>`` and ``persona-multi-<k>``.
    """
    cfg = config or PersonaConfig()
    data = load_templates(cfg.templates)
    categories: dict[str, Any] = data["categories"]
    wanted = cfg.categories or list(categories)
    unknown = [c for c in wanted if c not in categories]
    if unknown:
        raise ConfigError([f"persona.categories: unknown {unknown}; expected some of {sorted(categories)}"])
    if not cfg.english:
        wanted = [c for c in wanted if categories[c].get("lang", "zh") != "en"]
    rng = random.Random(cfg.seed)
    per_category: dict[str, list[Dialogue]] = {}
    for cat in wanted:
        spec = categories[cat]
        items = []
        for qi, question in enumerate(spec["questions"]):
            for ai, answer in enumerate(spec["answers"]):
                meta = {"style": ["persona"], "persona_category": cat, "lang": spec.get("lang", "zh")}
                items.append(
                    Dialogue(
                        id=f"persona-{cat}-{qi}-{ai}",
                        source="persona",
                        messages=[
                            {"role": "user", "content": _fill(question, cfg)},
                            {"role": "assistant", "content": _fill(answer, cfg)},
                        ],
                        meta=meta,
                    )
                )
        rng.shuffle(items)
        per_category[cat] = items
    chains = [c for c in (data.get("multi_turn") or []) if all(x in wanted for x in c)]
    n_multi = cfg.multi_turn if chains else 0
    if cfg.n is not None:
        n_multi = min(n_multi, cfg.n // 5)
    single: list[Dialogue] = []
    if cfg.n is None:
        for cat in wanted:
            single.extend(per_category[cat])
    else:
        queues = [list(per_category[c]) for c in wanted]
        while len(single) < cfg.n - n_multi and any(queues):
            for queue in queues:
                if queue and len(single) < cfg.n - n_multi:
                    single.append(queue.pop())
    multi: list[Dialogue] = []
    seen: set[tuple[str, ...]] = set()
    for k in range(n_multi):
        chain = chains[k % len(chains)]
        for _ in range(20):  # re-draw a few times to avoid repeating an earlier combination
            messages = []
            for cat in chain:
                spec = categories[cat]
                messages.append({"role": "user", "content": _fill(rng.choice(spec["questions"]), cfg)})
                messages.append({"role": "assistant", "content": _fill(rng.choice(spec["answers"]), cfg)})
            signature = tuple(m["content"] for m in messages)
            if signature not in seen:
                break
        seen.add(signature)
        multi.append(
            Dialogue(
                id=f"persona-multi-{k}",
                source="persona",
                messages=messages,
                meta={"style": ["persona"], "persona_category": "+".join(chain), "lang": "zh"},
            )
        )
    return single + multi
