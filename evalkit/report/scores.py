"""Per-sample scores of a run, read from its record.

Each sample line keeps its metrics' sentence-level primary values (``scores``: sentence BLEU,
ROUGE-L F, exact match, nDCG@10...), written at scoring time by the code that computed the
statistics (:func:`evalkit.executors.base.score_batch`); metrics without per-sample values
(FID, distinct-n) add a statistic that is a single number, taken as is.

Records written before lines had ``scores`` are read the old way: the score of a sample is
rebuilt with the installed metric when it reproduces the recorded signature and its per-sample
values are vectorised (:class:`~evalkit.metrics.base.VectorMetric`). The run report's sample
table and histograms (:mod:`evalkit.report.html.run`) and :meth:`evalkit.api.Run.to_pandas` read
them from here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from evalkit.report._record import TypedRun, typed_run
from evalkit.store import RunRecord


def _simple_stat(value: Any) -> float | None:
    """The headline number of a per-sample statistic when it is a single number.

    A statistic is "simple" when it is a number or a one-element list of a number (a mean
    metric's per-sample value); vectors of counts (BLEU) or feature vectors are not shown.
    Statistics are metric-defined JSON (the schema does not type them), hence the checks.
    """
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _rebuilt_metric(key: str, params: dict[str, Any] | None, signature: str) -> Any:
    """The recorded metric, rebuilt, when its per-sample values are cheap and trustworthy.

    Returns ``None`` (the caller falls back to single-number statistics) when the metric is
    unknown here, its parameters no longer build, the installed code gives another signature,
    or its per-sample values are not vectorised (a per-sample ``aggregate`` call over 10,000
    samples, or a model-based metric, is too slow for a report).
    """
    from evalkit.errors import EvalkitError
    from evalkit.metrics.base import VectorMetric
    from evalkit.registry import METRICS

    try:
        cls: Any = METRICS.get(key)
        if not (isinstance(cls, type) and issubclass(cls, VectorMetric)):
            return None
        metric = cls.build(params or {})
    except (EvalkitError, TypeError, ValueError, ImportError):
        return None
    return metric if metric.signature() == signature else None


def _recorded_scores(record: TypedRun) -> tuple[list[str], list[dict[str, float]]]:
    """Columns and per-line scores from the lines' own ``scores``, then single-number
    statistics of the metric keys without recorded scores (set-level metrics)."""
    scores: list[dict[str, float]] = [{} for _ in record.samples]
    columns: list[str] = []
    scored: dict[str, set[str]] = {}
    for i, s in enumerate(record.samples):
        for key, values in (s.scores or {}).items():
            scored.setdefault(s.task, set()).add(key)
            for name, number in values.items():
                if not math.isfinite(number):
                    continue
                if name not in columns:
                    columns.append(name)
                scores[i][name] = number
    _add_simple_stats(record, scored, columns, scores)
    return columns, scores


def _add_simple_stats(
    record: TypedRun,
    skip_keys: Mapping[str, set[str]],
    columns: list[str],
    scores: list[dict[str, float]],
) -> None:
    """Add each line's single-number statistics, except those of ``skip_keys`` per task."""
    for i, s in enumerate(record.samples):
        skip = skip_keys.get(s.task, set())
        for key, value in s.stats.items():
            if key in skip:
                continue
            number = _simple_stat(value)
            if number is None:
                continue
            if key not in columns:
                columns.append(key)
            if math.isfinite(number):
                scores[i][key] = number


def per_sample_scores(record: RunRecord | TypedRun) -> tuple[list[str], list[dict[str, float]]]:
    """Score columns and, per sample line, its finite scores by column.

    Columns are the primary values of rebuilt metrics (sentence BLEU, ROUGE-L F, exact match,
    nDCG@10...), then single-number statistics of the other metric keys. Samples whose call
    failed get no rebuilt score.

    Args:
        record: A run read with :func:`evalkit.store.load_run` (checked against the schema
            here, unless already typed).

    Returns:
        The column names, and one ``{column: score}`` dict per sample line, in record order
        (a score that is not finite is left out).

    Raises:
        evalkit.records.RecordError: The header or a sample line does not match the schema.

    >>> from pathlib import Path
    >>> line = {"task": "t", "prompt": "p", "prediction": "x", "references": [],
    ...         "error": None, "cached": False}
    >>> rec = RunRecord(Path("run"), {"format_version": 1}, [
    ...     {**line, "id": "1", "stats": {"hits": 1.0}},
    ...     {**line, "id": "2", "stats": {"hits": [0]}}])
    >>> per_sample_scores(rec)
    (['hits'], [{'hits': 1.0}, {'hits': 0.0}])
    """
    record = typed_run(record)
    scores: list[dict[str, float]] = [{} for _ in record.samples]
    columns: list[str] = []
    by_task: dict[str, list[int]] = {}
    for i, s in enumerate(record.samples):
        if s.error is None:
            by_task.setdefault(s.task, []).append(i)
    # Written by a version that records them (the key, even when null).
    if any("scores" in s.model_fields_set for s in record.samples):
        return _recorded_scores(record)
    rebuilt_keys: dict[str, set[str]] = {}
    for info in record.header.tasks:
        task = info.name
        for key, signature in info.metrics.items():
            metric = _rebuilt_metric(key, info.metric_params.get(key), signature)
            if metric is None:
                continue
            rows = [i for i in by_task.get(task, []) if key in record.samples[i].stats]
            try:
                values = metric.per_sample_values([record.samples[i].stats[key] for i in rows])
            except (TypeError, ValueError, IndexError, KeyError):
                continue  # statistics of another shape than this metric's: leave them out
            rebuilt_keys.setdefault(task, set()).add(key)
            for name in metric.primary_values():
                if name not in values:
                    continue
                if name not in columns:
                    columns.append(name)
                for i, v in zip(rows, values[name], strict=True):
                    number = _simple_stat(v)
                    if number is not None and math.isfinite(number):
                        scores[i][name] = number
    _add_simple_stats(record, rebuilt_keys, columns, scores)
    return columns, scores
