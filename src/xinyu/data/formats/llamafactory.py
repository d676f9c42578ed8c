"""LLaMA-Factory dataset registry: load a dataset registered in ``dataset_info.json`` by name.

An entry names a local ``file_name`` (file or directory, relative to the registry), its ``formatting``
(``alpaca``, the default, or ``sharegpt``), and optional ``columns`` and ``tags`` mappings, exactly as
LLaMA-Factory reads them::

    "psy_chat": {"file_name": "psy_chat.json", "formatting": "sharegpt",
                 "columns": {"messages": "conversations", "system": "system"},
                 "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                          "assistant_tag": "gpt"}}

Hub entries (``hf_hub_url``, ``ms_hub_url``, ``script_url``) are refused: xinyu never downloads at
run time. Preference entries (``ranking: true``) are not dialogues and are refused too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xinyu.data.formats._base import Loc, ReadReport, read_record_files, record_id, require_dict
from xinyu.data.formats.alpaca import alpaca_messages
from xinyu.data.formats.openai import topic_meta
from xinyu.data.formats.sharegpt import sharegpt_messages
from xinyu.data.schema import Dialogue
from xinyu.errors import DataError
from xinyu.io import read_json

NAME = "llamafactory"
DESCRIPTION = (
    "LLaMA-Factory dataset_info.json registry: --dataset NAME loads a registered alpaca/sharegpt set"
)
REGISTRY_FILE = "dataset_info.json"

_ALPACA_COLUMNS = {
    "prompt": "instruction",
    "query": "input",
    "response": "output",
    "system": "system",
    "history": "history",
}
_SHAREGPT_COLUMNS = {"messages": "conversations", "system": "system"}
_SHAREGPT_TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}
_IGNORED_COLUMNS = {"tools", "images", "videos", "audios", "kto_tag", "chosen", "rejected"}


def _registry_path(path: Path) -> Path:
    return path / REGISTRY_FILE if path.is_dir() else path


def detect(path: Path) -> bool:
    """A file named ``dataset_info.json`` (or a directory holding one)."""
    return _registry_path(Path(path)).name == REGISTRY_FILE and _registry_path(Path(path)).is_file()


def load_registry(path: Path) -> dict[str, Any]:
    """Read and check a ``dataset_info.json``."""
    registry_file = _registry_path(Path(path))
    registry = read_json(registry_file)
    if not isinstance(registry, dict):
        raise DataError("expected an object mapping dataset names to entries", path=registry_file)
    return registry


def entry_spec(
    registry_file: Path, name: str, entry: Any
) -> tuple[Path, str, dict[str, str], dict[str, str]]:
    """``(data path, formatting, columns, tags)`` of one registry entry, with every problem named."""
    where = f"dataset '{name}'"
    if not isinstance(entry, dict):
        raise DataError(f"{where}: expected an object", path=registry_file, field=name)
    for remote in ("hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name"):
        if remote in entry and "file_name" not in entry:
            raise DataError(
                f"{where} is a remote dataset ({remote}); xinyu reads local files only — "
                "download it and register its file_name",
                path=registry_file,
                field=f"{name}.{remote}",
            )
    if "file_name" not in entry:
        raise DataError(
            f"{where}: missing 'file_name' (expected a local file or directory)",
            path=registry_file,
            field=f"{name}.file_name",
        )
    if entry.get("ranking"):
        raise DataError(
            f"{where} is a preference (ranking) dataset; import expects dialogues",
            path=registry_file,
            field=f"{name}.ranking",
        )
    formatting = entry.get("formatting", "alpaca")
    if formatting not in ("alpaca", "sharegpt"):
        raise DataError(
            f"{where}: expected formatting 'alpaca' or 'sharegpt', got {formatting!r}",
            path=registry_file,
            field=f"{name}.formatting",
        )
    columns = dict(_ALPACA_COLUMNS if formatting == "alpaca" else _SHAREGPT_COLUMNS)
    user_columns = entry.get("columns") or {}
    tags = dict(_SHAREGPT_TAGS)
    user_tags = entry.get("tags") or {}
    if not isinstance(user_columns, dict) or not isinstance(user_tags, dict):
        raise DataError(f"{where}: 'columns' and 'tags' must be objects", path=registry_file, field=name)
    for key, value in user_columns.items():
        if key in _IGNORED_COLUMNS:
            continue
        if key not in columns:
            raise DataError(
                f"{where}: unknown column '{key}' for {formatting} (expected some of {sorted(columns)})",
                path=registry_file,
                field=f"{name}.columns.{key}",
            )
        columns[key] = value
    for key, value in user_tags.items():
        if key not in tags:
            raise DataError(
                f"{where}: unknown tag '{key}' (expected some of {sorted(tags)})",
                path=registry_file,
                field=f"{name}.tags.{key}",
            )
        tags[key] = value
    data_path = (registry_file.parent / str(entry["file_name"])).resolve()
    if not data_path.exists():
        raise DataError(
            f"{where}: file_name does not exist: {data_path}", path=registry_file, field=f"{name}.file_name"
        )
    return data_path, formatting, columns, tags


def read(
    path: Path,
    *,
    skip_bad: bool = False,
    report: ReadReport | None = None,
    source: str | None = None,
    dataset: str | None = None,
) -> Iterator[Dialogue]:
    """Stream dialogues of one dataset registered in a LLaMA-Factory ``dataset_info.json``.

    Args:
        path: The ``dataset_info.json`` (or its directory).
        skip_bad: Count and skip bad records instead of raising.
        report: Filled with counts.
        source: Source name (default: the dataset name).
        dataset: The registered dataset name (required).
    """
    registry_file = _registry_path(Path(path))
    registry = load_registry(registry_file)
    if not dataset:
        raise DataError(
            f"choose a dataset with --dataset NAME; registered: {', '.join(sorted(registry)) or 'none'}",
            path=registry_file,
        )
    if dataset not in registry:
        raise DataError(
            f"no dataset '{dataset}' registered (available: {', '.join(sorted(registry)) or 'none'})",
            path=registry_file,
        )
    data_path, formatting, columns, tags = entry_spec(registry_file, dataset, registry[dataset])
    report = report if report is not None else ReadReport()
    report.format = NAME
    source = source or dataset
    role_map = {
        tags["user_tag"]: "user",
        tags["assistant_tag"]: "assistant",
        tags["observation_tag"]: "user",
        tags["function_tag"]: "assistant",
        tags["system_tag"]: "system",
    }

    def convert(obj: Any, loc: Loc, key: str) -> Dialogue:
        obj = require_dict(obj, loc, f"a {formatting} record")
        if formatting == "alpaca":
            messages = alpaca_messages(
                obj,
                loc,
                prompt=columns["prompt"],
                query=columns["query"],
                response=columns["response"],
                system=columns["system"],
                history=columns["history"],
            )
        else:
            messages = sharegpt_messages(
                obj,
                loc,
                report,
                messages_key=columns["messages"],
                role_tag=tags["role_tag"],
                content_tag=tags["content_tag"],
                system_key=columns["system"],
                role_map=role_map,
            )
        meta: dict[str, Any] = {
            "file": loc.path.name,
            "index": loc.record if loc.record is not None else loc.line,
            "dataset": dataset,
        }
        meta.update(topic_meta(obj))
        return Dialogue(id=f"{source}-{record_id(obj, key)}", source=source, messages=messages, meta=meta)

    return read_record_files(data_path, convert, skip_bad=skip_bad, report=report, fmt=NAME)
