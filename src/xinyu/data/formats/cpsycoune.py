"""CPsyCounE (the CPsyCoun evaluation set): ``<Topic>/<n>.json``, each a JSON array of strings.

Strings alternate ``求助者：…`` (help seeker → ``user``) and ``支持者：…`` (supporter → ``assistant``); the
role exists only as that text prefix. The topic comes from the folder name (``Emotion&Stress``,
``Family Relationship``...; names contain spaces and ``&``) and is normalised to a key of
:mod:`xinyu.data.topics`; the original name is kept in ``meta["topic_name"]``. A flattened copy named
``<Topic>_<n>.json`` (no folder) is understood too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from xinyu.data.formats._base import (
    BadPolicy,
    Loc,
    ReadReport,
    first_file,
    iter_files,
    iter_records,
    msg,
    relative_name,
    sniff,
)
from xinyu.data.schema import Dialogue
from xinyu.data.topics import normalize_topic
from xinyu.errors import DataError

NAME = "cpsycoune"
DESCRIPTION = "CPsyCounE: <Topic>/<n>.json arrays of strings prefixed '求助者：' / '支持者：'"
SPEAKERS = {
    "求助者": "user",
    "来访者": "user",
    "支持者": "assistant",
    "咨询师": "assistant",
    "心理咨询师": "assistant",
}
_PREFIX = re.compile(r"^\s*(求助者|来访者|支持者|心理咨询师|咨询师)\s*[：:]\s*")


def detect(path: Path) -> bool:
    """A JSON array of strings starting with ``求助者：``/``支持者：`` (in a file or a topic tree)."""
    sample = first_file(path, (".json",), recursive=True)
    if sample is None:
        return False
    try:
        info = sniff(sample)
    except (DataError, OSError):
        return False
    return info.kind == "array" and isinstance(info.first, str) and bool(_PREFIX.match(info.first))


def topic_of(file: Path, root: Path) -> tuple[str | None, str]:
    """``(topic key, original topic name)`` of a file: from its folder, else from a ``<Topic>_<n>`` stem."""
    folder = file.parent.name
    prefix = file.stem.rsplit("_", 1)[0] if "_" in file.stem else ""
    for name in (folder, prefix):
        key = normalize_topic(name)
        if key:
            return key, name
    return None, (folder if root.is_dir() and file.parent != root else prefix)


def _number(stem: str) -> str:
    return stem.rsplit("_", 1)[1] if "_" in stem else stem


def read(
    path: Path, *, skip_bad: bool = False, report: ReadReport | None = None, source: str = NAME
) -> Iterator[Dialogue]:
    """Stream dialogues from a CPsyCounE tree (or one file).

    Args:
        path: ``CPsyCounE`` (folders per topic), a topic folder, or one file.
        skip_bad: Count and skip bad files instead of raising.
        report: Filled with counts.
        source: Source name used in ids and ``Dialogue.source``.
    """
    path = Path(path)
    report = report if report is not None else ReadReport()
    report.format = report.format or NAME
    on_bad = BadPolicy(skip_bad, report)
    for index, file in enumerate(iter_files(path, (".json",), recursive=True)):
        topic, topic_name = topic_of(file, path)
        messages: list[dict[str, str]] = []
        bad = False
        loc = Loc(file)
        for rec_loc, item in iter_records(file, on_bad, report):
            report.records += 1
            if not isinstance(item, str):
                on_bad(
                    rec_loc.error(f"expected a string '求助者：…' or '支持者：…', got {type(item).__name__}")
                )
                bad = True
                break
            m = _PREFIX.match(item)
            if not m:
                on_bad(rec_loc.error("expected the utterance to start with '求助者：' or '支持者：'"))
                bad = True
                break
            messages.append(msg(SPEAKERS[m.group(1)], item[m.end() :].strip()))
        if bad:
            continue
        if not messages:
            on_bad(loc.error("no utterances (expected a non-empty JSON array of strings)"))
            continue
        key = topic or (re.sub(r"\W+", "_", topic_name).strip("_").lower() or "unknown")
        meta = {"topic": topic, "topic_name": topic_name, "file": relative_name(file, path), "index": index}
        report.dialogues += 1
        yield Dialogue(id=f"{source}-{key}-{_number(file.stem)}", source=source, messages=messages, meta=meta)
