"""The local executor (the default): every batch in the calling process, one after another.

Per-sample statistics of large batches may still use forked worker processes
(:mod:`evalkit.metrics._parallel`, ``EVALKIT_WORKERS``); run batches (``batch_size``, 32 by
default) are below those thresholds and stay in-process.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

from evalkit.cache import ResponseCache
from evalkit.executors.base import Batch, Executor, TaskSlot, call_adapter, score_batch


class LocalExecutor(Executor):
    """Serve and score each batch in this process, in input order.

    >>> LocalExecutor().describe()
    {'kind': 'local'}
    """

    kind: ClassVar[str] = "local"

    def run(
        self,
        batches: Iterable[Batch],
        slots: Mapping[str, TaskSlot],
        cache: ResponseCache | None,
    ) -> Iterator[tuple[Batch, list[dict[str, Any]]]]:
        for batch in batches:
            slot = slots[batch.task.name]
            adapter = slot.adapter
            gens = call_adapter(
                adapter, cache if adapter.cacheable else None, slot.info, batch.requests
            )
            yield batch, score_batch(batch.task, batch.samples, batch.requests, gens)
