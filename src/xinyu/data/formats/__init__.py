"""Importers: one module per corpus format, a registry, and auto-detection.

Each format module provides ``NAME``, ``DESCRIPTION``, ``detect(path) -> bool`` (a cheap peek) and
``read(path, *, skip_bad=False, report=None, source=...) -> Iterator[Dialogue]`` (streaming). Use::

    from xinyu.data.formats import read
    report = ReadReport()
    for dialogue in read("smile/data", report=report):   # format detected from content
        ...
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from xinyu.data.formats import (
    alpaca,
    cpsycound,
    cpsycoune,
    dialogue,
    emollm,
    llamafactory,
    openai,
    psyqa,
    sharegpt,
    smile,
)
from xinyu.data.formats._base import ReadReport, first_file, first_record, sniff
from xinyu.data.schema import Dialogue
from xinyu.errors import DataError

__all__ = ["FORMATS", "FormatSpec", "ReadReport", "detect_format", "format_names", "read"]


@dataclass(frozen=True)
class FormatSpec:
    """A registered importer."""

    name: str
    description: str
    module: ModuleType

    def detect(self, path: Path) -> bool:
        """Whether ``path`` looks like this format."""
        return bool(self.module.detect(Path(path)))


# Detection order: specific layouts before generic ones (a Dialogue JSONL also has `messages`, an
# EmoLLM flattened file also has `instruction`/`output`).
_MODULES = (llamafactory, dialogue, smile, cpsycound, cpsycoune, emollm, psyqa, openai, sharegpt, alpaca)
FORMATS: dict[str, FormatSpec] = {m.NAME: FormatSpec(m.NAME, m.DESCRIPTION, m) for m in _MODULES}


def format_names() -> list[str]:
    """Registered format names, in detection order."""
    return list(FORMATS)


def _describe(path: Path) -> str:
    # What was seen, for the "unknown format" message: structure only, never content.
    sample = first_file(path, (".json", ".jsonl", ".txt"), recursive=True) if path.is_dir() else path
    if sample is None:
        return "no .json, .jsonl or .txt files found"
    if sample.suffix.lower() == ".txt":
        return f"{sample.name} is text without '来访者：'/'心理咨询师：' speaker lines"
    obj = first_record(sample)
    if isinstance(obj, dict):
        return f"first record of {sample.name} has keys {sorted(obj)[:12]}"
    if obj is None:
        return f"{sample.name} is not readable JSON/JSONL"
    return f"first record of {sample.name} is a {type(obj).__name__}"


def _check_utf8(path: Path) -> None:
    with open(path, "rb") as handle:
        raw = handle.read(4096)
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(raw) - 4:  # not just a character cut at the read boundary
            sniff(path)  # raises the UTF-8 error with the GBK hint and the line


def detect_format(path: str | Path) -> str:
    """Name of the format of ``path`` (a file or directory), detected from its content.

    Raises:
        DataError: The path does not exist, is not UTF-8, or matches no format.
    """
    path = Path(path)
    if not path.exists():
        raise DataError("no such file or directory", path=path)
    sample = path if path.is_file() else first_file(path, (".json", ".jsonl", ".txt"), recursive=True)
    if sample is not None:
        _check_utf8(sample)
    for spec in FORMATS.values():
        try:
            if spec.detect(path):
                return spec.name
        except (OSError, ValueError):
            continue
    raise DataError(
        f"unknown format ({_describe(path)}); expected one of: {', '.join(FORMATS)} — "
        "pass --format NAME to choose one",
        path=path,
    )


def read(
    path: str | Path,
    format: str | None = None,
    *,
    skip_bad: bool = False,
    report: ReadReport | None = None,
    source: str | None = None,
    dataset: str | None = None,
) -> Iterator[Dialogue]:
    """Stream dialogues from ``path``.

    Args:
        path: A corpus file or directory.
        format: A name from :data:`FORMATS`; detected from content when ``None``.
        skip_bad: Count bad records in ``report`` and go on, instead of raising.
        report: Receives counts, bad-record locations and notes.
        source: Source name for ids and ``Dialogue.source`` (default: the format name; for
            ``llamafactory`` the dataset name).
        dataset: Dataset name, for the ``llamafactory`` registry format.

    Raises:
        DataError: Unknown format, or a bad record when ``skip_bad`` is false.
    """
    path = Path(path)
    if not path.exists():
        raise DataError("no such file or directory", path=path)
    name = format or detect_format(path)
    if name not in FORMATS:
        raise DataError(f"unknown format {name!r}; expected one of: {', '.join(FORMATS)}", path=path)
    report = report if report is not None else ReadReport()
    report.format = name
    report.path = str(path)
    kwargs: dict[str, Any] = {"skip_bad": skip_bad, "report": report}
    if name == "llamafactory":
        kwargs["dataset"] = dataset
        kwargs["source"] = source
    elif dataset:
        raise DataError(f"--dataset is only used with the llamafactory format (this is {name})", path=path)
    elif source:
        kwargs["source"] = source
    return FORMATS[name].module.read(path, **kwargs)
