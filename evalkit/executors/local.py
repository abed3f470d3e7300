"""The local executor (the default): every batch in the calling process, one after another.

Per-sample statistics of large batches may still use forked worker processes
(:mod:`evalkit.metrics._parallel`, ``EVALKIT_WORKERS``); run batches (``batch_size``, 32 by
default) are below those thresholds and stay in-process.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

from evalkit.cache import ResponseCache
from evalkit.executors.base import (
    Batch,
    Executor,
    TaskSlot,
    call_adapter,
    judge_batch,
    score_batch,
)


class LocalExecutor(Executor):
    """Serve and score each batch in this process, in input order.

    Attributes:
        timings: Seconds spent in the adapter calls (with cache look-ups), in the judge calls
            of judge metrics and in the scoring, summed over the batches of :meth:`run`
            (``{"adapter": ..., "judge": ..., "scoring": ...}``).

    >>> LocalExecutor().describe()
    {'kind': 'local'}
    """

    kind: ClassVar[str] = "local"

    def __init__(self) -> None:
        self.timings: dict[str, float] = {"adapter": 0.0, "judge": 0.0, "scoring": 0.0}

    def run(
        self,
        batches: Iterable[Batch],
        slots: Mapping[str, TaskSlot],
        cache: ResponseCache | None,
    ) -> Iterator[tuple[Batch, list[dict[str, Any]]]]:
        clock = time.perf_counter
        for batch in batches:
            slot = slots[batch.task.name]
            adapter = slot.adapter
            started = clock()
            gens = call_adapter(
                adapter, cache if adapter.cacheable else None, slot.info, batch.requests
            )
            served = clock()
            judged = judge_batch(
                batch.task, batch.samples, batch.requests, gens, slot.judges, cache
            )
            asked = clock()
            lines = score_batch(batch.task, batch.samples, batch.requests, gens, judged)
            self.timings["adapter"] += served - started
            self.timings["judge"] += asked - served
            self.timings["scoring"] += clock() - asked
            yield batch, lines
