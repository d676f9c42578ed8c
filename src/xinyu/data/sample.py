"""The project's own sample corpus (``resources/sample_corpus/*.jsonl``, Dialogue JSONL).

Written for xinyu (no third-party text), small enough to ship, with ``meta["topic"]`` keys from
:mod:`xinyu.data.topics`. The ``sample`` recipe source and the demo use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from xinyu.data.schema import Dialogue
from xinyu.errors import DataError
from xinyu.paths import resources_dir


def sample_corpus_dir() -> Path:
    """Directory of the sample corpus files."""
    return resources_dir() / "sample_corpus"


def sample_files() -> list[Path]:
    """The sample corpus files, sorted by name."""
    root = sample_corpus_dir()
    return sorted(root.glob("*.jsonl")) if root.is_dir() else []


def iter_sample_corpus(topics: list[str] | None = None) -> Iterator[Dialogue]:
    """Stream the sample corpus, optionally only some topics."""
    from xinyu.data.formats import dialogue as dialogue_format

    files = sample_files()
    if not files:
        raise DataError("the sample corpus is missing (expected *.jsonl files)", path=sample_corpus_dir())
    for file in files:
        for d in dialogue_format.read(file):
            if topics is None or (d.meta or {}).get("topic") in topics:
                yield d


def load_sample_corpus(topics: list[str] | None = None) -> list[Dialogue]:
    """Load the whole sample corpus (a few hundred dialogues) into memory."""
    return list(iter_sample_corpus(topics))
