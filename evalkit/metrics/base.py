"""The metric contract: per-sample sufficient statistics, an aggregate, and a signature.

A metric turns each sample into a small statistic (BLEU: n-gram match counts and lengths;
ROUGE: per-sample precision, recall and F) and computes corpus values from a list of those.
Resuming, sharding, bootstrap intervals and paired tests then concatenate or resample the
statistics; none re-tokenises or calls a model again.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any, ClassVar

import numpy as np

from evalkit._version import __version__
from evalkit.errors import ConfigError, did_you_mean
from evalkit.metrics.params import MetricParams, ParamInfo
from evalkit.types import GenerateRequest, Sample, Score, Stats


def package_version(name: str) -> str:
    """The installed version of ``name``, or ``"missing"``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


class Metric(ABC):
    """Base class of every metric.

    Subclasses declare their parameters once, as a nested ``Params`` model
    (:class:`~evalkit.metrics.params.MetricParams`: types, defaults, constraints,
    descriptions); ``__init__`` validates the user's values into ``self.p``, ``params`` (the
    signature's fields) and ``evalkit metrics`` come from it, and :meth:`setup` builds what
    the parameters imply. A metric of another package may still take its parameters as
    ``__init__`` keywords (``Params = None``) and pass them to ``super().__init__``.

    ``requires`` names what a sample must carry to be scored (the default suits text metrics
    that compare a prediction with references; declare it when yours differs). Tokens that a
    suite's own settings provide are checked when the suite loads (``evalkit validate`` and
    ``evalkit run``, before any model call; see ``evalkit.suite.SUITE_REQUIREMENTS``):

    - ``references``: the task's ``dataset.references`` field;
    - ``qrels``: the task's ``dataset.qrels`` field (relevance judgments);
    - ``variants``: the task's ``prompt_variants`` (a counterfactual version of each prompt).

    Tokens that the model provides are left to run time, when the model is known (it is given
    on the command line or by a task's ``model:``): they are results of the metric's
    ``request_kind``, which the runner checks against the adapter's capabilities before any
    call: ``prediction`` (``generate``), ``ranking`` (``retrieve``), ``image``
    (``generate_images``), ``embed``, ``loglikelihood``, ``loglikelihood_rolling``. Tokens
    that name dataset fields chosen by a parameter (``group``: ``group_field``; ``choices``:
    ``choices_field`` and ``gold_field``, checked when the requests are built) are checked
    when samples are scored. Any other token, such as a third-party metric's own, is never
    refused at load time; the metric checks it when it scores.
    """

    name: ClassVar[str]
    higher_is_better: ClassVar[bool] = True
    requires: ClassVar[frozenset[str]] = frozenset({"prediction", "references"})
    #: The kind of model request whose result this metric scores (see types.REQUEST_KINDS).
    request_kind: ClassVar[str] = "generate"
    #: Packages whose versions change the numbers; recorded in results.json.
    reference_packages: ClassVar[tuple[str, ...]] = ()
    #: Whether a sample's own value is a per-sample score, so that comparisons can count
    #: per-sample wins, ties and losses. False for set-level metrics (FID, KID, IS, distinct-n,
    #: n-gram entropy, self-BLEU, embedding diversity): a single image has no FID.
    per_sample_outcomes: ClassVar[bool] = True
    #: How ``stats.bootstrap_ci`` turns resampled values into an interval: ``percentile`` for
    #: means and ratios of sums, ``bc-median`` (bias-corrected) for set-level statistics that
    #: resampling with replacement biases. Any method but ``percentile`` is in the signature.
    interval_method: ClassVar[str] = "percentile"

    #: The metric's parameters, declared once (:mod:`evalkit.metrics.params`): names, types,
    #: defaults, constraints and descriptions. ``__init__`` validates the user's values through
    #: it into ``self.p``; ``params`` (the signature's fields) is ``self.p`` as a dict unless
    #: :meth:`setup` adds resolved values. ``None`` only for metrics that still declare their
    #: parameters as ``__init__`` keywords.
    Params: ClassVar[type[MetricParams] | None] = None

    def __init__(self, **params: Any) -> None:
        if self.Params is not None:
            self.p: Any = self.Params.validated(self.name, params)
            params = self.p.model_dump()
        self.params: dict[str, Any] = dict(params)
        if self.Params is not None:
            self.setup()

    def setup(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Build what the validated parameters ``self.p`` imply (a library object, a model).

        Runs once at the end of ``__init__``. Cross-parameter checks belong in ``Params``
        (a ``model_validator``); checks that need the file system or an installed package
        (a model folder, an optional dependency) belong here. A resolved value that changes the
        number (a model's canonical name, its layer count) goes into ``self.params``.
        """

    @classmethod
    def build(cls, params: Mapping[str, Any] | None = None) -> Metric:
        """Construct from user parameters, turning unknown names into a ConfigError."""
        params = dict(params or {})
        if cls.Params is None:
            accepted = cls.parameters()
            for key in params:
                if key not in accepted:
                    raise ConfigError(
                        f"{cls.name}: unknown parameter '{key}'."
                        f"{did_you_mean(key, list(accepted))} "
                        f"Parameters: {', '.join(accepted) or '(none)'}."
                    )
        return cls(**params)

    @classmethod
    def rebuild(cls, params: Mapping[str, Any]) -> Metric:
        """The metric a run recorded, from its recorded ``params`` (``results.json``'s
        ``metric_params``), to aggregate recorded statistics (comparisons, gates).

        For most metrics that is :meth:`build`; a metric whose :meth:`setup` replaces
        parameters by what they resolve to (a judge's template by its hash) overrides it.
        """
        return cls.build(params)

    @classmethod
    def parameters(cls) -> dict[str, ParamInfo]:
        """The declared parameters with their types, defaults and descriptions."""
        if cls.Params is not None:
            return {info.name: info for info in cls.Params.infos()}
        sig = inspect.signature(cls.__init__)
        return {
            n: ParamInfo(
                n,
                str(p.annotation) if p.annotation is not p.empty else "any",
                None if p.default is p.empty else p.default,
                "",
            )
            for n, p in sig.parameters.items()
            if n != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        }

    def request_options(self) -> dict[str, Any]:
        """Options the model request needs from this metric (e.g. a perplexity window)."""
        return {}

    #: Whether :meth:`request_continuations` gives each sample's continuations (multiple
    #: choice: one ``loglikelihood`` call per choice), so the task needs no ``continuation:``.
    builds_continuations: ClassVar[bool] = False

    def request_continuations(self, sample: Sample) -> tuple[str, ...]:
        """The continuations of ``sample``'s prompt to score, one request each (default: none).

        Called by the runner for every sample before any model call, so a bad dataset field
        fails there (InputError naming ``sample.where`` and the field).
        """
        return ()

    def check_samples(self, samples: Sequence[Sample]) -> None:  # noqa: B027 - optional
        """Raise InputError for a sample this metric cannot score, before any model call.

        Called by the runner with every sample of the task once the dataset is loaded, so that
        a bad input (a judged opponent without the sample's output, a missing label) fails
        before anything is spent; the message names the sample's file and line.
        """

    def judge_model(self) -> tuple[str, dict[str, Any]] | None:
        """The judge model this metric asks about each sample: ``(adapter spec, options)``.

        None (the default) for metrics that score without a judge. A metric that returns one
        gets, in :meth:`sample_stats` and :meth:`sample_warnings`, samples whose
        ``outputs[JUDGMENTS]`` hold the judge's answers to :meth:`judge_requests`: the executor
        calls the judge adapter (through the response cache; retries are the adapter's) once
        the task's model has answered, and the record keeps the answers per sample.
        """
        return None

    def judge_requests(self, sample: Sample) -> list[GenerateRequest]:
        """Every judge request for ``sample`` (its model call succeeded), in a fixed order.

        ``sample.outputs[JUDGMENTS]`` later holds one ``{"text", "error", "cached"}`` mapping
        per request, in this order (``error`` set: the judge call failed after the adapter's
        retries). Repeat ``k`` of a prompt carries ``sample_index=k`` (part of the cache key).
        """
        return []

    def judge_rounds(self) -> int:
        """How many rounds of judge requests a sample takes (default 1).

        With more than one, :meth:`judge_requests` is called once per round with the sample's
        ``outputs[JUDGMENTS]`` holding the answers of the rounds before (none in the first),
        and returns that round's requests only; :meth:`sample_stats` then sees the answers of
        every round, in order. A round with no request for any sample ends the judging.
        """
        return 1

    def bind_judge(self, identity: Mapping[str, Any]) -> None:
        """Record the judge adapter's public identity (model, source hash) in the signature.

        Called once by the suite loader with the judge adapter's settings that change its
        verdicts (never secrets), so that results of a changed judge are never compared.
        """
        shown = dict(identity)
        # Where a judge's code lives is left out when its source hash identifies it, so runs
        # made in different checkouts compare.
        if "source_sha256" in shown and isinstance(shown.get("target"), str):
            shown["target"] = portable_spec(shown["target"])
        self.params["judge"] = ",".join(f"{k}={shown[k]}" for k in sorted(shown))

    @abstractmethod
    def value_names(self) -> tuple[str, ...]:
        """The names of the values ``aggregate`` returns; the first one is the headline."""

    def primary_values(self) -> tuple[str, ...]:
        """The values that comparisons and significance tests cover (others are diagnostics)."""
        return self.value_names()

    def per_sample_values(self, stats: Sequence[Stats]) -> dict[str, list[float]]:
        """Each sample's own value, from its statistic alone (sentence-level scores).

        Used to rank examples in per-example diffs; corpus values still come from
        ``aggregate`` over all statistics.
        """
        out: dict[str, list[float]] = {k: [] for k in self.value_names()}
        for s in stats:
            for k, v in self.aggregate([s]).items():
                out[k].append(v)
        return out

    def value_higher_is_better(self, value_name: str) -> bool:
        """Direction of one value (defaults to the class direction)."""
        return self.higher_is_better

    def interval_values(self) -> tuple[str, ...]:
        """The values that get bootstrap intervals (default: all of them).

        A value whose resampling distribution says nothing about its uncertainty is left out
        (its interval is NaN): a p-value, or a corpus-level count such as distinct-n, where a
        resample that draws a prompt twice counts its outputs twice and biases the value down.
        """
        return self.value_names()

    def value_target(self, value_name: str) -> float | None:
        """The ideal point of a value where closer is better (a preference share: 50).

        Such a value is a diagnostic (leave it out of ``primary_values``); the metric reports
        its distance from the target as a lower-is-better value for comparisons and gates.
        """
        return None

    @abstractmethod
    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """One JSON-serialisable statistic per sample, in order."""

    @abstractmethod
    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        """Corpus values, keyed by ``value_names()``, from a list of per-sample statistics."""

    def sample_warnings(self, batch: Sequence[Sample]) -> list[str | None]:
        """A warning per sample that this metric cannot score faithfully, else ``None``.

        For example text that the tokenizer empties. The runner keeps them in the sample's
        record line and counts them per task in ``results.json``; reports show the counts.
        """
        return [None] * len(batch)

    def signature_fields(self) -> dict[str, Any]:
        """What goes into the signature; override to add library-specific fields."""
        fields: dict[str, Any] = dict(sorted(self.params.items()))
        for pkg in self.reference_packages:
            fields[pkg] = package_version(pkg)
        fields["evalkit"] = __version__
        return fields

    def signature(self) -> str:
        """``name|key:value|...``: everything that changes the number, from parameters only.

        A metric whose intervals are not plain percentile ones ends with ``|ci:METHOD``, so
        that results with intervals of different methods are not compared.
        """
        parts = [self.name]
        for key, value in self.signature_fields().items():
            if isinstance(value, bool):
                value = "yes" if value else "no"
            parts.append(f"{key}:{value}")
        resampled = getattr(self, "resample", True) and self.interval_values()
        if resampled and self.interval_method != "percentile":
            parts.append(f"ci:{self.interval_method}")
        return "|".join(parts)

    def score(self, samples: Sequence[Sample]) -> Score:
        """Score samples in one call (what the functional twins use)."""
        stats = self.sample_stats(samples)
        values = self.aggregate(stats)
        head = self.value_names()[0]
        return Score(
            name=head, value=values[head], signature=self.signature(), n=len(stats), details=values
        )


class VectorMetric(Metric):
    """A metric whose per-sample statistic is a fixed-length vector of numbers that add up.

    The corpus value is a function of the summed vectors and the sample count, so bootstrap and
    paired tests can resample with one matrix product instead of a Python loop over samples.
    """

    @abstractmethod
    def from_totals(self, totals: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
        """Values for a batch of summed statistics.

        Args:
            totals: shape ``(B, d)``, each row the sum of ``n[b]`` per-sample vectors.
            n: shape ``(B,)``, the number of samples summed into each row.

        Returns:
            For each value name, an array of shape ``(B,)``.
        """

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        if len(stats) == 0:
            return {k: float("nan") for k in self.value_names()}
        arr = np.asarray(stats, dtype=np.float64)
        out = self.from_totals(arr.sum(axis=0)[None, :], np.array([len(stats)]))
        return {k: float(v[0]) for k, v in out.items()}

    def per_sample_values(self, stats: Sequence[Stats]) -> dict[str, list[float]]:
        if len(stats) == 0:
            return {k: [] for k in self.value_names()}
        arr = np.asarray(stats, dtype=np.float64)
        out = self.from_totals(arr, np.ones(len(arr)))
        return {k: [float(x) for x in v] for k, v in out.items()}


class MeanMetric(VectorMetric):
    """A metric whose corpus value is the mean of per-sample values (one or more)."""

    def from_totals(self, totals: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
        means = totals / np.maximum(n, 1)[:, None]
        return {k: means[:, i] for i, k in enumerate(self.value_names())}


def portable_spec(spec: str) -> str:
    """An adapter spec or target without the folders of its file: ``python:/a/b/rules.py:grade``
    -> ``python:rules.py:grade`` (the file's content is identified by its hash elsewhere).

    Example:
        >>> portable_spec("python:/a/b/rules.py:grade"), portable_spec("/a/b.py:fn")
        ('python:rules.py:grade', 'b.py:fn')
        >>> portable_spec("openai:meta-llama/Llama-3.1-8B")
        'openai:meta-llama/Llama-3.1-8B'
    """
    parts = spec.split(":")  # only absolute paths: a model id such as org/name stays whole
    return ":".join(part.rsplit("/", 1)[-1] if part.startswith("/") else part for part in parts)
