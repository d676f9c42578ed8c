r"""EmoLLM datasets: a file, or a directory of files, in any of the layouts EmoLLM ships.

Each file's layout is recognised from its first record:

* **xtuner** ``[{"conversation": [{"system", "input", "output"}, {"input", "output"}, ...]}]`` — the
  system prompt is on the first turn only and sometimes missing, keys come in any order, some files
  are CRLF with TAB indentation, and some conversations are empty (kept here, dropped and counted by
  the cleaner).
* **alpaca** ``{"instruction", "input", "output"}`` (e.g. ``self_cognition_EmoLLM.json``).
* **flattened JSONL** ``{"instruction", "output"}`` where the instruction holds a system prompt, then
  ``对话：`` and the history as ``来访者：…\n医生：…`` lines ending with an open ``医生：``; it is split back
  into turns and the output becomes the last assistant turn.
* **ms-swift JSONL** ``{"query", "response", "history"}``. With ``history`` as ``[[q, a], ...]`` the pairs
  precede the query. EmoLLM's own swift files instead hold ``[{"query", "response"}]`` entries that are
  the *next* turn of a conversation whose opening pair repeats on consecutive lines (an upstream
  conversion bug); those consecutive lines are reassembled into one dialogue.
* **prompt/completion** ``{"prompt", "completion"}`` single turns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xinyu.data.formats._base import (
    BadPolicy,
    Loc,
    ReadReport,
    first_record,
    iter_files,
    iter_records,
    msg,
    relative_name,
    require_dict,
    require_str,
    sample_files,
    split_prefixed,
)
from xinyu.data.formats.alpaca import alpaca_messages
from xinyu.data.schema import Dialogue
from xinyu.errors import DataError

NAME = "emollm"
DESCRIPTION = (
    "EmoLLM: xtuner {conversation: [{system?, input, output}]}, alpaca, flattened "
    "来访者/医生 JSONL, ms-swift {query, response, history}"
)
SPEAKERS = {
    "来访者": "user",
    "求助者": "user",
    "用户": "user",
    "医生": "assistant",
    "咨询师": "assistant",
    "心理咨询师": "assistant",
    "支持者": "assistant",
}
_PREFIX = re.compile(r"^\s*(来访者|求助者|用户|医生|心理咨询师|咨询师|支持者)\s*[：:]\s*")
_FLAT_TURN = re.compile(r"^\s*来访者\s*[：:]", re.M)
_DIALOGUE_MARK = re.compile(r"\n\s*对话\s*[：:]\s*\n")


def layout_of(obj: Any) -> str | None:
    """Which EmoLLM layout a record has (``xtuner``, ``flat``, ``alpaca``, ``swift``, ``prompt``)."""
    if not isinstance(obj, dict):
        return None
    if "conversation" in obj:
        return "xtuner"
    if "query" in obj and "response" in obj:
        return "swift"
    if "prompt" in obj and "completion" in obj:
        return "prompt"
    if "instruction" in obj and "output" in obj:
        text = obj["instruction"] if isinstance(obj["instruction"], str) else ""
        return "flat" if _FLAT_TURN.search(text) else "alpaca"
    return None


def detect(path: Path) -> bool:
    """Detect xtuner ``conversation`` records, ms-swift ``query/response`` records, or flattened 来访者/医生 JSONL."""
    # A directory may mix layouts (EmoLLM ships alpaca-style files beside xtuner ones): look at several.
    return any(
        layout_of(first_record(f)) in ("xtuner", "swift", "flat")
        for f in sample_files(path, (".json", ".jsonl"), recursive=True)
    )


def xtuner_messages(obj: dict[str, Any], loc: Loc) -> list[dict[str, str]]:
    """Messages of one xtuner record (system taken from whichever turn carries it, normally the first)."""
    turns = obj.get("conversation")
    if not isinstance(turns, list):
        raise loc.error(f"expected a list of turns, got {type(turns).__name__}", field="conversation")
    system = ""
    body: list[dict[str, str]] = []
    for i, turn in enumerate(turns):
        field = f"conversation[{i}]"
        if not isinstance(turn, dict):
            raise loc.error(f"expected an object with input/output, got {type(turn).__name__}", field=field)
        if not system:
            system = require_str(turn, "system", loc, optional=True).strip()
        for key, role in (("input", "user"), ("output", "assistant")):
            if key not in turn:
                raise loc.error("missing field (expected a string)", field=f"{field}.{key}")
            value = turn[key]
            if not isinstance(value, str):
                raise loc.error(f"expected a string, got {type(value).__name__}", field=f"{field}.{key}")
            body.append(msg(role, value))
    return ([msg("system", system)] if system else []) + body


def flat_messages(obj: dict[str, Any], loc: Loc, report: ReadReport) -> list[dict[str, str]]:
    """Split a flattened ``来访者：…`` / ``医生：…`` instruction back into turns; the output ends it."""
    instruction = require_str(obj, "instruction", loc)
    output = require_str(obj, "output", loc)
    head, body = _split_mark(instruction)
    preamble, messages, joined = split_prefixed(body, _PREFIX, SPEAKERS)
    system = "\n".join(part for part in [head.strip(), *preamble] if part)
    if messages and messages[-1]["role"] == "assistant" and not messages[-1]["content"].strip():
        messages.pop()  # the open "医生：" that the output answers
    _, tail, joined_out = split_prefixed("医生：" + output, _PREFIX, SPEAKERS)
    report.notes["continuation lines joined"] += joined + joined_out
    return ([msg("system", system)] if system.strip() else []) + messages + tail


def _split_mark(instruction: str) -> tuple[str, str]:
    # "<system prompt>\n\n对话：\n<history>": the prompt before the mark becomes the system message.
    m = _DIALOGUE_MARK.search(instruction)
    if not m:
        return "", instruction
    return instruction[: m.start()], instruction[m.end() :]


def _swift_pair(entry: Any, loc: Loc, field: str) -> tuple[str, str]:
    if isinstance(entry, dict):
        for key in ("query", "response"):
            if not isinstance(entry.get(key), str):
                raise loc.error("missing or not a string", field=f"{field}.{key}")
        return entry["query"], entry["response"]
    if isinstance(entry, (list, tuple)) and len(entry) == 2 and all(isinstance(x, str) for x in entry):
        return entry[0], entry[1]
    raise loc.error("expected a [query, response] pair or {query, response}", field=field)


def _read_swift(
    file: Path, rel: str, source: str, on_bad: BadPolicy, report: ReadReport
) -> Iterator[Dialogue]:
    group: dict[str, Any] | None = None

    def finish(g: dict[str, Any]) -> Dialogue:
        meta = {"file": rel, "index": g["index"], "lines": [g["first_line"], g["last_line"]]}
        if g["records"] > 1:
            meta["reassembled_records"] = g["records"]
        return Dialogue(
            id=f"{source}-{rel.rsplit('.', 1)[0]}-{g['index']}",
            source=source,
            messages=g["messages"],
            meta=meta,
        )

    for index, (loc, obj) in enumerate(iter_records(file, on_bad, report)):
        report.records += 1
        try:
            obj = require_dict(obj, loc, "a record with query/response/history")
            query = require_str(obj, "query", loc)
            response = require_str(obj, "response", loc)
            system = require_str(obj, "system", loc, optional=True).strip()
            history = obj.get("history") or []
            if not isinstance(history, list):
                raise loc.error(f"expected a list, got {type(history).__name__}", field="history")
            pairs = [_swift_pair(h, loc, f"history[{i}]") for i, h in enumerate(history)]
        except DataError as err:
            on_bad(err)
            continue
        if history and all(isinstance(h, dict) for h in history):
            # EmoLLM's conversion bug: history holds the turn *after* the repeated opening pair.
            key = (system, query, response)
            if group is not None and group["key"] == key:
                group["messages"].extend(m for q, a in pairs for m in (msg("user", q), msg("assistant", a)))
                group["records"] += 1
                group["last_line"] = loc.line
                report.notes["swift records reassembled"] += 1
                continue
            if group is not None:
                report.dialogues += 1
                yield finish(group)
            opening = [msg("user", query), msg("assistant", response)]
            later = [m for q, a in pairs for m in (msg("user", q), msg("assistant", a))]
            group = {
                "key": key,
                "index": index,
                "first_line": loc.line,
                "last_line": loc.line,
                "records": 1,
                "messages": ([msg("system", system)] if system else []) + opening + later,
            }
            continue
        if group is not None:
            report.dialogues += 1
            yield finish(group)
        earlier = [m for q, a in pairs for m in (msg("user", q), msg("assistant", a))]
        messages = (
            ([msg("system", system)] if system else [])
            + earlier
            + [msg("user", query), msg("assistant", response)]
        )
        group = {
            "key": (system, query, response),
            "index": index,
            "first_line": loc.line,
            "last_line": loc.line,
            "records": 1,
            "messages": messages,
        }
    if group is not None:
        report.dialogues += 1
        yield finish(group)


def read(
    path: Path, *, skip_bad: bool = False, report: ReadReport | None = None, source: str = NAME
) -> Iterator[Dialogue]:
    """Stream dialogues from EmoLLM files (each file's layout recognised from its first record).

    Args:
        path: ``EmoLLM/datasets`` (searched recursively for ``*.json``/``*.jsonl``) or one file.
        skip_bad: Count and skip bad records instead of raising.
        report: Filled with counts.
        source: Source name used in ids and ``Dialogue.source``.
    """
    path = Path(path)
    report = report if report is not None else ReadReport()
    report.format = report.format or NAME
    on_bad = BadPolicy(skip_bad, report)
    for file in iter_files(path, (".json", ".jsonl"), recursive=True):
        rel = relative_name(file, path)
        layout = layout_of(first_record(file))
        if layout is None:
            report.files += 1
            on_bad(
                Loc(file, record=0).error(
                    "not an EmoLLM layout (expected conversation, instruction/output, query/response or "
                    "prompt/completion records)"
                )
            )
            continue
        report.notes[f"layout {layout}"] += 1
        if layout == "swift":
            yield from _read_swift(file, rel, source, on_bad, report)
            continue
        stem = rel.rsplit(".", 1)[0]
        for index, (loc, obj) in enumerate(iter_records(file, on_bad, report)):
            report.records += 1
            try:
                obj = require_dict(obj, loc, f"a {layout} record")
                if layout == "xtuner":
                    messages = xtuner_messages(obj, loc)
                    if not messages:
                        report.notes["empty conversation"] += 1
                elif layout == "flat":
                    messages = flat_messages(obj, loc, report)
                elif layout == "alpaca":
                    messages = alpaca_messages(obj, loc)
                else:
                    messages = [
                        msg("user", require_str(obj, "prompt", loc)),
                        msg("assistant", require_str(obj, "completion", loc)),
                    ]
            except DataError as err:
                on_bad(err)
                continue
            meta = {"file": rel, "index": index}
            report.dialogues += 1
            yield Dialogue(id=f"{source}-{stem}-{index}", source=source, messages=messages, meta=meta)
