"""Model adapters: what produces the outputs that metrics score."""

from __future__ import annotations

from typing import Any

from evalkit.adapters.base import ModelAdapter


def build_adapter(spec: str, options: dict[str, Any] | None = None) -> ModelAdapter:
    """Build an adapter from ``KIND:TARGET`` (``predictions:out.jsonl``, ``python:mod:fn``...).

    >>> build_adapter("scripted:echo").info()["kind"]
    'scripted'
    """
    from evalkit.errors import ConfigError
    from evalkit.registry import ADAPTERS

    kind, sep, target = spec.partition(":")
    if not sep or not kind:
        raise ConfigError(
            f"--model '{spec}': expected KIND:TARGET, for example predictions:preds.jsonl, "
            f"python:mymodule:generate or scripted:echo. Kinds: {', '.join(ADAPTERS.names())}."
        )
    cls = ADAPTERS.get(kind)
    adapter: ModelAdapter = cls(target, **(options or {}))  # type: ignore[call-arg]
    return adapter


__all__ = ["ModelAdapter", "build_adapter"]
