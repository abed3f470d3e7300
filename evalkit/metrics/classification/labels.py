"""Label metrics, ``accuracy`` (:class:`Accuracy`) and ``f1`` (:class:`F1`); the confusion matrix.

A sample's statistic is ``[reference_label, predicted_label]``: the sample's one reference and
its prediction, both after the metric's ``normalize`` rule. Every corpus value is recomputed
from those pairs (per-class true-positive, false-positive and false-negative counts summed over
the samples), exactly as scikit-learn's ``accuracy_score``, ``precision_recall_fscore_support``
and ``confusion_matrix`` compute them from the two label lists.

**Label set.** ``labels:`` (a parameter of ``f1``) fixes the classes that are reported and
averaged, in the given order, as scikit-learn's ``labels=`` does: a prediction outside the set
still counts as a miss (a false negative) of its reference's class. Without it the label set is
the sorted union of the reference and predicted labels of the samples aggregated, as in
scikit-learn; a bootstrap resample that lacks a class therefore averages over fewer classes.

**Zero division.** A precision, recall or F1 whose denominator is zero (a class never predicted,
or absent from both lists) is ``zero_division`` (``0.0`` by default, scikit-learn's value
under its default ``"warn"``; ``1.0`` is the other choice), never a silent NaN.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
from pydantic import Field, field_validator

from evalkit.errors import InputError
from evalkit.metrics.base import Metric
from evalkit.metrics.params import MetricParams
from evalkit.types import Sample, Stats

__all__ = [
    "F1",
    "Accuracy",
    "ClassCounts",
    "class_counts",
    "confusion_matrix",
    "label_pairs",
    "precision_recall_f1",
    "to_label",
]

Normalize = Literal["strip", "lower", "none"]
Average = Literal["micro", "macro", "weighted"]


def to_label(text: str, normalize: Normalize) -> str:
    """A text as a label: ``strip`` removes surrounding whitespace, ``lower`` also case-folds.

    >>> to_label("  Positive\\n", "strip"), to_label(" Positive", "lower"), to_label(" a", "none")
    ('Positive', 'positive', ' a')
    """
    if normalize == "none":
        return text
    text = text.strip()
    return text.casefold() if normalize == "lower" else text


def label_pairs(metric: str, batch: Sequence[Sample], normalize: Normalize) -> list[Stats]:
    """``[reference_label, predicted_label]`` per sample.

    Raises:
        InputError: A sample without a prediction, without exactly one reference label, or
            whose label is empty after normalisation; the message names the sample and field.
    """
    out: list[Stats] = []
    for s in batch:
        if not isinstance(s.prediction, str):
            raise InputError(f"{metric}: sample '{s.id}': field 'prediction' is missing.")
        if len(s.references) != 1:
            raise InputError(
                f"{metric}: sample '{s.id}': field 'references' must hold exactly one label, "
                f"got {len(s.references)}; map the task's dataset.references to the label field."
            )
        truth = to_label(s.references[0], normalize)
        if not truth:
            raise InputError(
                f"{metric}: sample '{s.id}': the reference label is empty; give every sample "
                "a label."
            )
        out.append([truth, to_label(s.prediction, normalize)])
    return out


class ClassCounts(NamedTuple):
    """Per-class counts over a list of label pairs, one entry per label in ``labels``."""

    labels: tuple[str, ...]
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray

    @property
    def support(self) -> np.ndarray:
        """The number of samples whose reference is each label (``tp + fn``)."""
        support: np.ndarray = self.tp + self.fn
        return support


def _label_set(pairs: Iterable[Stats], labels: Sequence[str] | None) -> tuple[str, ...]:
    """``labels``, or the sorted labels of ``pairs`` (distinct pairs are enough)."""
    if labels is not None:
        return tuple(labels)
    return tuple(sorted({str(x) for pair in pairs for x in pair}))


def class_counts(pairs: Sequence[Stats], labels: Sequence[str] | None = None) -> ClassCounts:
    """True positives, false positives and false negatives per class.

    >>> c = class_counts([["a", "a"], ["a", "b"], ["b", "b"], ["c", "b"]])
    >>> c.labels, c.tp.tolist(), c.fp.tolist(), c.fn.tolist()
    (('a', 'b', 'c'), [1, 1, 0], [0, 2, 0], [1, 0, 1])
    """
    # Count distinct (reference, prediction) pairs first: a C-level pass over the samples, then
    # a loop over at most (number of labels)^2 pairs; bootstrap resamples call this often.
    seen = Counter(map(tuple, pairs))
    names = _label_set(seen, labels)
    index = {label: i for i, label in enumerate(names)}
    tp = np.zeros(len(names), dtype=np.int64)
    fp = np.zeros(len(names), dtype=np.int64)
    fn = np.zeros(len(names), dtype=np.int64)
    for (truth, pred), n in seen.items():
        t, p = index.get(truth), index.get(pred)
        if truth == pred:
            if t is not None:
                tp[t] += n
            continue
        if t is not None:
            fn[t] += n
        if p is not None:
            fp[p] += n
    return ClassCounts(names, tp, fp, fn)


def confusion_matrix(
    pairs: Sequence[Stats], labels: Sequence[str] | None = None
) -> tuple[tuple[str, ...], list[list[int]]]:
    """The labels, and the matrix whose cell ``[i][j]`` counts reference ``i`` predicted as ``j``.

    Pairs with a label outside ``labels`` are left out, as in scikit-learn's
    ``confusion_matrix(y_true, y_pred, labels=...)``.

    >>> confusion_matrix([["a", "a"], ["a", "b"], ["b", "b"]])
    (('a', 'b'), [[1, 1], [0, 1]])
    """
    seen = Counter(map(tuple, pairs))
    names = _label_set(seen, labels)
    index = {label: i for i, label in enumerate(names)}
    matrix = [[0] * len(names) for _ in names]
    for (truth, pred), n in seen.items():
        t, p = index.get(truth), index.get(pred)
        if t is not None and p is not None:
            matrix[t][p] += n
    return names, matrix


def _divide(num: np.ndarray, den: np.ndarray, zero_division: float) -> np.ndarray:
    out = np.full(num.shape, float(zero_division))
    nonzero = den != 0
    out[nonzero] = num[nonzero] / den[nonzero]
    return out


def precision_recall_f1(
    counts: ClassCounts, average: Average | None, zero_division: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1: per class (``average=None``, arrays) or averaged (0-d arrays).

    ``micro`` divides the summed counts, ``macro`` is the unweighted mean of the per-class
    values and ``weighted`` their mean weighted by support; F1 is ``2 tp / (2 tp + fp + fn)``
    (scikit-learn's formula, which equals the harmonic mean of precision and recall whenever
    both denominators are non-zero).

    >>> c = class_counts([["a", "a"], ["a", "b"], ["b", "b"], ["c", "b"]])
    >>> [round(float(v), 4) for v in precision_recall_f1(c, "macro")]
    [0.4444, 0.5, 0.3889]
    """
    tp, fp, fn = (x.astype(np.float64) for x in (counts.tp, counts.fp, counts.fn))
    if average == "micro":
        tp, fp, fn = (np.array([x.sum()]) for x in (tp, fp, fn))
    precision = _divide(tp, tp + fp, zero_division)
    recall = _divide(tp, tp + fn, zero_division)
    f1 = _divide(2 * tp, 2 * tp + fp + fn, zero_division)
    if average is None:
        return precision, recall, f1
    if average == "micro":
        return precision[0], recall[0], f1[0]
    if len(tp) == 0:
        empty = np.asarray(float(zero_division))
        return empty, empty, empty
    if average == "macro":
        return np.asarray(precision.mean()), np.asarray(recall.mean()), np.asarray(f1.mean())
    weights = tp + fn
    if weights.sum() == 0:  # scikit-learn: no sample of any listed class
        zero = np.asarray(float(zero_division))
        return zero, zero, zero
    return (
        np.asarray(np.average(precision, weights=weights)),
        np.asarray(np.average(recall, weights=weights)),
        np.asarray(np.average(f1, weights=weights)),
    )


class _LabelMetric(Metric):
    """Shared parts of the label metrics: statistics are label pairs."""

    reference_packages: ClassVar[tuple[str, ...]] = ()

    class Params(MetricParams):
        """How texts become labels."""

        normalize: Normalize = Field(
            "strip",
            description="label normalisation of prediction and reference: strip (surrounding "
            "whitespace), lower (strip and case-fold) or none",
        )

    p: Params

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """``[reference_label, predicted_label]`` per sample."""
        return label_pairs(self.name, batch, self.p.normalize)


class Accuracy(_LabelMetric):
    """The share of samples whose predicted label equals the reference label.

    ``accuracy = #{i : pred_i == ref_i} / n`` after ``normalize`` (scikit-learn's
    ``accuracy_score``). The statistic keeps both labels, so the run report can show the
    confusion matrix.

    Args:
        normalize: ``"strip"`` (default), ``"lower"`` or ``"none"`` (see :func:`to_label`).

    Raises:
        InputError: A sample without exactly one reference label, or with an empty one.

    References:
        Pedregosa et al. (2011), "Scikit-learn: Machine Learning in Python", JMLR
        (``sklearn.metrics.accuracy_score``).

    Example:
        >>> from evalkit.metrics import accuracy
        >>> accuracy(["cat", " dog", "cat"], [["cat"], ["dog"], ["bird"]]).value
        0.6666666666666666
    """

    name: ClassVar[str] = "accuracy"
    higher_is_better: ClassVar[bool] = True

    def value_names(self) -> tuple[str, ...]:
        return ("accuracy",)

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        if not stats:
            return {"accuracy": float("nan")}
        pairs = Counter(map(tuple, stats))
        return {"accuracy": sum(n for (t, p), n in pairs.items() if t == p) / len(stats)}

    def resample_means(self, stats: Sequence[Stats]) -> dict[str, np.ndarray]:
        """Accuracy is the mean of ``reference == prediction``: resampled by one product."""
        return {"accuracy": np.array([float(t == p) for t, p in stats])}


class F1(_LabelMetric):
    """Precision, recall and F1 over classes, averaged ``micro``, ``macro`` or ``weighted``.

    Per class ``c``: ``P_c = tp_c / (tp_c + fp_c)``, ``R_c = tp_c / (tp_c + fn_c)``,
    ``F1_c = 2 tp_c / (2 tp_c + fp_c + fn_c)``, each ``zero_division`` when its denominator is
    zero. ``micro`` applies the formulas to the counts summed over classes (for single-label
    data with every class listed, all three equal accuracy), ``macro`` averages the per-class
    values, ``weighted`` averages them weighted by each class's support. Values are named
    ``f1_<average>``, ``precision_<average>``, ``recall_<average>``; with ``labels:`` given,
    per-class values ``f1[<label>]``, ``precision[<label>]``, ``recall[<label>]`` follow as
    diagnostics (without it the classes are only known from the data; the run report shows
    every class). scikit-learn's ``precision_recall_fscore_support`` gives the same numbers.

    Args:
        normalize: ``"strip"`` (default), ``"lower"`` or ``"none"`` (see :func:`to_label`).
        average: ``"macro"`` (default), ``"micro"`` or ``"weighted"``.
        labels: The classes to report and average, or None for the union of seen labels.
        zero_division: The value of a ratio with a zero denominator, 0.0 (default) or 1.0.

    Raises:
        ConfigError: An unknown ``average``, an empty or repeated ``labels`` list, or a
            ``zero_division`` other than 0 or 1.
        InputError: A sample without exactly one reference label, or with an empty one.

    References:
        Pedregosa et al. (2011), "Scikit-learn: Machine Learning in Python", JMLR
        (``sklearn.metrics.precision_recall_fscore_support``); Sokolova & Lapalme (2009),
        "A systematic analysis of performance measures for classification tasks".

    Example:
        >>> from evalkit.metrics import f1
        >>> s = f1(["a", "b", "b", "b"], [["a"], ["a"], ["b"], ["c"]], average="macro")
        >>> round(s.value, 4), round(s.details["precision_macro"], 4)
        (0.3889, 0.4444)
    """

    name: ClassVar[str] = "f1"
    higher_is_better: ClassVar[bool] = True

    class Params(_LabelMetric.Params):
        """F1's parameters."""

        average: Average = Field("macro", description="micro, macro or weighted averaging")
        labels: list[str] | None = Field(
            None,
            description="classes to report and average, in order (default: the sorted union "
            "of reference and predicted labels)",
        )
        zero_division: float = Field(
            0.0, description="value of a precision/recall/F1 with a zero denominator: 0 or 1"
        )

        @field_validator("labels")
        @classmethod
        def _distinct(cls, value: list[str] | None) -> list[str] | None:
            if value is None:
                return value
            if not value:
                raise ValueError("must list at least one label, or be left out")
            if len(set(value)) != len(value):
                raise ValueError(f"lists a label twice: {value!r}")
            return value

        @field_validator("zero_division")
        @classmethod
        def _zero_or_one(cls, value: float) -> float:
            if value not in (0.0, 1.0):
                raise ValueError(f"must be 0 or 1, got {value!r}")
            return float(value)

    p: Params

    def setup(self) -> None:
        labels = self.p.labels
        self._labels: tuple[str, ...] | None = None
        if labels is not None:
            self._labels = tuple(to_label(x, self.p.normalize) for x in labels)
            if len(set(self._labels)) != len(self._labels) or not all(self._labels):
                from evalkit.errors import ConfigError

                raise ConfigError(
                    f"{self.name}: labels {labels!r} are empty or repeated after "
                    f"normalize={self.p.normalize!r}; list each class once."
                )

    @property
    def labels(self) -> tuple[str, ...] | None:
        """The declared label set after normalisation, or None."""
        return self._labels

    def signature_fields(self) -> dict[str, Any]:
        """The parameters, with ``labels`` as compact JSON (``["cat","dog"]``)."""
        fields = super().signature_fields()
        if self._labels is not None:
            fields["labels"] = json.dumps(list(self._labels), separators=(",", ":"))
        return fields

    def _per_class_names(self) -> Iterable[str]:
        for label in self._labels or ():
            yield from (f"f1[{label}]", f"precision[{label}]", f"recall[{label}]")

    def value_names(self) -> tuple[str, ...]:
        a = self.p.average
        return (f"f1_{a}", f"precision_{a}", f"recall_{a}", *self._per_class_names())

    def primary_values(self) -> tuple[str, ...]:
        return (f"f1_{self.p.average}",)

    def resample_block(
        self, stats: Sequence[Stats]
    ) -> Callable[[np.ndarray], dict[str, np.ndarray]] | None:
        """Values of bootstrap resamples from their counts (:class:`evalkit.stats._Resampler`).

        See :func:`evalkit.metrics.classification._resample.f1_block`.
        """
        from evalkit.metrics.classification._resample import f1_block

        if not stats:
            return None
        zd, a = self.p.zero_division, self.p.average
        return f1_block(stats, self._labels, a, zd, self.value_names())

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        names = self.value_names()
        if not stats:
            return {k: float("nan") for k in names}
        counts = class_counts(stats, self._labels)
        zd = self.p.zero_division
        a = self.p.average
        p, r, f = precision_recall_f1(counts, a, zd)
        out = {f"f1_{a}": float(f), f"precision_{a}": float(p), f"recall_{a}": float(r)}
        if self._labels is not None:
            pc, rc, fc = precision_recall_f1(counts, None, zd)
            for i, label in enumerate(counts.labels):
                out[f"f1[{label}]"] = float(fc[i])
                out[f"precision[{label}]"] = float(pc[i])
                out[f"recall[{label}]"] = float(rc[i])
        return out
