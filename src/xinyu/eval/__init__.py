"""Evaluation: turn-based generation, metrics, LLM judge, persona probes, comparison reports."""
