r"""CPsyCounD: a directory of plain-text dialogues (``case_<N>.txt``).

Turn lines start with ``来访者：`` (client → ``user``) or ``心理咨询师：`` (counselor → ``assistant``); the
colon may be full-width or half-width. Lines without a speaker prefix (numbered lists, stage directions
in （…）, role-play lines such as ``妈妈：…``) continue the previous turn and are joined to it with
``"\n"``.

Line endings are split on ``\r\n``, ``\r`` and ``\n`` alike. Upstream's own converter matches
``来访者：(.*?)\n(?=心理咨询师：)`` without handling ``\r`` and so loses turns in the CRLF files; this
reader keeps every line. Files with and without blank lines between turns read the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from xinyu.data.formats._base import (
    LINE_BREAKS,
    BadPolicy,
    Loc,
    ReadReport,
    first_file,
    iter_files,
    relative_name,
    split_prefixed,
)
from xinyu.data.schema import Dialogue
from xinyu.errors import DataError
from xinyu.io import read_text

NAME = "cpsycound"
DESCRIPTION = "CPsyCounD: directory of .txt dialogues with lines '来访者：' / '心理咨询师：'"
SPEAKERS = {"来访者": "user", "求助者": "user", "心理咨询师": "assistant", "咨询师": "assistant"}
_PREFIX = re.compile(r"^\s*(来访者|求助者|心理咨询师|咨询师)\s*[：:]\s*")


def detect(path: Path) -> bool:
    """A directory of ``*.txt`` files (or one file) whose first line starts with a speaker prefix."""
    sample = first_file(path, (".txt",))
    if sample is None:
        return False
    try:
        with open(sample, "rb") as handle:
            head = handle.read(4096).decode("utf-8-sig", errors="ignore")
    except OSError:
        return False
    for line in LINE_BREAKS.split(head):
        if line.strip():
            return bool(_PREFIX.match(line))
    return False


def parse_text(text: str, loc: Loc, report: ReadReport) -> list[dict[str, str]]:
    """Turn the text of one case file into messages (continuation lines joined to their turn)."""
    preamble, messages, joined = split_prefixed(text, _PREFIX, SPEAKERS)
    if preamble:
        first = next(i for i, line in enumerate(LINE_BREAKS.split(text), start=1) if line.strip())
        raise Loc(loc.path, line=first).error(
            "text before the first speaker line (expected a line starting with '来访者：' or '心理咨询师：')"
        )
    report.notes["continuation lines joined"] += joined
    return messages


def read(
    path: Path, *, skip_bad: bool = False, report: ReadReport | None = None, source: str = NAME
) -> Iterator[Dialogue]:
    """Stream dialogues from a CPsyCounD ``Data`` directory (or a single case file).

    Args:
        path: ``CPsyCounD/Data`` (or one ``case_<N>.txt``).
        skip_bad: Count and skip unreadable files instead of raising.
        report: Filled with counts.
        source: Source name used in ids and ``Dialogue.source``.
    """
    path = Path(path)
    report = report if report is not None else ReadReport()
    report.format = report.format or NAME
    on_bad = BadPolicy(skip_bad, report)
    for index, file in enumerate(iter_files(path, (".txt",))):
        report.files += 1
        report.records += 1
        loc = Loc(file)
        try:
            messages = parse_text(read_text(file), loc, report)
            if not messages:
                raise loc.error(
                    "no speaker lines found (expected lines starting with '来访者：' or '心理咨询师：')"
                )
        except DataError as err:
            on_bad(err)
            continue
        original = file.stem[5:] if file.stem.startswith("case_") else file.stem
        meta = {"file": relative_name(file, path), "index": index}
        report.dialogues += 1
        yield Dialogue(id=f"{source}-{original}", source=source, messages=messages, meta=meta)
