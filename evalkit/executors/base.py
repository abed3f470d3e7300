"""The executor contract: serve and score a run's batches, somewhere, and hand back record lines.

The runner cuts each task's pending samples into :class:`Batch` es and gives them to an
executor. For each batch the executor looks the requests up in the response cache, calls the
task's adapter for the rest, computes every metric's per-sample statistics and yields the
batch's record lines, in input order (however the batches were spread and whenever they
finished); the runner appends them to ``samples.jsonl``. So the record, and every number
computed from it, is the same whichever executor ran the suite, and nothing outside
``evalkit.executors`` needs to know which one it was.

The two steps every executor shares live here: :func:`call_adapter` (cache look-up, adapter
call, count check) and :func:`score_batch` (statistics of the successful generations, one record
line per sample). The local executor runs them in the calling process; the Ray executor keeps
the cache on the driver and runs the adapter call and the scoring in worker actors.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar

from evalkit.adapters import ModelAdapter
from evalkit.cache import ResponseCache, cache_key
from evalkit.errors import RunError
from evalkit.metrics.base import Metric, VectorMetric
from evalkit.suite import Task
from evalkit.types import (
    JUDGMENTS,
    RETRIEVED_RANKING,
    GenerateRequest,
    Generation,
    Sample,
    evolve,
)

__all__ = [
    "Batch",
    "Executor",
    "JudgeSlot",
    "TaskSlot",
    "call_adapter",
    "fill",
    "judge_batch",
    "lookup",
    "score_batch",
]


@dataclass(frozen=True)
class JudgeSlot:
    """The judge model of one judge metric: its adapter and the adapter's cache key part."""

    adapter: ModelAdapter
    info: dict[str, Any]


@dataclass(frozen=True)
class TaskSlot:
    """A task with its model, as an executor sees them.

    Attributes:
        task: The task (its metrics score the batches).
        adapter: The adapter built in the calling process (the driver).
        info: ``adapter.info()``, the adapter part of the cache key.
        spec: ``KIND:TARGET`` to build an equal adapter in another process (a worker loads a
            local model itself instead of receiving the driver's copy), or None when the adapter
            was given as an object and must be shipped as one.
        options: The adapter options that go with ``spec``.
    """

    task: Task
    adapter: ModelAdapter
    info: dict[str, Any]
    spec: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    #: The judges of the task's judge metrics, by metric key (see :func:`judge_batch`).
    judges: Mapping[str, JudgeSlot] = field(default_factory=dict)


@dataclass(frozen=True)
class Batch:
    """Samples of one task served and scored together, with their requests (same order)."""

    task: Task
    samples: tuple[Sample, ...]
    requests: tuple[GenerateRequest, ...]

    def __len__(self) -> int:
        return len(self.samples)


def lookup(
    cache: ResponseCache | None, info: dict[str, Any], requests: Sequence[GenerateRequest]
) -> tuple[list[str], dict[int, Generation]]:
    """Cache keys of ``requests`` and the cached generations found, by request index."""
    if cache is None:
        return [], {}
    keys = [cache_key(info, r) for r in requests]
    hits = cache.get_many(keys)
    return keys, {i: hits[k] for i, k in enumerate(keys) if k in hits}


def fill(
    adapter: ModelAdapter,
    requests: Sequence[GenerateRequest],
    known: Mapping[int, Generation],
) -> tuple[list[Generation], dict[int, Generation]]:
    """Call ``adapter`` for the requests not in ``known``; all generations, and the fresh ones.

    Raises:
        RunError: The adapter returned a different number of results than it was asked for.
    """
    todo = [i for i in range(len(requests)) if i not in known]
    got = adapter.call([requests[i] for i in todo]) if todo else []
    if len(got) != len(todo):
        raise RunError(
            f"adapter {adapter.name} returned {len(got)} results for {len(todo)} requests."
        )
    fresh = dict(zip(todo, got, strict=True))
    return [fresh[i] if i in fresh else known[i] for i in range(len(requests))], fresh


def call_adapter(
    adapter: ModelAdapter,
    cache: ResponseCache | None,
    info: dict[str, Any],
    requests: Sequence[GenerateRequest],
) -> list[Generation]:
    """One generation per request: cached ones from ``cache``, the rest from ``adapter``.

    Successful fresh generations are stored in the cache; failures never are.
    """
    keys, hits = lookup(cache, info, requests)
    gens, fresh = fill(adapter, requests, hits)
    if cache is not None and fresh:
        cache.put_many([(keys[i], g) for i, g in fresh.items()])
    return gens


def has_sample_scores(metric: Metric) -> bool:
    """Whether a sample's own value is recorded for ``metric`` (in its line's ``scores``).

    A metric that has per-sample outcomes and computes them without a per-sample aggregate:
    additive statistics (:class:`~evalkit.metrics.base.VectorMetric`) or its own vectorised
    ``per_sample_values`` (BERTScore). Set-level metrics (FID, distinct-n) have no per-sample
    value; the others' (a sign-flip test per pair) would cost a corpus computation per sample.
    """
    if not metric.per_sample_outcomes:
        return False
    own = type(metric).per_sample_values is not Metric.per_sample_values
    return isinstance(metric, VectorMetric) or own


def _sample_scores(
    task: Task, per_metric: Mapping[str, Sequence[Any]], n: int
) -> list[dict[str, dict[str, float]]]:
    """Each scored sample's primary values: ``{metric key: {value name: number}}``.

    Computed when the statistics are, by the code that computed them, so reports read a
    sample's score from its record line and never rebuild a metric from the installed code.
    Values that are not finite are left out.
    """
    out: list[dict[str, dict[str, float]]] = [{} for _ in range(n)]
    for entry in task.metrics:
        metric = entry.metric
        stats = per_metric[entry.key]
        if not stats or not has_sample_scores(metric):
            continue
        values = metric.per_sample_values(stats)
        for name in metric.primary_values():
            if name not in values:
                continue
            column = values[name]
            # NumPy's tolist gives Python numbers in one call (float() of each is the same).
            numbers = column.tolist() if hasattr(column, "tolist") else column
            isfinite = math.isfinite
            for row, value in zip(out, numbers, strict=True):
                number = float(value)
                if isfinite(number):
                    row.setdefault(entry.key, {})[name] = number
    return out


def _scored(
    samples: Sequence[Sample], requests: Sequence[GenerateRequest], gens: Sequence[Generation]
) -> list[Sample]:
    """The samples whose model call succeeded, with the model's answer (what metrics see).

    In a RAG task the retriever's ranking (kept in the sample's inputs) joins the outputs as
    ``ranking``, where ranking metrics read it.
    """
    return [
        evolve(s, prediction=g.text, outputs=_outputs(s, g), prompt=r.prompt)
        for s, r, g in zip(samples, requests, gens, strict=True)
        if g.ok
    ]


def _outputs(sample: Sample, gen: Generation) -> Mapping[str, Any]:
    ranking = sample.inputs.get(RETRIEVED_RANKING)
    if ranking is None or "ranking" in gen.outputs:
        return gen.outputs
    return {**gen.outputs, "ranking": ranking}


#: One judge answer as metrics and the record see it.
Judgment = dict[str, Any]


def judge_batch(
    task: Task,
    samples: Sequence[Sample],
    requests: Sequence[GenerateRequest],
    gens: Sequence[Generation],
    judges: Mapping[str, JudgeSlot],
    cache: ResponseCache | None,
) -> dict[str, list[list[Judgment]]]:
    """Ask each judge metric's judge about the batch's successful generations.

    For every metric of ``task`` with a judge in ``judges``, the requests of
    :meth:`~evalkit.metrics.base.Metric.judge_requests` for every scored sample go to the
    judge adapter in one call, through ``cache`` (when the judge is ``cacheable``). Returns,
    by metric key, one list of ``{"text", "error", "cached"}`` answers per scored sample (in
    the order of its requests); a failed judge call is an answer with ``error`` set.

    A metric with :meth:`~evalkit.metrics.base.Metric.judge_rounds` above 1 is asked round by
    round: each round's requests are built from samples holding the answers of the rounds
    before (a judge that splits an answer into claims, then one that checks each claim), and
    the answers of all rounds are handed back in order.
    """
    if not judges:
        return {}
    scored = _scored(samples, requests, gens)
    out: dict[str, list[list[Judgment]]] = {}
    for entry in task.metrics:
        slot = judges.get(entry.key)
        if slot is None:
            continue
        use = cache if slot.adapter.cacheable else None
        got: list[list[Judgment]] = [[] for _ in scored]
        for round_ in range(entry.metric.judge_rounds()):
            seen = (
                [
                    evolve(s, outputs={**s.outputs, JUDGMENTS: a})
                    for s, a in zip(scored, got, strict=True)
                ]
                if round_
                else scored
            )
            asked = [entry.metric.judge_requests(s) for s in seen]
            flat = [evolve(r, task=task.name) if not r.task else r for reqs in asked for r in reqs]
            if not flat:
                break
            it = iter(call_adapter(slot.adapter, use, slot.info, flat))
            for answers, reqs in zip(got, asked, strict=True):
                answers.extend(_judgment(next(it)) for _ in reqs)
        out[entry.key] = got
    return out


def _judgment(g: Generation) -> Judgment:
    if g.ok and g.text is not None:
        return {"text": g.text, "error": None, "cached": g.cached}
    return {"text": None, "error": g.error or "the judge returned no text", "cached": g.cached}


def score_batch(
    task: Task,
    samples: Sequence[Sample],
    requests: Sequence[GenerateRequest],
    gens: Sequence[Generation],
    judged: Mapping[str, Sequence[Sequence[Judgment]]] | None = None,
) -> list[dict[str, Any]]:
    """Per-sample record lines; metrics see only successful generations.

    ``judged`` (from :func:`judge_batch`) gives each judge metric's samples their judge's
    answers in ``outputs["judgments"]``; the lines keep them under ``judgments``.
    """
    oks = [g.ok for g in gens]
    scored = _scored(samples, requests, gens)
    judged = judged or {}
    per_metric: dict[str, list[Any]] = {}
    warned: dict[str, list[str | None]] = {}
    for e in task.metrics:
        seen = scored
        if e.key in judged:
            seen = [
                evolve(s, outputs={**s.outputs, JUDGMENTS: list(a)})
                for s, a in zip(scored, judged[e.key], strict=True)
            ]
        per_metric[e.key] = e.metric.sample_stats(seen) if seen else []
        warned[e.key] = e.metric.sample_warnings(seen) if seen else []
    scores = _sample_scores(task, per_metric, len(scored))
    stat_lists = list(per_metric.items())
    warn_lists = [(key, w) for key, w in warned.items() if w]  # most metrics warn of nothing
    name = task.name
    lines = []
    k = 0
    for s, r, g, ok in zip(samples, requests, gens, oks, strict=True):
        line: dict[str, Any] = {
            "task": name,
            "id": s.id,
            "prompt": r.prompt,
            "prediction": g.text if ok else None,
            "references": list(s.references),
            "error": None if ok else (g.error or "no output"),
            "cached": g.cached,
            "stats": {},
        }
        if ok:
            if g.outputs:
                line["outputs"] = dict(g.outputs)
            if judged:
                line["judgments"] = {key: list(a[k]) for key, a in judged.items()}
            line["stats"] = {key: stats[k] for key, stats in stat_lists}
            if scores[k]:
                line["scores"] = scores[k]
            if warn_lists:
                notes = {key: w[k] for key, w in warn_lists if w[k]}
                if notes:
                    line["warnings"] = notes
            k += 1
        lines.append(line)
    return lines


class Executor(ABC):
    """Where batches are served and scored. Use as a context manager, or call :meth:`close`.

    An executor is built from an :class:`~evalkit.suite.ExecutorSpec` by
    :func:`evalkit.executors.make_executor`; :meth:`run` may be called once per run.
    """

    kind: ClassVar[str]

    @abstractmethod
    def run(
        self,
        batches: Iterable[Batch],
        slots: Mapping[str, TaskSlot],
        cache: ResponseCache | None,
    ) -> Iterator[tuple[Batch, list[dict[str, Any]]]]:
        """Serve and score ``batches``; yield each batch with its record lines as it completes.

        Args:
            batches: The batches to run (consumed lazily).
            slots: Every task of the suite with its model, by task name.
            cache: The response cache (None: off), used for adapters that are ``cacheable``.

        Yields:
            ``(batch, lines)``, one per batch, in input order; ``lines`` holds one record line
            per sample of the batch, in batch order.
        """

    def describe(self) -> dict[str, Any]:
        """What the run record says about the executor (``results.json`` ``executor``)."""
        return {"kind": self.kind}

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release what :meth:`run` started (worker processes, a cluster connection)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
