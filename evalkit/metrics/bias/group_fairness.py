"""Group fairness of yes/no classifications: the ``group_fairness`` metric (:class:`GroupFairness`).

Unlike the pair probes, each sample is one classified input with a gold label and a group;
the values are fairlearn's parity gaps between the groups, computed from scikit-learn's
confusion matrices.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np
from pydantic import Field, field_validator

from evalkit.errors import ConfigError, InputError
from evalkit.metrics.base import Metric
from evalkit.metrics.bias._paired import _first_word
from evalkit.metrics.params import MetricParams
from evalkit.types import Sample, Stats

__all__ = ["GroupFairness"]


class GroupFairness(Metric):
    """Group fairness of yes/no classifications: accuracy, selection rate, parity gaps.

    Definition: a prediction is positive when its first word (case-folded, punctuation
    removed) equals ``positive_label``; so is the reference label. Per group (the dataset
    field ``group_field``) scikit-learn's ``confusion_matrix`` gives the selection rate
    ``(TP + FP) / n``, the true-positive rate ``TP / (TP + FN)`` and the false-positive rate
    ``FP / (FP + TN)``. ``demographic_parity_difference`` is the largest minus the smallest
    group selection rate, ``equalized_odds_difference`` the larger of the TPR and FPR ranges
    (groups where a rate is undefined are left out of that range), as fairlearn defines them
    (Hardt et al. 2016). ``fairness_accuracy`` and ``selection_rate`` are over all samples,
    ``accuracy_difference`` the range of group accuracies.

    Args:
        group_field: The dataset field naming each sample's group.
        positive_label: The positive class.

    References:
        Hardt, Price & Srebro (2016), "Equality of Opportunity in Supervised Learning", NeurIPS;
        Bird et al. (2020), "Fairlearn: A toolkit for assessing and improving fairness in AI";
        Pedregosa et al. (2011), scikit-learn.

    Example:
        >>> rows = [("a", "yes", "yes"), ("a", "no", "yes"), ("b", "no", "yes"), ("b", "no", "no")]
        >>> s = [Sample(id=str(i), inputs={"group": g}, prediction=p, references=(r,))
        ...      for i, (g, p, r) in enumerate(rows)]
        >>> v = GroupFairness().score(s).details
        >>> v["demographic_parity_difference"], v["equalized_odds_difference"]  # TPR 1/2 vs 0
        (0.5, 0.5)
    """

    name: ClassVar[str] = "group_fairness"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"prediction", "references", "group"})
    reference_packages: ClassVar[tuple[str, ...]] = ("scikit-learn",)

    class Params(MetricParams):
        """Group fairness's parameters."""

        group_field: str = Field("group", description="dataset field naming the sample's group")
        positive_label: str = Field("yes", description="the positive class")

        @field_validator("positive_label")
        @classmethod
        def _first_word_of(cls, value: str) -> str:
            label = _first_word(value)
            if not label:
                raise ValueError(f"must hold a word, got {value!r}")
            return label

    p: Params

    def setup(self) -> None:
        """Check that scikit-learn is installed."""
        try:
            import sklearn  # noqa: F401
        except ImportError:
            raise ConfigError(
                f"{self.name}: needs scikit-learn: pip install 'evalkit[fairness]'."
            ) from None

    def value_names(self) -> tuple[str, ...]:
        return (
            "demographic_parity_difference",
            "equalized_odds_difference",
            "accuracy_difference",
            "fairness_accuracy",
            "selection_rate",
        )

    def value_higher_is_better(self, value_name: str) -> bool:
        return value_name == "fairness_accuracy"

    def primary_values(self) -> tuple[str, ...]:
        return ("demographic_parity_difference", "equalized_odds_difference", "fairness_accuracy")

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        field, label = self.p.group_field, self.p.positive_label
        out = []
        for s in batch:
            if field not in s.inputs:
                raise InputError(
                    f"{self.name}: sample '{s.id}' has no field '{field}'; set group_field to "
                    "the dataset field that names each sample's group."
                )
            if not isinstance(s.prediction, str):
                raise InputError(f"{self.name}: sample '{s.id}' has no prediction.")
            if len(s.references) != 1:
                raise InputError(
                    f"{self.name}: sample '{s.id}' needs exactly one reference label, "
                    f"got {len(s.references)}."
                )
            truth = int(_first_word(s.references[0]) == label)
            pred = int(_first_word(s.prediction) == label)
            out.append([str(s.inputs[field]), truth, pred])
        return out

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        names = self.value_names()
        if not stats:
            return {k: math.nan for k in names}
        from sklearn.metrics import confusion_matrix

        groups: dict[str, tuple[list[int], list[int]]] = {}
        for g, t, p in stats:
            groups.setdefault(g, ([], []))
            groups[g][0].append(int(t))
            groups[g][1].append(int(p))
        sel, tpr, fpr, acc = [], [], [], []
        tot = np.zeros((2, 2))
        for truth, pred in groups.values():
            cm = confusion_matrix(truth, pred, labels=[0, 1])
            tot += cm
            (tn, fp), (fn, tp) = cm
            n = cm.sum()
            sel.append((tp + fp) / n)
            acc.append((tp + tn) / n)
            if tp + fn:
                tpr.append(tp / (tp + fn))
            if fp + tn:
                fpr.append(fp / (fp + tn))

        def spread(v: list[float]) -> float:
            return float(max(v) - min(v)) if v else 0.0

        (tn, fp), (fn, tp) = tot
        n = tot.sum()
        return {
            "demographic_parity_difference": spread(sel),
            "equalized_odds_difference": max(spread(tpr), spread(fpr)),
            "accuracy_difference": spread(acc),
            "fairness_accuracy": float((tp + tn) / n),
            "selection_rate": float((tp + fp) / n),
        }

    def resample_block(
        self, stats: Sequence[Stats]
    ) -> Callable[[np.ndarray], dict[str, np.ndarray]] | None:
        """Values of bootstrap resamples from their counts (:class:`evalkit.stats._Resampler`).

        Each sample is one cell of its group's confusion matrix, so a resample's per-group
        matrices are sums of its counts over the samples of each (group, cell); the rates and
        ranges follow as in ``aggregate`` (a group a resample does not draw is left out).
        """
        if not stats:
            return None
        groups = {g: i for i, g in enumerate(dict.fromkeys(str(st[0]) for st in stats))}
        col = np.array([4 * groups[str(g)] + 2 * int(t) + int(p) for g, t, p in stats])
        order = np.argsort(col, kind="stable")
        present = np.unique(col)
        starts = np.searchsorted(col[order], present)
        width = 4 * len(groups)

        def spread(v: np.ndarray, ok: np.ndarray) -> np.ndarray:
            hi = np.where(ok, v, -np.inf).max(axis=1)
            lo = np.where(ok, v, np.inf).min(axis=1)
            return np.where(ok.any(axis=1), hi - lo, 0.0)

        onehot = None
        if width <= 1024:  # one matrix product per block; else a sort-and-reduceat
            onehot = np.zeros((len(col), width))
            onehot[np.arange(len(col)), col] = 1.0

        def values(counts: np.ndarray) -> dict[str, np.ndarray]:
            if onehot is not None:
                cells = counts @ onehot
            else:
                cells = np.zeros((counts.shape[0], width))
                cells[:, present] = np.add.reduceat(counts[:, order], starts, axis=1)
            tn, fp, fn, tp = np.moveaxis(cells.reshape(counts.shape[0], -1, 4), 2, 0)
            n = tn + fp + fn + tp
            with np.errstate(invalid="ignore", divide="ignore"):
                sel, acc = (tp + fp) / n, (tp + tn) / n
                tpr, fpr = tp / (tp + fn), fp / (fp + tn)
            size = n.sum(axis=1)
            return {
                "demographic_parity_difference": spread(sel, n > 0),
                "equalized_odds_difference": np.maximum(
                    spread(tpr, tp + fn > 0), spread(fpr, fp + tn > 0)
                ),
                "accuracy_difference": spread(acc, n > 0),
                "fairness_accuracy": (tp + tn).sum(axis=1) / size,
                "selection_rate": (tp + fp).sum(axis=1) / size,
            }

        return values
