"""Exceptions with messages that tell the user where the problem is and what was expected."""

from __future__ import annotations

from pathlib import Path


class XinyuError(Exception):
    """Base class for errors the CLI reports without a traceback."""


class DataError(XinyuError):
    """Bad input data: names the file, the line or record, and what was expected.

    Args:
        message: What is wrong and what was expected.
        path: The file (or directory) being read.
        line: 1-based line number, for line-oriented files (JSONL, text).
        record: 0-based record index, for JSON arrays or directories of files.
        field: The offending field, when one is known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        record: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.record = record
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.path:
            where.append(self.path)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.record is not None:
            where.append(f"record {self.record}")
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class ConfigError(XinyuError):
    """Invalid recipe/config: lists every problem found, each naming its key."""

    def __init__(self, problems: list[str], source: str | Path | None = None) -> None:
        self.problems = list(problems)
        self.source = str(source) if source is not None else None
        head = f"invalid config {self.source}" if self.source else "invalid config"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class ModelNotFoundError(XinyuError):
    """A model argument that is neither an alias, a cached model, nor a local path."""
