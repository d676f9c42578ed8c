"""Evaluation: turn-based generation, metrics, LLM judge, persona probes, comparison reports.

The pipeline, one function per step (each reads and writes an evaluation directory)::

    from xinyu.eval import run_generation, compute_metrics, run_judge, JudgeConfig, run_probes, write_comparison
    from xinyu.serve.backends import load_backend

    backend = load_backend("runs/demo")
    run_generation(backend, "data/demo/test.jsonl", "runs/demo/eval/sft")   # generations.jsonl, info.json
    compute_metrics("runs/demo/eval/sft")                                   # metrics.json
    run_probes(backend, "runs/demo/eval/sft")                               # probes.json
    run_judge("runs/demo/eval/sft", JudgeConfig(base_url=..., model="gpt-4o"))  # judge.jsonl, judge.json
    write_comparison(["runs/demo/eval/base", "runs/demo/eval/sft"], ["base", "sft"], "runs/demo/eval/compare")

Importing this package is cheap; each name loads its module on first use.
"""

from __future__ import annotations

_EXPORTS = {
    "run_generation": "xinyu.eval.generate",
    "generate_replies": "xinyu.eval.generate",
    "build_samples": "xinyu.eval.samples",
    "compute_metrics": "xinyu.eval.metrics",
    "text_metrics": "xinyu.eval.metrics",
    "similarity_scores": "xinyu.eval.metrics",
    "llamafactory_pair": "xinyu.eval.metrics",
    "distinct_n": "xinyu.eval.metrics",
    "JudgeConfig": "xinyu.eval.judge",
    "run_judge": "xinyu.eval.judge",
    "parse_verdict": "xinyu.eval.judge",
    "Persona": "xinyu.eval.probes",
    "run_probes": "xinyu.eval.probes",
    "score_reply": "xinyu.eval.probes",
    "write_comparison": "xinyu.eval.compare",
    "EvalRecipe": "xinyu.eval.recipe",
    "load_recipe": "xinyu.eval.recipe",
    "run_recipe": "xinyu.eval.recipe",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
