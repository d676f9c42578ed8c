"""Importers for preference data: TRL/UltraFeedback and LLaMA-Factory ranking layouts → pairs.

Layouts read (JSON array, JSONL, ``{"data": [...]}``, or a directory of them):

* ``xinyu``: the project's own pair records (``messages`` + ``chosen`` + ``rejected``).
* ``trl``: TRL's preference datasets. Explicit prompt: ``prompt`` (a string or a message list) with
  ``chosen``/``rejected`` (strings or message lists). Implicit prompt (UltraFeedback-binarized
  style): ``chosen``/``rejected`` are whole conversations sharing the prompt and differing in the
  final assistant message. An optional ``system`` string is put first.
* ``llamafactory``: LLaMA-Factory ranking data. Either a ``dataset_info.json`` with ``--dataset
  NAME`` of an entry with ``"ranking": true``, or the data file itself: alpaca formatting
  (``instruction``, ``input``, ``chosen``, ``rejected`` strings, optional ``system``/``history``) or
  sharegpt formatting (``conversations`` ending with the user turn, ``chosen``/``rejected`` as one
  ``{"from": "gpt", "value": ...}`` message each). Registry ``columns`` and ``tags`` are honoured.

These yield :class:`~xinyu.data.preference.PreferencePair`, not dialogues, so the module is not in
the dialogue format registry (:data:`xinyu.data.formats.FORMATS`); :func:`read_pairs_any` is its
entry point (``xinyu data pairs import``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xinyu.data.formats._base import (
    Loc,
    ReadReport,
    first_file,
    first_record,
    read_record_files,
    record_id,
    require_dict,
    require_str,
)
from xinyu.data.formats.alpaca import alpaca_messages
from xinyu.data.formats.openai import content_text, convert_messages
from xinyu.data.formats.sharegpt import ROLE_MAP as SHAREGPT_ROLES
from xinyu.data.formats.sharegpt import sharegpt_messages
from xinyu.data.preference import PreferencePair, pair_problems
from xinyu.errors import DataError

PAIR_FORMATS = ("xinyu", "trl", "llamafactory")
REGISTRY_FILE = "dataset_info.json"


def _first(path: Path) -> Any:
    sample = path if path.is_file() else first_file(path, (".json", ".jsonl"), recursive=True)
    return first_record(sample) if sample else None


def detect_pair_format(path: str | Path) -> str:
    """Name of the pair layout of ``path`` (one of :data:`PAIR_FORMATS`), from its first record."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file or directory", path=path)
    if (path / REGISTRY_FILE if path.is_dir() else path).name == REGISTRY_FILE:
        return "llamafactory"
    obj = _first(path)
    if not isinstance(obj, dict) or "chosen" not in obj or "rejected" not in obj:
        keys = sorted(obj)[:12] if isinstance(obj, dict) else type(obj).__name__
        raise DataError(
            f"not preference data: the first record has {keys}; expected 'chosen' and 'rejected' "
            f"(formats: {', '.join(PAIR_FORMATS)})",
            path=path,
        )
    if "instruction" in obj or "conversations" in obj:
        return "llamafactory"
    if "messages" in obj and isinstance(obj["chosen"], list) and len(obj["chosen"]) == 1:
        return "xinyu"
    return "trl"


def _finish(pair: dict[str, Any], loc: Loc) -> PreferencePair:
    problems = pair_problems(pair)
    if problems:
        key, message = problems[0]
        raise loc.error(message, field=key)
    return PreferencePair.from_dict(pair)


def _as_messages(
    value: Any, loc: Loc, field: str, report: ReadReport, default_role: str
) -> list[dict[str, str]]:
    if isinstance(value, str):
        return [{"role": default_role, "content": value}]
    if isinstance(value, dict):  # a single message object
        value = [value]
    return convert_messages(value, loc, report, field=field)


def trl_pair(obj: Any, loc: Loc, key: str, report: ReadReport, source: str) -> PreferencePair:
    """Convert one TRL preference record (explicit or implicit prompt)."""
    obj = require_dict(obj, loc, "a record with 'chosen' and 'rejected'")
    for name in ("chosen", "rejected"):
        if name not in obj:
            raise loc.error("missing field (expected a string or a message list)", field=name)
    chosen = _as_messages(obj["chosen"], loc, "chosen", report, "assistant")
    rejected = _as_messages(obj["rejected"], loc, "rejected", report, "assistant")
    prompt: list[dict[str, str]] = []
    if "prompt" in obj and obj["prompt"] is not None:
        prompt = _as_messages(obj["prompt"], loc, "prompt", report, "user")
    # Implicit prompt: the shared beginning of both conversations.
    shared = 0
    while shared < min(len(chosen), len(rejected)) - 1 and chosen[shared] == rejected[shared]:
        shared += 1
    head, chosen, rejected = chosen[:shared], chosen[shared:], rejected[shared:]
    if head and prompt and head[: len(prompt)] == prompt:
        prompt = head
    elif head:
        prompt = prompt + head
    if len(chosen) != 1 or len(rejected) != 1:
        raise loc.error(
            "chosen and rejected must differ only in one final assistant message "
            f"(got {len(chosen)} and {len(rejected)} differing messages)",
            field="chosen",
        )
    system = require_str(obj, "system", loc, optional=True)
    if system.strip() and not (prompt and prompt[0]["role"] == "system"):
        prompt = [{"role": "system", "content": system}, *prompt]
    return _finish(
        {
            "id": f"{source}-{record_id(obj, key)}",
            "source": source,
            "messages": prompt,
            "chosen": chosen,
            "rejected": rejected,
            "meta": {"file": loc.path.name, "index": loc.record if loc.record is not None else loc.line},
        },
        loc,
    )


def _reply_text(value: Any, loc: Loc, field: str, content_tag: str) -> str:
    if isinstance(value, dict):  # sharegpt: {"from": "gpt", "value": ...}
        if content_tag not in value:
            raise loc.error("missing field (expected the reply text)", field=f"{field}.{content_tag}")
        return content_text(value[content_tag], loc, f"{field}.{content_tag}")
    if isinstance(value, str):
        return value
    raise loc.error(f"expected a string or a message object, got {type(value).__name__}", field=field)


def llamafactory_pair(
    obj: Any,
    loc: Loc,
    key: str,
    report: ReadReport,
    source: str,
    formatting: str,
    columns: dict[str, str],
    tags: dict[str, str],
) -> PreferencePair:
    """Convert one LLaMA-Factory ranking record (alpaca or sharegpt formatting)."""
    obj = require_dict(obj, loc, f"a {formatting} ranking record")
    chosen_key, rejected_key = columns.get("chosen", "chosen"), columns.get("rejected", "rejected")
    for name in (chosen_key, rejected_key):
        if name not in obj:
            raise loc.error("missing field (a ranking record has chosen and rejected replies)", field=name)
    if formatting == "alpaca":
        messages = alpaca_messages(
            {**obj, "__reply__": ""},
            loc,
            prompt=columns.get("prompt", "instruction"),
            query=columns.get("query", "input"),
            response="__reply__",
            system=columns.get("system", "system"),
            history=columns.get("history", "history"),
        )[:-1]
    else:
        role_map = {
            tags.get("user_tag", "human"): "user",
            tags.get("assistant_tag", "gpt"): "assistant",
            tags.get("system_tag", "system"): "system",
            **{k: v for k, v in SHAREGPT_ROLES.items() if k not in tags.values()},
        }
        messages = sharegpt_messages(
            obj,
            loc,
            report,
            messages_key=columns.get("messages", "conversations"),
            role_tag=tags.get("role_tag", "from"),
            content_tag=tags.get("content_tag", "value"),
            system_key=columns.get("system", "system"),
            role_map=role_map,
        )
    content_tag = tags.get("content_tag", "value")
    return _finish(
        {
            "id": f"{source}-{record_id(obj, key)}",
            "source": source,
            "messages": messages,
            "chosen": [
                {"role": "assistant", "content": _reply_text(obj[chosen_key], loc, chosen_key, content_tag)}
            ],
            "rejected": [
                {
                    "role": "assistant",
                    "content": _reply_text(obj[rejected_key], loc, rejected_key, content_tag),
                }
            ],
            "meta": {"file": loc.path.name, "index": loc.record if loc.record is not None else loc.line},
        },
        loc,
    )


def _registry_entry(path: Path, dataset: str | None) -> tuple[Path, str, dict[str, str], dict[str, str]]:
    from xinyu.io import read_json

    registry_file = path / REGISTRY_FILE if path.is_dir() else path
    registry = read_json(registry_file)
    if not isinstance(registry, dict):
        raise DataError("expected an object mapping dataset names to entries", path=registry_file)
    ranking = sorted(k for k, v in registry.items() if isinstance(v, dict) and v.get("ranking"))
    if not dataset or dataset not in registry:
        what = f"no dataset '{dataset}' registered" if dataset else "choose a dataset with --dataset NAME"
        raise DataError(f"{what}; ranking datasets: {', '.join(ranking) or 'none'}", path=registry_file)
    entry = registry[dataset]
    if not isinstance(entry, dict) or not entry.get("ranking"):
        raise DataError(
            f"dataset '{dataset}' is not a ranking dataset (set \"ranking\": true, or import it with "
            "`xinyu data import`)",
            path=registry_file,
            field=f"{dataset}.ranking",
        )
    if "file_name" not in entry:
        raise DataError(
            "missing 'file_name' (local files only)", path=registry_file, field=f"{dataset}.file_name"
        )
    formatting = entry.get("formatting", "alpaca")
    if formatting not in ("alpaca", "sharegpt"):
        raise DataError(
            f"expected formatting 'alpaca' or 'sharegpt', got {formatting!r}",
            path=registry_file,
            field=f"{dataset}.formatting",
        )
    columns, tags = entry.get("columns") or {}, entry.get("tags") or {}
    if not isinstance(columns, dict) or not isinstance(tags, dict):
        raise DataError("'columns' and 'tags' must be objects", path=registry_file, field=dataset)
    data_path = (registry_file.parent / str(entry["file_name"])).resolve()
    if not data_path.exists():
        raise DataError(
            f"file_name does not exist: {data_path}", path=registry_file, field=f"{dataset}.file_name"
        )
    return data_path, formatting, dict(columns), dict(tags)


def read_pairs_any(
    path: str | Path,
    format: str | None = None,
    *,
    dataset: str | None = None,
    source: str | None = None,
    skip_bad: bool = False,
    report: ReadReport | None = None,
) -> Iterator[PreferencePair]:
    """Stream preference pairs from any supported layout.

    Args:
        path: A file or directory (or a ``dataset_info.json`` for ``llamafactory``).
        format: One of :data:`PAIR_FORMATS`; detected from the first record when ``None``.
        dataset: The registered dataset name, for a LLaMA-Factory registry.
        source: Source name for ids (default: the format, or the dataset name).
        skip_bad: Count and skip bad records in ``report`` instead of raising.
        report: Receives counts (``dialogues`` counts pairs) and bad-record locations.

    Raises:
        DataError: Unknown layout, or a bad record (file, line/record, field) without ``skip_bad``.
    """
    path = Path(path)
    name = format or detect_pair_format(path)
    if name not in PAIR_FORMATS:
        raise DataError(f"unknown pair format {name!r}; expected one of {', '.join(PAIR_FORMATS)}", path=path)
    report = report if report is not None else ReadReport()
    report.format = name
    report.path = str(path)
    if name == "xinyu":
        src = source

        def convert(obj: Any, loc: Loc, key: str) -> PreferencePair:
            pair = _finish(require_dict(obj, loc, "a pair record"), loc)
            if src:
                pair.source = src
            return pair

        return read_record_files(path, convert, skip_bad=skip_bad, report=report, fmt=name)
    if name == "trl":
        src = source or "trl"
        return read_record_files(
            path,
            lambda o, loc, k: trl_pair(o, loc, k, report, src),
            skip_bad=skip_bad,
            report=report,
            fmt=name,
        )
    if (path / REGISTRY_FILE if path.is_dir() else path).name == REGISTRY_FILE:
        data_path, formatting, columns, tags = _registry_entry(path, dataset)
        src = source or str(dataset)
    else:
        if dataset:
            raise DataError("--dataset needs a dataset_info.json registry", path=path)
        obj = _first(path)
        data_path, formatting, columns, tags = (
            path,
            ("sharegpt" if "conversations" in (obj or {}) else "alpaca"),
            {},
            {},
        )
        src = source or "llamafactory"
    return read_record_files(
        data_path,
        lambda o, loc, k: llamafactory_pair(o, loc, k, report, src, formatting, columns, tags),
        skip_bad=skip_bad,
        report=report,
        fmt=name,
    )
