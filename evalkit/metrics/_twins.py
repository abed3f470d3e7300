"""Input checks and Sample building for the diversity and bias-probe functional twins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from evalkit.errors import InputError
from evalkit.types import Sample, Score


def outputs_samples(metric: str, outputs: Sequence[Any]) -> list[Sample]:
    """One Sample per prompt: ``outputs[i]`` is a text or a list of sampled texts.

    >>> [s.outputs for s in outputs_samples("distinct_n", ["a", ["b", "c"]])]
    [{}, {'samples': ['b', 'c']}]
    """
    if isinstance(outputs, str):
        raise InputError(f"{metric}: outputs is a string; pass a list (one item per prompt).")
    samples = []
    for i, item in enumerate(outputs):
        if isinstance(item, str):
            samples.append(Sample(id=str(i), prediction=item))
            continue
        if not isinstance(item, (list, tuple)) or not item:
            raise InputError(
                f"{metric}: outputs[{i}] is {type(item).__name__}; give a text or a non-empty "
                "list of texts (the samples of one prompt)."
            )
        for j, t in enumerate(item):
            if not isinstance(t, str):
                raise InputError(
                    f"{metric}: outputs[{i}][{j}] is {type(t).__name__}, not a string."
                )
        samples.append(Sample(id=str(i), prediction=item[0], outputs={"samples": list(item)}))
    return samples


def _same_length(metric: str, a: Sequence[Any], b: Sequence[Any], names: str) -> None:
    if isinstance(a, str) or isinstance(b, str):
        raise InputError(f"{metric}: {names} must be lists, not strings.")
    if len(a) != len(b):
        raise InputError(f"{metric}: {names} differ in length ({len(a)} vs {len(b)}).")


def paired_text_score(
    outputs_a: Sequence[str],
    outputs_b: Sequence[str],
    references: Sequence[Sequence[str]] | None = None,
    *,
    resamples: int = 1000,
    **params: Any,
) -> Score:
    """``counterfactual_gap`` over paired outputs, with a bootstrap interval of the gap."""
    from evalkit.registry import METRICS
    from evalkit.stats import bootstrap_ci, task_rng

    metric = METRICS.get("counterfactual_gap").build(params)
    _same_length(metric.name, outputs_a, outputs_b, "outputs_a and outputs_b")
    refs = list(references) if references is not None else [[] for _ in outputs_a]
    _same_length(metric.name, outputs_a, refs, "outputs and references")
    samples = []
    for i, (a, b, r) in enumerate(zip(outputs_a, outputs_b, refs, strict=True)):
        if not isinstance(a, str) or not isinstance(b, str):
            raise InputError(f"{metric.name}: outputs[{i}] must be strings on both sides.")
        samples.append(
            Sample(id=str(i), prediction=a, references=tuple(r), outputs={"variants": [b]})
        )
    stats = metric.sample_stats(samples)
    values = metric.aggregate(stats)
    ci = bootstrap_ci(metric, stats, resamples=resamples, rng=task_rng(params.get("seed", 0), "cf"))
    details = dict(values)
    details["cf_gap_ci_low"], details["cf_gap_ci_high"] = ci["cf_gap"]
    head = metric.value_names()[0]
    return Score(
        name=head, value=values[head], signature=metric.signature(), n=len(stats), details=details
    )


def paired_ll_score(
    metric_name: str, first: Sequence[float], second: Sequence[float], **params: Any
) -> Score:
    """A log-likelihood pair metric over two lists of log-likelihoods (nats, one per text)."""
    from evalkit.registry import METRICS

    metric = METRICS.get(metric_name).build(params)
    _same_length(metric_name, first, second, "the two log-likelihood lists")
    samples = [
        Sample(
            id=str(i),
            outputs={
                "nll": -float(a),
                "n_tokens": 1,
                "variants": [{"nll": -float(b), "n_tokens": 1}],
            },
        )
        for i, (a, b) in enumerate(zip(first, second, strict=True))
    ]
    return metric.score(samples)


def weat_score(x: Any, y: Any, a: Any, b: Any, **params: Any) -> Score:
    """WEAT over four arrays of embeddings (one row per word or sentence)."""
    from evalkit.registry import METRICS

    metric = METRICS.get("weat").build(params)
    samples = []
    for name, rows in (("X", x), ("Y", y), ("A", a), ("B", b)):
        arr = np.asarray(rows, dtype=np.float64)
        if arr.ndim != 2 or len(arr) == 0:
            raise InputError(f"weat: set {name} must be a non-empty 2-D array of embeddings.")
        for i, v in enumerate(arr):
            samples.append(
                Sample(
                    id=f"{name}{i}",
                    inputs={metric.params["set_field"]: name},
                    outputs={"embedding": v.tolist()},
                )
            )
    return metric.score(samples)


def fairness_score(
    predictions: Sequence[str], labels: Sequence[str], groups: Sequence[Any], **params: Any
) -> Score:
    """group_fairness over parallel lists of predictions, gold labels and groups."""
    from evalkit.registry import METRICS

    metric = METRICS.get("group_fairness").build(params)
    _same_length(metric.name, predictions, labels, "predictions and labels")
    _same_length(metric.name, predictions, groups, "predictions and groups")
    field = metric.params["group_field"]
    samples = [
        Sample(id=str(i), inputs={field: g}, prediction=p, references=(str(t),))
        for i, (p, t, g) in enumerate(zip(predictions, labels, groups, strict=True))
    ]
    return metric.score(samples)


def confidence_samples(
    metric: str,
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    confidences: Sequence[Any],
) -> list[Sample]:
    """Samples whose model outputs carry ``confidence`` (the calibration twin's input)."""
    from evalkit._validate import as_samples

    samples = as_samples(metric, predictions, references)
    _same_length(metric, predictions, confidences, "predictions and confidences")
    return [
        Sample(id=s.id, references=s.references, prediction=s.prediction, outputs={"confidence": c})
        for s, c in zip(samples, confidences, strict=True)
    ]
