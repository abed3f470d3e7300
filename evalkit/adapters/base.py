"""The adapter contract: one result per request, in order; failures are data."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from evalkit.errors import AdapterError
from evalkit.types import GenerateRequest, Generation, sample_seed

#: The batch of the file-replay adapters (``predictions:``, ``trec_run:``): big enough for the
#: text metrics' worker pools, small enough that a stopped run keeps most of its samples.
REPLAY_BATCH_SIZE = 4096


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
    #: Samples per batch for an adapter that replays stored answers (no model call), unless
    #: the suite's ``batch_size`` or ``--batch-size`` sets one: the text metrics score a large
    #: batch in worker processes (from 200 to 2,000 samples, see README "Speed"); None: the
    #: suite's default.
    replay_batch_size: ClassVar[int | None] = None

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

    def embed(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """``outputs = {"embedding": [float, ...]}`` of each prompt (a sentence embedding)."""
        raise AdapterError(f"adapter {self.name} cannot embed texts.")

    def generate_images(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """``outputs = {"image": REF}`` of each prompt (see :mod:`evalkit.data.images`)."""
        raise AdapterError(f"adapter {self.name} cannot generate images.")

    def call(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """Serve a batch of requests of one kind with the method of that name.

        Requests with ``n > 1`` samples or prompt ``variants`` are expanded into single
        requests (one batch) and gathered back by :func:`gather_expanded`; so are the
        ``continuations`` of multiple-choice requests (:func:`gather_choices`).
        """
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
        if any(r.continuations for r in requests):
            return _call_choices(method, self.name, requests)
        if any(r.n != 1 or r.variants for r in requests):
            singles = [s for r in requests for s in expand_request(r)]
            flat: list[Generation] = method(singles)
            if len(flat) != len(singles):
                raise AdapterError(
                    f"adapter {self.name} returned {len(flat)} results for {len(singles)} requests."
                )
            out, start = [], 0
            for r in requests:
                size = r.n * (1 + len(r.variants))
                out.append(gather_expanded(r, flat[start : start + size]))
                start += size
            return out
        result: list[Generation] = method(requests)
        return result

    @abstractmethod
    def info(self) -> dict[str, Any]:
        """Public settings (never secrets); also the adapter part of the cache key."""


def _call_choices(
    method: Any, adapter: str, requests: Sequence[GenerateRequest]
) -> list[Generation]:
    """Serve requests with ``continuations``: one single request per continuation, one batch."""
    singles: list[GenerateRequest] = []
    for r in requests:
        if r.n != 1 or r.variants:
            raise AdapterError(
                "a request with continuations (multiple choice) cannot also ask for n > 1 "
                "samples or prompt variants."
            )
        conts = r.continuations or (r.continuation,)
        singles += [dataclasses.replace(r, continuation=c, continuations=()) for c in conts]
    flat: list[Generation] = method(singles)
    if len(flat) != len(singles):
        raise AdapterError(
            f"adapter {adapter} returned {len(flat)} results for {len(singles)} requests."
        )
    out, start = [], 0
    for r in requests:
        if not r.continuations:  # a plain request in the same batch
            out.append(flat[start])
            start += 1
            continue
        out.append(gather_choices(flat[start : start + len(r.continuations)]))
        start += len(r.continuations)
    return out


def gather_choices(gens: Sequence[Generation]) -> Generation:
    """One Generation from the results of a request's ``continuations``, in order.

    ``outputs = {"choices": [outputs of continuation 0, ...]}``; a failed continuation fails
    the whole request, named, so that a multiple-choice item is never scored on some choices.

    >>> gather_choices([Generation(None, outputs={"logprob": -1.0}),
    ...                 Generation(None, outputs={"logprob": -2.0})]).outputs
    {'choices': [{'logprob': -1.0}, {'logprob': -2.0}]}
    """
    for i, g in enumerate(gens):
        if not g.ok:
            return Generation(text=None, error=f"choice {i}: {g.error or 'no output'}")
    return Generation(text=None, outputs={"choices": [dict(g.outputs) for g in gens]})


def expand_request(r: GenerateRequest) -> list[GenerateRequest]:
    """Single requests for ``r``: for each prompt (``r.prompt``, then each variant), ``r.n``
    samples seeded by :func:`~evalkit.types.sample_seed`.

    >>> [(s.prompt, s.seed, s.sample_index) for s in expand_request(
    ...     GenerateRequest("He ran", seed=1, variants=("She ran",)))]
    [('He ran', 1, 0), ('She ran', 1, 0)]
    """
    if r.n < 1:
        raise AdapterError(f"a request asks for n={r.n} samples; n must be >= 1.")
    return [
        dataclasses.replace(
            r, prompt=p, n=1, variants=(), seed=sample_seed(r.seed, k), sample_index=k
        )
        for p in (r.prompt, *r.variants)
        for k in range(r.n)
    ]


def gather_expanded(r: GenerateRequest, gens: Sequence[Generation]) -> Generation:
    """One Generation from the results of :func:`expand_request` (same order).

    The first sample of the main prompt is the Generation itself (``text`` and ``outputs``:
    with ``n == 1`` the result equals an unexpanded call's). Added to ``outputs``:
    ``samples`` (the ``n`` texts, or for scoring kinds the ``n`` output mappings, of the main
    prompt) when ``n > 1``, and ``variants`` (one entry per variant: its text, or its outputs
    for scoring kinds; a list of ``n`` of those when ``n > 1``). A failed single call fails the
    whole request, with the failure named: failures are never partly scored.

    >>> gather_expanded(GenerateRequest("a", n=2), [Generation("x"), Generation("y")]).outputs
    {'samples': ['x', 'y']}
    """
    per_prompt = r.n
    for i, g in enumerate(gens):
        if not g.ok:
            which = "the prompt" if i < per_prompt else f"variant {i // per_prompt}"
            what = f"{which}, sample {i % per_prompt}" if r.n > 1 else which
            return Generation(text=None, error=f"{what}: {g.error or 'no output'}")

    def payload(g: Generation) -> Any:
        return g.text if r.kind == "generate" else dict(g.outputs)

    first = gens[0]
    outputs: dict[str, Any] = dict(first.outputs)
    groups = [gens[i : i + per_prompt] for i in range(0, len(gens), per_prompt)]
    if r.n > 1:
        outputs["samples"] = [payload(g) for g in groups[0]]
    if r.variants:
        outputs["variants"] = [
            [payload(g) for g in grp] if r.n > 1 else payload(grp[0]) for grp in groups[1:]
        ]
    return Generation(text=first.text, outputs=outputs)
