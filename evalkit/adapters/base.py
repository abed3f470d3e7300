"""The adapter contract: one result per request, in order; failures are data."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from evalkit.errors import AdapterError
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

    def loglikelihood(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """``outputs = {"logprob", "is_greedy", "n_tokens"}`` of each continuation."""
        raise AdapterError(f"adapter {self.name} cannot score log-likelihoods.")

    def loglikelihood_rolling(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """``outputs = {"nll", "n_tokens"}`` of each whole text (windows from the options)."""
        raise AdapterError(f"adapter {self.name} cannot score rolling log-likelihoods.")

    def retrieve(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """``outputs = {"ranking": [[doc_id, score], ...]}`` of each query (see GenerateRequest)."""
        raise AdapterError(f"adapter {self.name} cannot rank documents.")

    def call(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """Serve a batch of requests of one kind with the method of that name."""
        kinds = {r.kind for r in requests}
        if len(kinds) > 1:
            raise AdapterError(f"one batch mixes request kinds {sorted(kinds)}.")
        kind = kinds.pop() if kinds else "generate"
        if kind not in self.capabilities:
            raise AdapterError(
                f"adapter {self.name} cannot serve '{kind}' requests "
                f"(it offers {', '.join(sorted(self.capabilities))})."
            )
        method = getattr(self, kind)
        result: list[Generation] = method(requests)
        return result

    @abstractmethod
    def info(self) -> dict[str, Any]:
        """Public settings (never secrets); also the adapter part of the cache key."""
