"""Metric parameters, declared once: one typed model per metric, validated in one place.

A metric declares its parameters as a nested ``Params`` model (pydantic, strict: no coercion, so
``true`` is not an integer and ``"4"`` is not a number); ``Metric.__init__`` validates the user's
values through it, ``evalkit metrics`` lists names, types, defaults and descriptions from it, and
the signature is built from the validated values. Every problem becomes one
:class:`~evalkit.errors.ConfigError` in the message template of :mod:`evalkit._validate`:
``<metric>: <what is wrong>; <how to fix it>.``

>>> from typing import Literal
>>> from pydantic import Field
>>> class Params(MetricParams):
...     order: int = Field(4, ge=1, description="n-gram order")
...     smooth: Literal["exp", "none"] = "exp"
>>> Params.validated("toy", {"order": 2}).order
2
>>> Params.validated("toy", {"order": True})
Traceback (most recent call last):
...
evalkit.errors.ConfigError: toy: order must be int, got bool True.
>>> Params.validated("toy", {"order": 0})
Traceback (most recent call last):
...
evalkit.errors.ConfigError: toy: order must be >= 1, got 0.
>>> Params.validated("toy", {"smooth": "add-k"})
Traceback (most recent call last):
...
evalkit.errors.ConfigError: toy: smooth='add-k' is not allowed; choose one of 'exp', 'none'.
>>> Params.validated("toy", {"ordr": 2})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
evalkit.errors.ConfigError: toy: unknown parameter 'ordr'. Did you mean 'order'? Parameters: ...
"""

from __future__ import annotations

import collections.abc as cabc
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

from evalkit.errors import ConfigError, did_you_mean

__all__ = ["MetricParams", "ParamInfo", "type_text"]

_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def type_text(annotation: Any) -> str:
    """A short, user-facing name of a parameter's type (``int or None``, ``list of str``).

    >>> type_text(int | None), type_text(list[str]), type_text(Literal["a", "b"])
    ('int or None', 'list of str', "'a' or 'b'")
    """
    origin = get_origin(annotation)
    if origin is Literal:
        return " or ".join(repr(a) for a in get_args(annotation))
    if origin in (types.UnionType, typing.Union):
        return " or ".join(type_text(a) for a in get_args(annotation))
    if origin in (list, tuple, cabc.Sequence):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        inner = " or ".join(type_text(a) for a in args) if args else "any"
        return f"list of {inner}"
    if origin in (dict, cabc.Mapping):
        return "mapping"
    if annotation is type(None):
        return "None"
    if annotation is Any:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


def _choices(annotation: Any) -> list[Any]:
    """The values a ``Literal`` field (optionally ``| None``) accepts, in declaration order.

    >>> _choices(Literal["a", "b"] | None)
    ['a', 'b', None]
    """
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    if get_origin(annotation) in (types.UnionType, typing.Union):
        return [c for a in get_args(annotation) for c in _choices(a)]
    return [None] if annotation is type(None) else []


def _range(field: FieldInfo) -> tuple[Any, Any]:
    """The inclusive ``(ge, le)`` bounds of a field, each None when not declared."""
    low = next((m.ge for m in field.metadata if getattr(m, "ge", None) is not None), None)
    high = next((m.le for m in field.metadata if getattr(m, "le", None) is not None), None)
    return low, high


class ParamInfo(typing.NamedTuple):
    """One declared parameter, as ``evalkit metrics`` lists it."""

    name: str
    type: str
    default: Any
    description: str


class MetricParams(BaseModel):
    """Base of every metric's ``Params`` model: strict, frozen, no unknown keys.

    Subclasses declare fields with defaults (``Field(4, ge=1, description=...)``) and, for
    checks across fields, ``model_validator(mode="after")`` methods that raise ``ValueError``
    with the text after ``<metric>:`` (``"char_order and word_order are both 0; set one of
    them >= 1"``).
    """

    model_config = ConfigDict(
        strict=True, frozen=True, extra="forbid", arbitrary_types_allowed=True
    )

    @classmethod
    def validated(cls, metric: str, values: Mapping[str, Any]) -> typing.Self:
        """The model for the user's ``values``; raise one ConfigError naming the metric."""
        try:
            return cls(**dict(values))
        except ValidationError as exc:
            raise ConfigError(cls._message(metric, exc, values)) from None

    @classmethod
    def infos(cls) -> list[ParamInfo]:
        """The declared parameters in declaration order."""
        return [
            ParamInfo(
                name,
                type_text(f.annotation),
                f.get_default(call_default_factory=True),
                f.description or "",
            )
            for name, f in cls.model_fields.items()
        ]

    @classmethod
    def _message(cls, metric: str, exc: ValidationError, values: Mapping[str, Any]) -> str:
        errors = exc.errors(include_url=False)
        first = errors[0]
        kind = first["type"]
        loc = first["loc"]
        name = str(loc[0]) if loc else ""
        value = values.get(name, first.get("input"))
        field: FieldInfo | None = cls.model_fields.get(name)
        if kind == "extra_forbidden":
            accepted = list(cls.model_fields)
            return (
                f"{metric}: unknown parameter '{name}'.{did_you_mean(name, accepted)} "
                f"Parameters: {', '.join(accepted) or '(none)'}."
            )
        if not loc or field is None:  # a model validator across fields
            text = str(first.get("msg", "")).removeprefix("Value error, ")
            return f"{metric}: {text.rstrip('.')}."
        if kind == "literal_error" or get_origin(field.annotation) is Literal:
            choices = ", ".join(repr(c) for c in _choices(field.annotation))
            if choices:
                return f"{metric}: {name}={value!r} is not allowed; choose one of {choices}."
        if kind in _BOUNDS and all(e["loc"][:1] == loc[:1] for e in errors):
            low, high = _range(field)
            if low is not None and high is not None:
                return f"{metric}: {name} must be between {low} and {high}, got {value!r}."
            op, key = _BOUNDS[kind]
            bound = (first.get("ctx") or {}).get(key)
            return f"{metric}: {name} must be {op} {bound}, got {value!r}."
        if kind == "value_error":
            text = str(first.get("msg", "")).removeprefix("Value error, ")
            return f"{metric}: {name}: {text.rstrip('.')}."
        if kind == "finite_number":
            return f"{metric}: {name} must be a finite number, got {value!r}."
        return (
            f"{metric}: {name} must be {type_text(field.annotation)}, "
            f"got {type(value).__name__} {value!r}."
        )
