"""Frozen value objects shared by data loading, adapters, metrics and reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

#: A per-sample sufficient statistic: JSON-serialisable (numbers, lists, dicts of those).
Stats = Any

_V = TypeVar("_V")


def evolve(obj: _V, **changes: Any) -> _V:
    """A copy of the value object ``obj`` with the fields in ``changes`` replaced.

    What :func:`dataclasses.replace` gives, a few times faster: the copy takes ``obj``'s
    field values as they are rather than passing each one through ``__init__`` (the runner
    builds two objects per sample this way). The value objects of this module, which check
    nothing on construction, are copied so; others go through :func:`dataclasses.replace`.
    ``changes`` must name fields of ``obj``.

    >>> s = Sample(id="1", references=("a cat",))
    >>> evolve(s, prediction="a cat") == replace(s, prediction="a cat")
    True
    >>> s.prediction is None
    True
    """
    kind = type(obj)
    if kind not in _EVOLVABLE:
        return replace(obj, **changes)  # type: ignore[type-var]
    new = _new(kind)
    _setattr(new, "__dict__", {**obj.__dict__, **changes})  # frozen: bypass its __setattr__
    return new


_new = object.__new__
_setattr = object.__setattr__


@dataclass(frozen=True)
class Sample:
    """One evaluation example, after its model output (if any) is known.

    Attributes:
        id: The sample id, unique within its task.
        inputs: The dataset fields, available to the prompt template.
        references: Zero or more reference outputs.
        prediction: The model output that metrics score; ``None`` before generation.
        outputs: Other adapter outputs a metric may require (log-probabilities, rankings...).
        prompt: The rendered prompt (for log-likelihood tasks: the text that was scored).
        where: The file and line the sample was read from (for error messages).
    """

    id: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    references: tuple[str, ...] = ()
    prediction: str | None = None
    outputs: Mapping[str, Any] = field(default_factory=dict)
    prompt: str | None = None
    #: Where the sample was read (``PATH:LINE``, or ``PATH:row N``), for error messages; empty
    #: for samples built in code.
    where: str = field(default="", compare=False)


#: The key of ``Sample.outputs`` under which a judge metric finds its judge's answers (one
#: ``{"text", "error", "cached"}`` mapping per judge request; see ``Metric.judge_requests``).
JUDGMENTS = "judgments"

#: The key of ``Sample.inputs`` under which a RAG task keeps its retriever's whole ranking
#: (``depth`` documents); the runner hands it to ranking metrics as ``outputs["ranking"]``.
RETRIEVED_RANKING = "_ranking"

#: Request kinds, each served by the adapter method of the same name.
REQUEST_KINDS = (
    "generate",
    "loglikelihood",
    "loglikelihood_rolling",
    "retrieve",
    "embed",
    "generate_images",
)


@dataclass(frozen=True)
class GenerateRequest:
    """A request to a model: a completion, or log-likelihoods.

    Kinds (see :data:`REQUEST_KINDS`):

    - ``generate``: a completion of ``prompt``.
    - ``loglikelihood``: the log-probability of ``continuation`` given ``prompt``.
    - ``loglikelihood_rolling``: the summed negative log-likelihood of the whole ``prompt``
      text, scored in windows set by ``options`` (``max_length``, ``stride``).
    - ``retrieve``: rank the documents of a corpus for the query text ``prompt``. ``options``
      carry the task's ``corpus`` (an absolute path), ``corpus_sha256`` (so that cached
      rankings follow the corpus contents) and ``depth`` (how many documents to return).

    - ``embed``: a sentence embedding of ``prompt`` (``outputs = {"embedding": [float, ...]}``).
    - ``generate_images``: an image for ``prompt`` (``outputs = {"image": REF}``, REF a file
      path, ``FILE.npz#ROW`` or an inline ``data:image/png;base64,...``; see
      :mod:`evalkit.data.images`).

    ``task`` and ``sample_id`` let adapters that replay stored outputs (``predictions:``) find
    theirs; they never change what a live model produces and are not part of the cache key.

    ``continuations`` (``loglikelihood`` only) asks for the log-probability of each of several
    continuations of ``prompt`` (the choices of a multiple-choice item), one call each; the
    results are gathered as ``outputs["choices"]``, in order (see
    :func:`evalkit.adapters.base.gather_expanded`).

    ``n`` asks for that many samples of the prompt and ``variants`` for the same request on
    other prompts (counterfactual pairs); :meth:`evalkit.adapters.base.ModelAdapter.call`
    expands them into single requests (sample ``k`` seeded by :func:`sample_seed`, with
    ``sample_index=k``) and gathers the results into one Generation (see there).
    """

    prompt: str
    task: str = ""
    sample_id: str = ""
    max_tokens: int | None = None
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    kind: str = "generate"
    continuation: str | None = None
    options: tuple[tuple[str, Any], ...] = ()
    n: int = 1
    variants: tuple[str, ...] = ()
    sample_index: int = 0
    continuations: tuple[str, ...] = ()

    def option(self, name: str, default: Any = None) -> Any:
        """One of the request's ``options``."""
        return dict(self.options).get(name, default)

    def cache_fields(self) -> dict[str, Any]:
        """Everything that changes the output of a live model."""
        fields: dict[str, Any] = {"kind": self.kind, "prompt": self.prompt}
        if self.kind == "generate":
            fields.update(
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                stop=list(self.stop),
                seed=self.seed,
            )
        if self.kind == "loglikelihood":
            fields["continuation"] = self.continuation
        if self.options:
            fields["options"] = dict(self.options)
        if self.n != 1:
            fields["n"] = self.n
        if self.variants:
            fields["variants"] = list(self.variants)
        if self.continuations:
            fields["continuations"] = list(self.continuations)
        if self.sample_index:  # a judge's repeat k of one prompt (unseeded repeats differ too)
            fields["sample_index"] = self.sample_index
        return fields


def sample_seed(seed: int | None, k: int) -> int | None:
    """The seed of sample ``k`` of a request seeded ``seed``: sample 0 keeps it.

    Later samples get seeds derived by SHA-256, so they do not collide with other requests'
    seeds as ``seed + k`` would.

    >>> sample_seed(7, 0), sample_seed(None, 3)
    (7, None)
    >>> sample_seed(7, 1) == sample_seed(7, 1) != sample_seed(7, 2)
    True
    """
    if seed is None or k == 0:
        return seed
    import hashlib

    digest = hashlib.sha256(f"{seed}:{k}".encode()).digest()
    return int.from_bytes(digest[:7], "big")


@dataclass(frozen=True)
class Generation:
    """The result of one request: a text and/or numeric outputs, or an error.

    Failures are data, not exceptions. Log-likelihood requests return ``outputs``:
    ``{"logprob": float, "is_greedy": bool, "n_tokens": int}`` for ``loglikelihood`` and
    ``{"nll": float, "n_tokens": int}`` (summed negative log-likelihood in nats over the scored
    tokens) for ``loglikelihood_rolling``. Retrieval requests return
    ``{"ranking": [[doc_id, score], ...]}``, best first (score descending, equal scores by doc id
    descending), at most ``depth`` documents; an adapter replaying a run file that lacks the
    query returns ``{"ranking": [], "missing": True}``.
    """

    text: str | None
    error: str | None = None
    cached: bool = False
    outputs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.error is None and (self.text is not None or bool(self.outputs))


@dataclass(frozen=True)
class Score:
    """A corpus score returned by the functional metric front ends.

    Attributes:
        name: The metric value's flat name (``bleu``, ``rougeL``...).
        value: The corpus value.
        signature: Everything that changes the number, as ``key:value|...``.
        n: Samples scored.
        details: Other named values computed with it (for example ROUGE precision and recall).
    """

    name: str
    value: float
    signature: str
    n: int
    details: Mapping[str, float] = field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.value)


@dataclass(frozen=True)
class MetricResult:
    """One tidy row of ``results.json``."""

    task: str
    metric: str
    value: float
    ci_low: float | None
    ci_high: float | None
    n: int
    n_errors: int
    higher_is_better: bool
    signature: str
    #: A value with an ideal point (a preference share: 50); closer is better. Only rows of
    #: such values carry the ``target`` key.
    target: float | None = None
    #: How the interval was made (``percentile``, ``bc-median``; ``stats.bootstrap_ci``), or
    #: None when the row has no interval.
    ci_method: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row as a plain dict, in the documented key order."""
        return {
            "task": self.task,
            "metric": self.metric,
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "ci_method": self.ci_method,
            "n": self.n,
            "n_errors": self.n_errors,
            "higher_is_better": self.higher_is_better,
            "signature": self.signature,
        } | ({} if self.target is None else {"target": self.target})


#: The classes :func:`evolve` copies field by field (plain frozen dataclasses, no checks).
_EVOLVABLE: frozenset[type] = frozenset({Sample, GenerateRequest, Generation})
