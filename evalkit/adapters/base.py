"""The adapter contract: one result per request, in order; failures are data."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from evalkit.types import GenerateRequest, Generation


class ModelAdapter(ABC):
    """Base class of model adapters.

    Subclasses take the spec's target (the part after ``KIND:``) and keyword options.
    ``generate`` never raises for a failed call: it returns a ``Generation`` with ``error`` set,
    so the runner counts the failure instead of scoring an empty answer.
    """

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[str]] = frozenset({"generate"})
    #: Whether responses may be served from the response cache (a file replay gains nothing).
    cacheable: ClassVar[bool] = True

    def prepare(self, requests: Mapping[str, Sequence[GenerateRequest]]) -> None:  # noqa: B027
        """Check, before any call, that every request can be served (per task); optional."""

    @abstractmethod
    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """One Generation per request, in order."""

    @abstractmethod
    def info(self) -> dict[str, Any]:
        """Public settings (never secrets); also the adapter part of the cache key."""
