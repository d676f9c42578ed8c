"""Recipe/config plumbing shared by every YAML file xinyu reads.

A config is a YAML file plus dotted command-line overrides (``train.lr=1e-4``,
``stages.0.epochs=2``), validated against a pydantic model that forbids unknown keys. All problems
are collected and reported at once, each naming its dotted key, and the resolved config is saved
in the run directory so a run can be reproduced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from xinyu.errors import ConfigError
from xinyu.io import write_text

T = TypeVar("T", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with a clear error for syntax problems or a non-mapping top level."""
    path = Path(path)
    if not path.exists():
        raise ConfigError([f"file not found: {path}"], source=path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([f"{where}YAML syntax error: {getattr(exc, 'problem', exc)}"], source=path) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"expected a mapping at the top level, got {type(data).__name__}"], source=path)
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides in place; values are parsed as YAML scalars/lists.

    List elements are addressed by index (``stages.1.lr=2e-5``). A new key may be created (and is
    then checked by validation like any other key).
    """
    for item in overrides:
        if "=" not in item:
            raise ConfigError([f"override '{item}' must look like key.path=value"])
        key, raw = item.split("=", 1)
        key = key.strip()
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        parts = key.split(".")
        node: Any = data
        for depth, part in enumerate(parts[:-1]):
            here = ".".join(parts[: depth + 1])
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError([f"override '{key}': '{here}' is not a valid list index"])
                node = node[int(part)]
            elif isinstance(node, dict):
                node = node.setdefault(part, {})
            else:
                raise ConfigError([f"override '{key}': '{here}' is a value, not a section"])
        last = parts[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise ConfigError([f"override '{key}': '{last}' is not a valid list index"])
            node[int(last)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ConfigError([f"override '{key}': parent is a value, not a section"])
    return data


def format_validation_error(exc: ValidationError) -> list[str]:
    """Turn pydantic errors into ``dotted.key: message`` lines."""
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<root>"
        if err["type"] == "extra_forbidden":
            problems.append(f"{key}: unknown key")
        elif err["type"] == "missing":
            problems.append(f"{key}: required key is missing")
        else:
            problems.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
    return problems


def validate(model: type[T], data: dict[str, Any], source: str | Path | None = None) -> T:
    """Validate ``data`` against ``model``; raise one :class:`ConfigError` listing every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc), source=source) from None


def load_config(model: type[T], path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> T:
    """Load YAML, apply overrides, validate. Relative paths stay as written (resolved by callers)."""
    data = apply_overrides(load_yaml(path), list(overrides))
    return validate(model, data, source=path)


def dump_config(config: BaseModel, path: str | Path) -> Path:
    """Save a resolved config as YAML (atomically)."""
    text = yaml.safe_dump(config.model_dump(mode="json"), allow_unicode=True, sort_keys=False)
    return write_text(path, text)
