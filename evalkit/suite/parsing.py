"""Safe YAML parsing of a suite, with errors that name the file, the line and the key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from evalkit.errors import ConfigError, did_you_mean
from evalkit.suite.schema import SuiteSpec


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its closest existing parent)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                    nxt = v
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            nxt = node.value[part]
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def _fix_for(err: Any, parent_model: type[BaseModel] | None) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden" and parent_model is not None:
        key = str(err["loc"][-1])
        fields = list(parent_model.model_fields)
        return f"unknown key '{key}'.{did_you_mean(key, fields)} Allowed keys: {', '.join(fields)}."
    if kind == "missing":
        return f"required key '{err['loc'][-1]}' is missing; add it."
    return f"{err.get('msg', 'invalid value')} (got {err.get('input')!r})."


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of ``loc`` (for did-you-mean on keys)."""
    model: type[BaseModel] | None = SuiteSpec
    for part in loc[:-1]:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        inner = getattr(ann, "__args__", (ann,))
        model = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return model


def parse_suite(text: str, path: Path) -> SuiteSpec:
    """Parse and validate suite YAML text (safe loading only)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = exc.problem or str(exc)
        hint = ""
        if "python/" in str(exc) or "constructor" in problem:
            hint = " Suites are data only: tags that build Python objects are refused."
        raise ConfigError(f"{path}{line}: invalid YAML: {problem}.{hint}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a suite must be a mapping with 'name' and 'tasks', got {type(data).__name__}."
        )
    try:
        return SuiteSpec.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            # pydantic reports union branches as extra loc parts ('str', 'dict[...]'); drop them.
            loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p == "str")))
            ln = _line_of(root, loc)
            where = f"{path}:{ln}" if ln else str(path)
            lines.append(f"{where}: {_loc_to_path(loc)}: {_fix_for(err, _model_at(loc))}")
        # de-duplicate union noise, keep order
        seen: dict[str, None] = dict.fromkeys(lines)
        raise ConfigError("\n".join(seen)) from None
