"""File helpers: atomic writes and JSON/JSONL reading with errors that name file and line.

Every file xinyu writes goes through :func:`atomic_write` (write to a temporary file in the same
directory, fsync, then ``os.replace``), so an interrupted run never leaves a half-written output.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from xinyu.errors import DataError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success rename it over ``path``.

    Args:
        path: Final destination.
        mode: ``"w"`` (text) or ``"wb"`` (binary).
        encoding: Text encoding; ignored for binary mode.

    Yields:
        The open temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs get normal permissions
    try:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": "\n"}
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Build a directory under a temporary name; on success swap it into place.

    An existing directory at ``path`` is replaced only once the new one is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text(path: str | Path, text: str) -> Path:
    """Atomically write a UTF-8 text file."""
    with atomic_write(path) as handle:
        handle.write(text)
    return Path(path)


def write_json(path: str | Path, obj: Any, indent: int | None = 2) -> Path:
    """Atomically write JSON (UTF-8, non-ASCII kept readable)."""
    with atomic_write(path) as handle:
        json.dump(obj, handle, ensure_ascii=False, indent=indent)
        handle.write("\n")
    return Path(path)


def write_jsonl(path: str | Path, rows: Iterable[Any]) -> int:
    """Atomically write one JSON object per line; returns the number of rows."""
    count = 0
    with atomic_write(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False))
            handle.write("\n")
            count += 1
    return count


def read_text(path: str | Path) -> str:
    """Read a UTF-8 text file (a BOM is accepted); other encodings raise a :class:`DataError`."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        hint = ""
        with contextlib.suppress(UnicodeDecodeError):
            raw.decode("gb18030")
            hint = " (the file decodes as GBK/GB18030: convert it with `iconv -f GB18030 -t UTF-8`)"
        raise DataError(f"not valid UTF-8 at byte {exc.start}{hint}", path=path, line=line) from None


def read_json(path: str | Path) -> Any:
    """Parse a JSON file, reporting the line and column of a syntax error."""
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"broken JSON: {exc.msg} (column {exc.colno})", path=path, line=exc.lineno) from None


def iter_jsonl(path: str | Path, skip_bad: bool = False, on_bad: Any = None) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, object)`` for each non-empty line of a JSONL file.

    Args:
        path: The file.
        skip_bad: If true, malformed lines are passed to ``on_bad(DataError)`` and skipped
            instead of raising.
        on_bad: Callback for skipped lines.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8").strip()
            except UnicodeDecodeError:
                err = DataError("not valid UTF-8 (convert the file to UTF-8)", path=path, line=lineno)
                if not skip_bad:
                    raise err from None
                if on_bad:
                    on_bad(err)
                continue
            if not line:
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                err = DataError(f"broken JSON: {exc.msg} (column {exc.colno})", path=path, line=lineno)
                if not skip_bad:
                    raise err from None
                if on_bad:
                    on_bad(err)


def read_jsonl(path: str | Path) -> list[Any]:
    """Read a whole JSONL file into a list."""
    return [obj for _, obj in iter_jsonl(path)]
