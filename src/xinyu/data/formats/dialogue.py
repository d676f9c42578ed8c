"""xinyu's own Dialogue JSONL (``{"id", "source", "messages", "meta"}``), read back without renaming.

Structure is checked (ids, message shape); conversation rules are not, so that ``xinyu data clean`` can
read an import that still holds dialogues the cleaner will drop and count.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xinyu.data.formats._base import Loc, ReadReport, first_file, first_record, read_record_files
from xinyu.data.schema import Dialogue

NAME = "dialogue"
DESCRIPTION = "xinyu Dialogue JSONL: {id, source, messages, meta} (ids kept as they are)"


def detect(path: Path) -> bool:
    """Records with ``id``, ``source`` and a ``messages`` list."""
    sample = first_file(path, (".jsonl", ".json"), recursive=True)
    obj = first_record(sample) if sample else None
    return (
        isinstance(obj, dict)
        and {"id", "source", "messages"} <= set(obj)
        and isinstance(obj["messages"], list)
    )


def read(
    path: Path, *, skip_bad: bool = False, report: ReadReport | None = None, source: str | None = None
) -> Iterator[Dialogue]:
    """Stream dialogues from Dialogue JSONL files.

    Args:
        path: A file or a directory of ``*.jsonl``.
        skip_bad: Count and skip bad records instead of raising.
        report: Filled with counts.
        source: If given, replaces each record's ``source`` (ids are kept).
    """

    def convert(obj: Any, loc: Loc, key: str) -> Dialogue:
        d = Dialogue.from_dict(obj, path=loc.path, line=loc.line)
        if source:
            d.source = source
        return d

    return read_record_files(Path(path), convert, skip_bad=skip_bad, report=report, fmt=NAME)
