"""SMILE / SmileChat: a directory of per-dialogue JSON files (``<id>.json``).

Each file is a list of turns ``{"role": "client"|"counselor", "content": str, "annotation": [...]}``.
Clients become ``user`` and counselors ``assistant``; the (unlabelled) sentence annotations are not
messages, only their count is kept in ``meta["annotations"]``.

Known pitfalls handled here (see ``docs/data.md``):

* A few files hold a single client utterance into which the whole dialogue was flattened with inline
  ``支持者：`` / ``求助者：`` markers; it is split back into turns (``meta["inline_split"]``). A marker at
  the very start of a turn is left for the cleaner's prefix rule, which counts it.
* Empty or whitespace-only utterances are kept as empty turns here; the cleaner drops and counts them.
* The full corpus is 55k files: files are listed by name and read one at a time.
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
    msg,
    relative_name,
    sniff,
)
from xinyu.data.schema import Dialogue
from xinyu.errors import DataError
from xinyu.io import read_json

NAME = "smile"
DESCRIPTION = (
    "SMILE/SmileChat: directory of <id>.json files, each a list of {role: client|counselor, content}"
)
ROLES = {"client": "user", "counselor": "assistant"}
_INLINE = re.compile(r"(求助者|支持者)[：:]")
_INLINE_ROLES = {"求助者": "user", "支持者": "assistant"}


def _looks_like_smile(obj: object) -> bool:
    return (
        isinstance(obj, list)
        and bool(obj)
        and isinstance(obj[0], dict)
        and obj[0].get("role") in ROLES
        and "content" in obj[0]
    )


def detect(path: Path) -> bool:
    """A directory of ``*.json`` files (or one file) holding a list of client/counselor turns."""
    sample = first_file(path, (".json",))
    if sample is None:
        return False
    try:
        info = sniff(sample)
    except (DataError, OSError):
        return False
    return info.kind == "array" and _looks_like_smile([info.first])


def split_inline(role: str, content: str) -> list[dict[str, str]]:
    """Split a turn that carries further turns after inline ``支持者：``/``求助者：`` markers.

    The text before the first marker keeps ``role``; a marker at position 0 is not split on (the
    cleaner strips and counts such prefixes).
    """
    if "者：" not in content and "者:" not in content:  # fast path: no marker can be present
        return [msg(role, content)]
    pieces = []
    last = 0
    current = role
    for m in _INLINE.finditer(content):
        if m.start() == 0:
            continue
        pieces.append(msg(current, content[last : m.start()].strip()))
        current = _INLINE_ROLES[m.group(1)]
        last = m.end()
    if not pieces:
        return [msg(role, content)]
    pieces.append(msg(current, content[last:].strip()))
    return pieces


def _convert(path: Path, obj: object, root: Path, report: ReadReport, source: str) -> Dialogue:
    loc = Loc(path)
    if not isinstance(obj, list):
        raise loc.error(f"expected a list of turns, got {type(obj).__name__}")
    messages: list[dict[str, str]] = []
    annotations = 0
    inline = False
    for i, turn in enumerate(obj):
        if not isinstance(turn, dict):
            raise loc.error(f"expected a turn object, got {type(turn).__name__}", field=f"[{i}]")
        role = turn.get("role")
        if role not in ROLES:
            raise loc.error(f"expected 'client' or 'counselor', got {role!r}", field=f"[{i}].role")
        content = turn.get("content")
        if not isinstance(content, str):
            raise loc.error("expected a string", field=f"[{i}].content")
        ann = turn.get("annotation")
        if isinstance(ann, list):
            annotations += len(ann)
        if not content.strip():
            report.notes["empty utterance"] += 1
        pieces = split_inline(ROLES[role], content)
        if len(pieces) > 1:
            inline = True
            report.notes["inline turns split"] += len(pieces) - 1
        messages.extend(pieces)
    meta = {"file": relative_name(path, root), "index": report.records - 1, "annotations": annotations}
    if inline:
        meta["inline_split"] = True
    return Dialogue(id=f"{source}-{path.stem}", source=source, messages=messages, meta=meta)


def read(
    path: Path, *, skip_bad: bool = False, report: ReadReport | None = None, source: str = NAME
) -> Iterator[Dialogue]:
    """Stream dialogues from a SMILE directory (or a single SMILE file).

    Args:
        path: ``smile/data`` (or one ``<id>.json``).
        skip_bad: Count and skip unreadable files instead of raising.
        report: Filled with counts.
        source: Source name used in ids and ``Dialogue.source``.
    """
    path = Path(path)
    report = report if report is not None else ReadReport()
    report.format = report.format or NAME
    on_bad = BadPolicy(skip_bad, report)
    for file in iter_files(path, (".json",)):
        report.files += 1
        report.records += 1
        try:
            dialogue = _convert(file, read_json(file), path, report, source)
        except DataError as err:
            on_bad(err)
            continue
        report.dialogues += 1
        yield dialogue
