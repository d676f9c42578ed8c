"""Shared reading machinery for the importers: sniffing, streaming JSON/JSONL records, bad-record policy.

Every importer reads through these helpers so that all formats behave the same way on bad input: a
:class:`~xinyu.errors.DataError` naming the file, the line (JSONL, text) or record index (JSON arrays,
directories) and the field; or, with ``skip_bad``, a counted entry in the :class:`ReadReport` (locations
only, never content).
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from xinyu.errors import DataError

MAX_BAD_EXAMPLES = 5
_SNIFF_BYTES = 1 << 16
_CHUNK = 1 << 20


@dataclass
class ReadReport:
    """What an import read, skipped and noticed (counts and locations only).

    Attributes:
        format: The format used.
        path: The path read.
        files: Files opened.
        records: Records seen (array elements, JSONL lines, files of a per-file corpus).
        dialogues: Dialogues yielded.
        bad: Bad records skipped (only with ``skip_bad``).
        bad_examples: The first few bad-record locations and reasons.
        notes: Counted observations (``"empty utterance"``, ``"inline turns split"``...).
    """

    format: str = ""
    path: str = ""
    files: int = 0
    records: int = 0
    dialogues: int = 0
    bad: int = 0
    bad_examples: list[str] = field(default_factory=list)
    notes: Counter[str] = field(default_factory=Counter)

    def add_bad(self, err: DataError) -> None:
        """Count a skipped bad record, keeping its location for the first few."""
        self.bad += 1
        if len(self.bad_examples) < MAX_BAD_EXAMPLES:
            self.bad_examples.append(str(err))

    def merge(self, other: ReadReport) -> None:
        """Add another report's counts to this one."""
        self.files += other.files
        self.records += other.records
        self.dialogues += other.dialogues
        self.bad += other.bad
        for example in other.bad_examples:
            if len(self.bad_examples) < MAX_BAD_EXAMPLES:
                self.bad_examples.append(example)
        self.notes.update(other.notes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "format": self.format,
            "path": self.path,
            "files": self.files,
            "records": self.records,
            "dialogues": self.dialogues,
            "bad": self.bad,
            "bad_examples": list(self.bad_examples),
            "notes": dict(sorted(self.notes.items())),
        }


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a record came from, for error messages."""

    path: Path
    line: int | None = None
    record: int | None = None

    def error(self, message: str, field: str | None = None) -> DataError:
        """A :class:`DataError` at this location."""
        return DataError(message, path=self.path, line=self.line, record=self.record, field=field)


class BadPolicy:
    """Raise bad records, or count them into a report when ``skip_bad`` is set."""

    def __init__(self, skip_bad: bool, report: ReadReport) -> None:
        self.skip_bad = skip_bad
        self.report = report

    def __call__(self, err: DataError) -> None:
        """Handle one bad record."""
        if not self.skip_bad:
            raise err
        self.report.add_bad(err)


# ---------------------------------------------------------------------------------------------- files


def natural_key(name: str) -> list[Any]:
    """Sort key that puts ``2.json`` before ``10.json``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def iter_files(root: Path, suffixes: tuple[str, ...], recursive: bool = False) -> Iterator[Path]:
    """Yield files under ``root`` with one of ``suffixes``, in natural order (hidden files skipped).

    Names are listed first (cheap even for 55k files); contents are read one at a time by callers.
    """
    if root.is_file():
        yield root
        return
    if recursive:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted((d for d in dirnames if not d.startswith(".")), key=natural_key)
            for name in sorted(filenames, key=natural_key):
                if not name.startswith(".") and name.lower().endswith(suffixes):
                    yield Path(dirpath) / name
        return
    names = [e.name for e in os.scandir(root) if e.is_file() and not e.name.startswith(".")]
    for name in sorted(names, key=natural_key):
        if name.lower().endswith(suffixes):
            yield root / name


def sample_files(
    root: Path, suffixes: tuple[str, ...], recursive: bool = False, limit: int = 20
) -> list[Path]:
    """Up to ``limit`` matching files under ``root`` in natural order (for sniffing a directory)."""
    if root.is_file():
        return [root] if root.name.lower().endswith(suffixes) else []
    if not root.is_dir():
        return []
    out: list[Path] = []
    for file in iter_files(root, suffixes, recursive):
        out.append(file)
        if len(out) >= limit:
            break
    return out


def first_file(root: Path, suffixes: tuple[str, ...], recursive: bool = False) -> Path | None:
    """The first matching file under ``root`` in natural order, or ``None``."""
    files = sample_files(root, suffixes, recursive, limit=1)
    return files[0] if files else None


def relative_name(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` (a file root gives its own name), with forward slashes."""
    if path == root or path.parent == root:  # the common case needs no file-system call
        return path.name
    if root.is_file():
        return path.name
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


# --------------------------------------------------------------------------------------------- sniff


@dataclass(frozen=True)
class Sniff:
    """A cheap look at the start of a file.

    Attributes:
        kind: ``"array"`` (JSON array), ``"jsonl"``, ``"object"`` (one pretty-printed JSON object),
            ``"text"``, or ``"unknown"``.
        first: The first record (array element, JSONL line, the object), when it could be parsed.
        head: The first characters of the file (for text formats).
    """

    kind: str
    first: Any = None
    head: str = ""


def _decode_head(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 4:  # a multi-byte character cut at the sniff boundary
            return raw[: exc.start].decode("utf-8-sig")
        last_newline = raw.rfind(b"\n", 0, exc.start)
        if last_newline > 0:  # complete lines before the bad one: enough to tell the layout
            return raw[: last_newline + 1].decode("utf-8-sig")
        hint = ""
        with contextlib.suppress(UnicodeDecodeError):
            raw[: exc.start + 64 - (exc.start + 64) % 2].decode("gb18030")
            hint = " (it looks like GBK/GB18030: convert it with `iconv -f GB18030 -t UTF-8`)"
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"not valid UTF-8 at byte {exc.start}{hint}", path=path, line=line) from None


@lru_cache(maxsize=512)
def _sniff_cached(path_str: str, mtime_ns: int, size: int) -> Sniff:
    path = Path(path_str)
    with open(path, "rb") as handle:
        raw = handle.read(_SNIFF_BYTES)
    head = _decode_head(path, raw)
    stripped = head.lstrip()
    if not stripped:
        return Sniff("unknown", None, head)
    if stripped[0] == "[":
        try:
            for _, _, obj in iter_json_array(path):
                return Sniff("array", obj, head)
            return Sniff("array", None, head)
        except DataError:
            return Sniff("unknown", None, head)
    if stripped[0] == "{":
        first_line = stripped.split("\n", 1)[0].strip()
        try:
            return Sniff("jsonl", json.loads(first_line), head)
        except json.JSONDecodeError:
            pass
        if size <= 64 << 20:
            try:
                return Sniff("object", json.loads(path.read_text(encoding="utf-8-sig")), head)
            except (json.JSONDecodeError, UnicodeDecodeError):
                return Sniff("unknown", None, head)
        return Sniff("unknown", None, head)
    return Sniff("text", None, head)


def sniff(path: Path) -> Sniff:
    """Look at the start of a file (cached per path and modification time)."""
    stat = path.stat()
    return _sniff_cached(str(path), stat.st_mtime_ns, stat.st_size)


# ------------------------------------------------------------------------------------------- records


def iter_json_array(path: Path) -> Iterator[tuple[int, int, Any]]:
    """Stream the elements of a top-level JSON array: yields ``(index, line, element)``.

    Hand-written on top of :meth:`json.JSONDecoder.raw_decode` rather than loading the file: corpora
    such as SoulChatCorpus are single arrays of gigabytes, and the stdlib decoder keeps exact line and
    column numbers for error messages without adding a dependency.

    Raises:
        DataError: Not UTF-8, not an array, or broken JSON (with the line and column).
    """
    return _ArrayReader(path).elements()


class _ArrayReader:
    """State of :func:`iter_json_array`: a text buffer over the file plus line bookkeeping."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.decoder = json.JSONDecoder()
        self.text_decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buf = ""
        self.pos = 0
        self.mark = 0  # buffer offset whose line number is `mark_line`
        self.mark_line = 1
        self.bytes_read = 0
        self.eof = False

    def line_at(self, index: int) -> int:
        # Lines are counted incrementally from the last mark so that each character is scanned once.
        if index < self.mark:
            return self.mark_line - self.buf.count("\n", index, self.mark)
        self.mark_line += self.buf.count("\n", self.mark, index)
        self.mark = index
        return self.mark_line

    def fill(self, handle: Any) -> bool:
        if self.eof:
            return False
        raw = handle.read(_CHUNK)
        try:
            text = self.text_decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            line = self.line_at(len(self.buf)) + raw[: exc.start].count(b"\n")
            hint = ""
            with contextlib.suppress(UnicodeDecodeError):
                raw.decode("gb18030")
                hint = " (it looks like GBK/GB18030: convert it with `iconv -f GB18030 -t UTF-8`)"
            raise DataError(
                f"not valid UTF-8 at byte {self.bytes_read + exc.start}{hint}", path=self.path, line=line
            ) from None
        self.bytes_read += len(raw)
        if not raw:
            self.eof = True
        self.line_at(self.pos)
        self.buf = self.buf[self.pos :] + text
        self.mark -= self.pos
        self.pos = 0
        return True

    def skip_ws(self, handle: Any) -> bool:
        while True:
            buf = self.buf
            pos = self.pos
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            self.pos = pos
            if pos < len(buf):
                return True
            if not self.fill(handle):
                return False

    def error(self, message: str, record: int | None = None) -> DataError:
        return DataError(message, path=self.path, line=self.line_at(self.pos), record=record)

    def elements(self) -> Iterator[tuple[int, int, Any]]:
        with open(self.path, "rb") as handle:
            if not self.skip_ws(handle) or self.buf[self.pos] != "[":
                raise self.error("expected a JSON array ('[' ... ']')")
            self.pos += 1
            index = 0
            while True:
                if not self.skip_ws(handle):
                    raise self.error("broken JSON: the array is not closed with ']'")
                if self.buf[self.pos] == "]":
                    self.pos += 1
                    if self.skip_ws(handle):
                        raise self.error("broken JSON: extra data after the closing ']'")
                    return
                if index > 0:
                    if self.buf[self.pos] != ",":
                        raise self.error(f"broken JSON: expected ',' or ']' after record {index - 1}", index)
                    self.pos += 1
                    if not self.skip_ws(handle):
                        raise self.error("broken JSON: the array is not closed with ']'")
                while True:
                    try:
                        obj, end = self.decoder.raw_decode(self.buf, self.pos)
                    except json.JSONDecodeError as exc:
                        if self.fill(handle):
                            continue
                        line = self.line_at(exc.pos)
                        raise DataError(
                            f"broken JSON: {exc.msg} (column {exc.colno})",
                            path=self.path,
                            line=line,
                            record=index,
                        ) from None
                    if end >= len(self.buf) and not self.eof and self.fill(handle):
                        continue  # a number or literal may continue in the next chunk
                    break
                line = self.line_at(self.pos)
                self.pos = end
                yield index, line, obj
                index += 1


def iter_jsonl_records(path: Path, on_bad: Callable[[DataError], None]) -> Iterator[tuple[Loc, Any]]:
    """Yield ``(Loc, object)`` per non-empty JSONL line; undecodable lines go to ``on_bad``."""
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8").strip()
            except UnicodeDecodeError:
                hint = ""
                with contextlib.suppress(UnicodeDecodeError):
                    raw.decode("gb18030")
                    hint = " (it looks like GBK/GB18030: convert it with `iconv -f GB18030 -t UTF-8`)"
                on_bad(DataError(f"not valid UTF-8{hint}", path=path, line=lineno))
                continue
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                on_bad(DataError(f"broken JSON: {exc.msg} (column {exc.colno})", path=path, line=lineno))
                continue
            yield Loc(path, line=lineno), obj


def iter_records(
    path: Path,
    on_bad: Callable[[DataError], None],
    report: ReadReport | None = None,
    list_keys: tuple[str, ...] = ("data",),
) -> Iterator[tuple[Loc, Any]]:
    """Yield ``(Loc, record)`` from a JSON array, JSONL, or single-object file (detected by content).

    A top-level object holding a list under one of ``list_keys`` (``{"data": [...]}``) yields that
    list's elements. Broken JSON inside an array cannot be resynchronised: with ``skip_bad`` the rest of
    that file is skipped and counted once.
    """
    if report is not None:
        report.files += 1
    try:
        info = sniff(path)
    except DataError as err:
        on_bad(err)
        return
    if info.kind == "jsonl":
        yield from iter_jsonl_records(path, on_bad)
        return
    if info.kind == "array":
        try:
            for index, line, obj in iter_json_array(path):
                yield Loc(path, line=line, record=index), obj
        except DataError as err:
            on_bad(err)
        return
    if info.kind == "object":
        obj = info.first
        for key in list_keys:
            if isinstance(obj, dict) and isinstance(obj.get(key), list):
                for index, item in enumerate(obj[key]):
                    yield Loc(path, record=index), item
                return
        yield Loc(path, record=0), obj
        return
    if not info.head.strip() and path.stat().st_size < _SNIFF_BYTES:
        return  # an empty file holds no records
    try:  # not JSON-shaped: parse it to get the real error and position
        json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        on_bad(DataError(f"broken JSON: {exc.msg} (column {exc.colno})", path=path, line=exc.lineno))
        return
    except UnicodeDecodeError:
        on_bad(DataError("not valid UTF-8", path=path))
        return
    on_bad(DataError("expected a JSON array, JSON Lines, or a JSON object", path=path))


def first_record(path: Path) -> Any:
    """The first record of a JSON/JSONL file, or ``None`` (never raises for unreadable files)."""
    try:
        info = sniff(path)
    except (DataError, OSError):
        return None
    if info.kind == "object" and isinstance(info.first, dict) and isinstance(info.first.get("data"), list):
        return info.first["data"][0] if info.first["data"] else None
    return info.first


# ----------------------------------------------------------------------------------------- messages


def require_str(obj: dict[str, Any], key: str, loc: Loc, *, optional: bool = False, what: str = "") -> str:
    """``obj[key]`` as a string (numbers are accepted and converted), or a DataError naming the field."""
    if key not in obj or obj[key] is None:
        if optional:
            return ""
        raise loc.error(f"missing field (expected {what or 'a string'})", field=key)
    value = obj[key]
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise loc.error(f"expected a string, got {type(value).__name__}", field=key)


def require_dict(obj: Any, loc: Loc, what: str) -> dict[str, Any]:
    """``obj`` if it is a JSON object, else a DataError saying what was expected."""
    if not isinstance(obj, dict):
        raise loc.error(f"expected a JSON object ({what}), got {type(obj).__name__}")
    return obj


def msg(role: str, content: str) -> dict[str, str]:
    """A message dict in canonical key order."""
    return {"role": role, "content": content}


LINE_BREAKS = re.compile(r"\r\n|\r|\n")


def split_prefixed(
    text: str, prefix: re.Pattern[str], speakers: dict[str, str]
) -> tuple[list[str], list[dict[str, str]], int]:
    r"""Split text whose turn lines start with a speaker prefix (``来访者：``...) into messages.

    Lines without a prefix continue the previous turn (joined with ``"\n"``); blank lines are
    ignored; ``\r\n``, ``\r`` and ``\n`` all end a line.

    Args:
        text: The text.
        prefix: Pattern matching a prefix at the start of a line; group 1 is the speaker name.
        speakers: Speaker name → role.

    Returns:
        ``(lines before the first prefix, messages, number of continuation lines joined)``.
    """
    preamble: list[str] = []
    messages: list[dict[str, str]] = []
    parts: list[str] = []
    joined = 0
    for line in LINE_BREAKS.split(text):
        m = prefix.match(line)
        if m:
            if messages:
                messages[-1]["content"] = "\n".join(p for p in parts if p)
            messages.append(msg(speakers[m.group(1)], ""))
            parts = [line[m.end() :].strip()]
        elif not line.strip():
            continue
        elif messages:
            parts.append(line.strip())
            joined += 1
        else:
            preamble.append(line.strip())
    if messages:
        messages[-1]["content"] = "\n".join(p for p in parts if p)
    return preamble, messages, joined


def read_record_files(
    path: Path,
    convert: Callable[[Any, Loc, str], Any],
    *,
    skip_bad: bool,
    report: ReadReport | None,
    fmt: str,
    list_keys: tuple[str, ...] = ("data",),
) -> Iterator[Any]:
    """Stream dialogues from a record-per-dialogue JSON/JSONL file or a directory of them.

    Args:
        path: A file, or a directory searched recursively for ``*.json``/``*.jsonl``.
        convert: ``convert(record, loc, record_key)`` → a Dialogue or a list of them; raises
            :class:`DataError` for a bad record. ``record_key`` is a stable original id for records
            without one: ``"<index>"`` for a single file, ``"<relative/path>-<index>"`` in a directory.
        skip_bad: Count and skip bad records instead of raising.
        report: Filled with counts.
        fmt: Format name for the report.
        list_keys: Keys of a wrapping object holding the record list.
    """
    path = Path(path)
    report = report if report is not None else ReadReport()
    report.format = report.format or fmt
    on_bad = BadPolicy(skip_bad, report)
    for file in iter_files(path, (".json", ".jsonl"), recursive=True):
        stem = relative_name(file, path).rsplit(".", 1)[0]
        for index, (loc, obj) in enumerate(iter_records(file, on_bad, report, list_keys)):
            report.records += 1
            key = str(index) if path.is_file() else f"{stem}-{index}"
            try:
                result = convert(obj, loc, key)
            except DataError as err:
                on_bad(err)
                continue
            for dialogue in result if isinstance(result, list) else [result]:
                report.dialogues += 1
                yield dialogue


def record_id(obj: dict[str, Any], key: str) -> str:
    """The record's own id (``id``/``ID``/``_id``/``questionID``) if it has one, else ``key``."""
    for name in ("id", "ID", "_id", "questionID", "question_id"):
        value = obj.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return key
