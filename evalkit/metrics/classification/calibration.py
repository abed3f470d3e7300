"""Calibration: the ``calibration`` metric (:class:`Calibration`), ECE and Brier score.

A sample's statistic is ``[confidence, correct]``: the model's probability for its answer and
whether the answer is right (1.0) or wrong (0.0). The corpus values bin those pairs; the bins
are recomputed from whatever statistics are aggregated, so bootstrap resamples and paired
tests re-bin the resampled samples.

**Two targets.** ``target: top_label`` (default) reads the confidence as the probability of
the predicted label and ``correct`` as ``prediction == reference`` (torchmetrics'
``multiclass_calibration_error``, HELM's ``max_probs``/``correct``). ``target: positive``
reads it as the probability of ``positive_label`` and ``correct`` as ``reference ==
positive_label`` (torchmetrics' ``binary_calibration_error``; the Brier score is then
scikit-learn's ``brier_score_loss``).

**Binning.** ``equal_width``: ``n_bins`` bins with edges ``k / n_bins`` (each the double
nearest the fraction). ``equal_mass``: HELM's definition (``get_ece_em`` of Kumar et al.'s
``uncertainty-calibration`` package, which HELM calls): sort the confidences, cut them into
``min(n_bins, n)`` consecutive parts as ``numpy.array_split`` does (the first ``n mod k`` parts
one longer), put an edge half-way between the last value of a part and the first of the next,
and a last edge at 1.0; repeated edges (ties) merge bins.

**Edges.** ``edge`` says where a confidence exactly on an edge goes: ``upper`` (the bin above:
bins are ``[lo, hi)``, the last one ``[lo, 1]``), ``lower`` (the bin below: ``(lo, hi]``, the
first one ``[0, hi]``), or ``torchmetrics`` (as ``upper``, but a confidence of exactly 1.0 gets
a bin of its own, the effect of torchmetrics 1.x's ``bucketize(right=True)`` over
``n_bins + 1`` boundaries). The default is ``upper`` for ``equal_width`` (torchmetrics' rule
for inner edges) and ``lower`` for ``equal_mass`` (HELM's ``searchsorted`` rule); the
resolved rule is in the signature. torchmetrics builds its edges with ``torch.linspace``,
whose values can differ from ``k / n_bins`` by one unit in the last place (0.3 is
0.30000000000000004 there), so a confidence written as such a decimal lands one bin lower in
torchmetrics; edges that are exact binary fractions (``n_bins`` a power of two) agree.

**Norms.** With ``acc_b``, ``conf_b`` the mean correctness and confidence of bin ``b`` and
``w_b`` its share of samples: ``l1`` is ``sum_b w_b |acc_b - conf_b|`` (ECE, Guo et al.),
``l2`` is ``sqrt(sum_b w_b (acc_b - conf_b)^2)`` (RMS calibration error), ``max`` is
``max_b |acc_b - conf_b|`` over non-empty bins (MCE). Brier is ``mean (confidence -
correct)^2``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
from pydantic import Field, model_validator

from evalkit.errors import InputError
from evalkit.metrics.base import Metric
from evalkit.metrics.classification.labels import Normalize, label_pairs, to_label
from evalkit.metrics.params import MetricParams
from evalkit.types import Sample, Stats

__all__ = ["Bin", "Calibration", "calibration_error", "reliability_bins"]

Binning = Literal["equal_width", "equal_mass"]
Edge = Literal["upper", "lower", "torchmetrics"]
Norm = Literal["l1", "l2", "max"]


class Bin(NamedTuple):
    """One bin of a reliability diagram."""

    low: float
    high: float
    n: int
    mean_confidence: float
    accuracy: float


def _edges(conf: np.ndarray, binning: Binning, n_bins: int) -> np.ndarray:
    """All bin edges, from 0.0 to 1.0."""
    if binning == "equal_width":
        return np.arange(n_bins + 1, dtype=np.float64) / n_bins
    ordered = np.sort(conf)
    parts = [p for p in np.array_split(ordered, min(n_bins, len(ordered))) if len(p)]
    uppers = [(a[-1] + b[0]) / 2.0 for a, b in itertools.pairwise(parts)]
    return np.array([0.0, *sorted(set(uppers) | {1.0})], dtype=np.float64)


def _bin_index(conf: np.ndarray, edges: np.ndarray, edge: Edge) -> np.ndarray:
    """The bin of each confidence; ``len(edges) - 1`` is torchmetrics' extra bin for 1.0."""
    last = len(edges) - 2
    if edge == "lower":
        return np.minimum(np.searchsorted(edges[1:], conf, side="left"), last)
    index = np.searchsorted(edges, conf, side="right") - 1
    if edge == "upper":
        return np.minimum(index, last)
    return index  # torchmetrics: a confidence of 1.0 sits past the last edge, in a bin of its own


def reliability_bins(
    confidences: Sequence[float] | np.ndarray,
    correct: Sequence[float] | np.ndarray,
    binning: Binning = "equal_width",
    n_bins: int = 15,
    edge: Edge = "upper",
) -> list[Bin]:
    """The bins of a reliability diagram (empty equal-width bins included, with zero count).

    >>> bins = reliability_bins([0.1, 0.3, 0.9], [0, 1, 1], n_bins=2)
    >>> [tuple(round(x, 3) for x in b) for b in bins]
    [(0.0, 0.5, 2, 0.2, 0.5), (0.5, 1.0, 1, 0.9, 1.0)]
    """
    conf = np.asarray(confidences, dtype=np.float64)
    acc = np.asarray(correct, dtype=np.float64)
    if len(conf) == 0:
        return []
    edges = _edges(conf, binning, n_bins)
    index = _bin_index(conf, edges, edge)
    size = len(edges)  # one more than the bins, for torchmetrics' 1.0 bin
    count = np.bincount(index, minlength=size)
    conf_sum = np.bincount(index, weights=conf, minlength=size)
    acc_sum = np.bincount(index, weights=acc, minlength=size)
    bins = []
    for b in range(size):
        if b == size - 1 and count[b] == 0:
            break
        low, high = (float(edges[b]), float(edges[b + 1])) if b < size - 1 else (1.0, 1.0)
        n = int(count[b])
        bins.append(
            Bin(
                low,
                high,
                n,
                float(conf_sum[b] / n) if n else math.nan,
                float(acc_sum[b] / n) if n else math.nan,
            )
        )
    return bins


def calibration_error(bins: Sequence[Bin], norm: Norm = "l1") -> float:
    """ECE (``l1``), RMS calibration error (``l2``) or MCE (``max``) of reliability bins.

    >>> round(calibration_error(reliability_bins([0.1, 0.3, 0.9], [0, 1, 1], n_bins=2)), 6)
    0.233333
    """
    full = [b for b in bins if b.n]
    total = sum(b.n for b in full)
    if not total:
        return math.nan
    gaps = [abs(b.accuracy - b.mean_confidence) for b in full]
    if norm == "max":
        return max(gaps)
    if norm == "l1":
        return float(sum(b.n / total * g for b, g in zip(full, gaps, strict=True)))
    return math.sqrt(sum(b.n / total * g * g for b, g in zip(full, gaps, strict=True)))


def _number(value: Any) -> float | None:
    """A confidence as a float, or None when it is not a number (CSV cells are text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


class BinParams(MetricParams):
    """How confidences are binned: the parameters of every ECE metric."""

    binning: Binning = Field("equal_width", description="equal_width or equal_mass bins")
    n_bins: int = Field(15, ge=1, le=10_000, description="number of bins")
    norm: Norm = Field("l1", description="l1 (ECE), l2 (RMS) or max (MCE)")
    edge: Edge | None = Field(
        None,
        description="bin of a confidence on an edge: upper, lower or torchmetrics "
        "(default: upper for equal_width, lower for equal_mass)",
    )


class Calibration(Metric):
    """Expected calibration error and Brier score of the model's confidences.

    ``ece`` bins ``[confidence, correct]`` pairs (``binning``, ``n_bins``, ``edge``) and takes
    the ``norm`` of the gap between each bin's accuracy and mean confidence, weighted by the
    bin's share of samples; ``brier`` is ``mean (confidence - correct)^2``. Both are lower is
    better and in ``[0, 1]``. See the module docstring for the binning, edge and target rules
    and how they match torchmetrics and HELM. The confidence is read from the model's outputs
    (``confidence_from: outputs``: a ``python:`` model returning ``{"text": ...,
    "confidence": ...}``, or a predictions file's ``outputs`` object) or from a dataset field
    (``confidence_from: dataset``).

    Args:
        confidence_from: ``"outputs"`` (default) or ``"dataset"``.
        confidence_field: The outputs key or dataset field holding the confidence.
        target: ``"top_label"`` (default) or ``"positive"`` (needs ``positive_label``).
        positive_label: The positive class when ``target`` is ``"positive"``.
        normalize: Label normalisation (see :func:`~.labels.to_label`).
        binning: ``"equal_width"`` (default) or ``"equal_mass"``.
        n_bins: The number of bins (default 15, torchmetrics' default).
        norm: ``"l1"`` (default), ``"l2"`` or ``"max"``.
        edge: Where a confidence on an edge goes: ``"upper"``, ``"lower"`` or
            ``"torchmetrics"``; default ``upper`` for equal-width, ``lower`` for equal-mass.

    Raises:
        ConfigError: Bad parameters, or ``target: positive`` without ``positive_label``.
        InputError: A missing confidence, one that is not a number, NaN or outside ``[0, 1]``,
            or a sample without exactly one reference label; the message names the sample
            and the field.

    References:
        Guo et al. (2017), "On Calibration of Modern Neural Networks", ICML; Kumar, Liang &
        Ma (2019), "Verified Uncertainty Calibration", NeurIPS (equal-mass bins, as used by
        HELM: Liang et al. 2022, "Holistic Evaluation of Language Models"); Brier (1950),
        "Verification of forecasts expressed in terms of probability".

    Example:
        >>> from evalkit.metrics import calibration
        >>> s = calibration(["cat", "dog", "cat"], [["cat"], ["cat"], ["cat"]],
        ...                 confidences=[0.9, 0.6, 0.3], n_bins=2)
        >>> round(s.value, 4), round(s.details["brier"], 4)  # |1 - .3| / 3 + 2 |.5 - .75| / 3
        (0.4, 0.2867)
    """

    name: ClassVar[str] = "calibration"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"prediction", "references", "confidence"})

    class Params(BinParams):
        """Calibration's parameters (the bins' first)."""

        confidence_from: Literal["outputs", "dataset"] = Field(
            "outputs", description="where the confidence is: model outputs or a dataset field"
        )
        confidence_field: str = Field(
            "confidence", min_length=1, description="outputs key or dataset field of it"
        )
        target: Literal["top_label", "positive"] = Field(
            "top_label",
            description="top_label: confidence of the predicted label; positive: probability "
            "of positive_label",
        )
        positive_label: str | None = Field(
            None, description="the positive class (target: positive)"
        )
        normalize: Normalize = Field("strip", description="label normalisation: strip, lower, none")

        @model_validator(mode="after")
        def _positive_needs_label(self) -> Calibration.Params:
            if self.target == "positive" and not self.positive_label:
                raise ValueError("target 'positive' needs positive_label; name the positive class")
            if self.target == "top_label" and self.positive_label is not None:
                raise ValueError("positive_label is only used with target 'positive'; drop it")
            return self

    p: Params

    def setup(self) -> None:
        self._resolve_edge()
        self._positive = (
            to_label(self.p.positive_label, self.p.normalize) if self.p.positive_label else None
        )

    def _resolve_edge(self) -> None:
        """The edge rule, defaulting by binning (``upper`` equal-width, ``lower`` equal-mass),
        recorded in the signature."""
        edge = self.p.edge or ("upper" if self.p.binning == "equal_width" else "lower")
        self._edge: Edge = edge
        self.params["edge"] = edge

    @property
    def edge(self) -> Edge:
        """The resolved edge rule."""
        return self._edge

    def value_names(self) -> tuple[str, ...]:
        return ("ece", "brier")

    def _confidence(self, s: Sample) -> float:
        source = s.outputs if self.p.confidence_from == "outputs" else s.inputs
        where = "model output" if self.p.confidence_from == "outputs" else "dataset field"
        key = self.p.confidence_field
        if key not in source:
            fix = (
                "return {'text': ..., 'confidence': ...} from the model or add an 'outputs' "
                "object to the predictions file"
                if self.p.confidence_from == "outputs"
                else "add the field to every row or set confidence_field"
            )
            raise InputError(f"{self.name}: sample '{s.id}': {where} '{key}' is missing; {fix}.")
        value = _number(source[key])
        if value is None or not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise InputError(
                f"{self.name}: sample '{s.id}': {where} '{key}' must be a probability in "
                f"[0, 1], got {source[key]!r}."
            )
        return value

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """``[confidence, correct]`` per sample."""
        pairs = label_pairs(self.name, batch, self.p.normalize)
        out: list[Stats] = []
        for s, (truth, pred) in zip(batch, pairs, strict=True):
            correct = truth == self._positive if self._positive is not None else truth == pred
            out.append([self._confidence(s), float(correct)])
        return out

    def bins(self, stats: Sequence[Stats]) -> list[Bin]:
        """The reliability bins of these statistics under this metric's binning."""
        arr = np.asarray(stats, dtype=np.float64).reshape(-1, 2)
        return self._bins(arr)

    def _bins(self, arr: np.ndarray) -> list[Bin]:
        return reliability_bins(arr[:, 0], arr[:, 1], self.p.binning, self.p.n_bins, self._edge)

    def resample_block(
        self, stats: Sequence[Stats]
    ) -> Callable[[np.ndarray], dict[str, np.ndarray]] | None:
        """Values of bootstrap resamples from their counts (:class:`evalkit.stats._Resampler`).

        Equal-width bins only (see
        :func:`evalkit.metrics.classification._resample.calibration_block`); equal-mass
        edges move with each resample, which is then aggregated as drawn (None here).
        """
        from evalkit.metrics.classification._resample import calibration_block

        if not stats or self.p.binning != "equal_width":
            return None
        arr = np.asarray(stats, dtype=np.float64).reshape(-1, 2)
        edges = _edges(arr[:, 0], self.p.binning, self.p.n_bins)
        index = _bin_index(arr[:, 0], edges, self._edge)
        return calibration_block(arr, edges, index, self.p.norm)

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        if not stats:
            return {"ece": math.nan, "brier": math.nan}
        arr = np.asarray(stats, dtype=np.float64).reshape(-1, 2)
        brier = float(np.mean((arr[:, 0] - arr[:, 1]) ** 2))
        return {"ece": calibration_error(self._bins(arr), self.p.norm), "brier": brier}
