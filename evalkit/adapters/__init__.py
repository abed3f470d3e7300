"""Model adapters: what produces the outputs that metrics score."""

from __future__ import annotations

from typing import Any

from evalkit.adapters.base import ModelAdapter


def build_adapter(spec: str, options: dict[str, Any] | None = None) -> ModelAdapter:
    """Build an adapter from ``KIND:TARGET`` (``predictions:out.jsonl``, ``python:mod:fn``...).

    >>> build_adapter("scripted:echo").info()["kind"]
    'scripted'
    """
    from evalkit.registry import build_adapter as build

    return build(spec, options)


__all__ = ["ModelAdapter", "build_adapter"]
