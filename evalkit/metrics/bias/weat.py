"""WEAT/SEAT association tests on embeddings: the ``weat`` metric (:class:`WEAT`).

Unlike the pair probes, each sample is one word or sentence of one of four sets (two target,
two attribute sets), embedded by an ``embed`` request; the statistics are those of
:func:`evalkit.metrics.bias._stats.weat_statistics`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from evalkit.errors import InputError
from evalkit.metrics.base import Metric
from evalkit.metrics.bias._stats import unit_rows, weat_statistics
from evalkit.metrics.params import MetricParams
from evalkit.types import Sample, Stats

__all__ = ["WEAT"]


class WEAT(Metric):
    """WEAT / SEAT association test on embeddings (Caliskan et al. 2017; May et al. 2019).

    Definition: the samples are words (WEAT) or template sentences (SEAT), each in one of four
    sets named by the dataset field ``set_field``: targets ``X``, ``Y`` and attributes ``A``,
    ``B``; each is embedded by an ``embed`` request (e.g. ``model: dense:``, the bundled
    MiniLM). With ``s(w) = mean_a cos(w, a) - mean_b cos(w, b)``, the effect size is
    ``(mean_{x in X} s(x) - mean_{y in Y} s(y)) / std_{w in X u Y} s(w)``, the **sample**
    standard deviation (``ddof=1``) over the union of the target sets. ``weat_effect_size``
    (in [-2, 2], target 0), ``weat_abs_effect_size`` (headline, lower is better) and
    ``weat_p_value``: Caliskan et al.'s one-sided permutation p-value over equal-size
    re-partitions of ``X u Y``, exact up to ``exact_limit`` partitions, else ``permutations``
    seeded draws (:func:`evalkit.metrics.bias._stats.weat_statistics`).

    Args:
        set_field: The dataset field holding ``X``, ``Y``, ``A`` or ``B``.
        permutations: Random partitions drawn when there are too many to enumerate.
        exact_limit: Enumerate all partitions up to this many.
        seed: Seed of the drawn partitions.

    References:
        Caliskan, Bryson & Narayanan (2017), "Semantics derived automatically from language
        corpora contain human-like biases", Science 356; May et al. (2019), "On Measuring
        Social Biases in Sentence Encoders", NAACL (SEAT).

    Example:
        >>> e = np.eye(4)
        >>> rows = [("X", e[0] + 0.1 * e[2]), ("X", e[0] + 0.1 * e[3]),
        ...         ("Y", e[1] + 0.1 * e[3]), ("Y", e[1] + 0.1 * e[2]), ("A", e[0]), ("B", e[1])]
        >>> samples = [Sample(id=str(i), inputs={"set": k}, outputs={"embedding": list(v)})
        ...            for i, (k, v) in enumerate(rows)]
        >>> v = WEAT().score(samples).details
        >>> round(v["weat_effect_size"], 6), round(v["weat_p_value"], 4)
        (1.732051, 0.1667)
    """

    name: ClassVar[str] = "weat"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"embed"})
    request_kind: ClassVar[str] = "embed"

    class Params(MetricParams):
        """WEAT's parameters."""

        set_field: str = Field("set", description="dataset field naming the set: X, Y, A or B")
        permutations: int = Field(10000, ge=1, description="random partitions drawn")
        exact_limit: int = Field(20000, ge=1, description="enumerate up to this many partitions")
        seed: int = Field(0, description="seed of the drawn partitions")

    p: Params

    def value_names(self) -> tuple[str, ...]:
        return ("weat_abs_effect_size", "weat_effect_size", "weat_p_value")

    def primary_values(self) -> tuple[str, ...]:
        return ("weat_abs_effect_size",)

    def value_higher_is_better(self, value_name: str) -> bool:
        return value_name == "weat_p_value"

    def interval_values(self) -> tuple[str, ...]:
        return ("weat_abs_effect_size", "weat_effect_size")

    def value_target(self, value_name: str) -> float | None:
        return 0.0 if value_name == "weat_effect_size" else None

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        field = self.p.set_field
        out = []
        for s in batch:
            which = s.inputs.get(field)
            if which not in ("X", "Y", "A", "B"):
                raise InputError(
                    f"{self.name}: sample '{s.id}': field '{field}' is {which!r}; it must name "
                    "the sample's set: X, Y (targets), A or B (attributes)."
                )
            emb = s.outputs.get("embedding") if s.outputs else None
            if not isinstance(emb, (list, tuple)) or not emb:
                raise InputError(
                    f"{self.name}: sample '{s.id}' has no embedding; the task's model must "
                    "serve embed requests (model: dense:)."
                )
            out.append({"set": which, "embedding": [float(x) for x in emb]})
        return out

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        groups: dict[str, list[list[float]]] = {"X": [], "Y": [], "A": [], "B": []}
        for st in stats:
            groups[st["set"]].append(st["embedding"])
        if any(not v for v in groups.values()):
            return {k: math.nan for k in self.value_names()}
        x, y, a, b = (np.asarray(groups[k], dtype=np.float64) for k in "XYAB")
        effect, p = weat_statistics(
            x,
            y,
            a,
            b,
            permutations=self.p.permutations,
            exact_limit=self.p.exact_limit,
            seed=self.p.seed,
        )
        return {"weat_abs_effect_size": abs(effect), "weat_effect_size": effect, "weat_p_value": p}

    def resample_block(
        self, stats: Sequence[Stats]
    ) -> Callable[[np.ndarray], dict[str, np.ndarray]] | None:
        """Effect sizes of bootstrap resamples from their counts (``evalkit.stats._Resampler``).

        ``mean_a cos(w, a) = w_hat . mean_a a_hat``: a resample's association ``s(w)`` is one
        product of the unit target rows with its count-weighted attribute means, and the
        effect size's means and ``ddof=1`` deviation are count-weighted sums over the target
        rows (a sample drawn twice counts twice, as in ``aggregate`` of the drawn list).
        Identical rows (same set, same embedding) are merged first. The p-value has no
        interval (``interval_values``): resamples leave it NaN instead of permuting.
        """
        if not stats:
            return None
        sets = np.array([st["set"] for st in stats])
        emb = unit_rows(np.asarray([st["embedding"] for st in stats], dtype=np.float64))
        code = np.searchsorted(np.array(["A", "B", "X", "Y"]), sets)
        rows, inverse = np.unique(np.column_stack([code, emb]), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        order = np.argsort(inverse, kind="stable")
        starts = np.searchsorted(inverse[order], np.arange(len(rows)))
        kind = rows[:, 0]
        unit = rows[:, 1:]
        a_u, b_u, x_u, y_u = (np.flatnonzero(kind == c) for c in range(4))
        t_u = np.concatenate([x_u, y_u])
        nx = len(x_u)

        def values(counts: np.ndarray) -> dict[str, np.ndarray]:
            c = np.add.reduceat(counts[:, order], starts, axis=1)  # (B, unique rows)
            ca, cb, ct = c[:, a_u], c[:, b_u], c[:, t_u]
            na, nb = ca.sum(1, keepdims=True), cb.sum(1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                gap = (ca @ unit[a_u]) / na - (cb @ unit[b_u]) / nb  # (B, d)
                s = gap @ unit[t_u].T  # (B, targets): s(w) per resample
                cx, cy = ct[:, :nx], ct[:, nx:]
                n_x, n_y = cx.sum(1), cy.sum(1)
                mean_x = (cx * s[:, :nx]).sum(1) / n_x
                mean_y = (cy * s[:, nx:]).sum(1) / n_y
                total = n_x + n_y
                mean = (ct * s).sum(1) / total
                var = (ct * (s - mean[:, None]) ** 2).sum(1) / (total - 1)
                std = np.sqrt(var)
                ok = (n_x > 0) & (n_y > 0) & (na[:, 0] > 0) & (nb[:, 0] > 0) & (std > 0)
                effect = np.where(ok, (mean_x - mean_y) / np.where(ok, std, 1.0), math.nan)
            nan = np.full(counts.shape[0], math.nan)
            return {
                "weat_abs_effect_size": np.abs(effect),
                "weat_effect_size": effect,
                "weat_p_value": nan,
            }

        return values

    def signature_fields(self) -> dict[str, Any]:
        fields = super().signature_fields()
        fields["std"] = "sample-ddof1"
        fields["p"] = "one-sided"
        return fields
