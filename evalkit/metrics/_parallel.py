"""Order-preserving parallel map for CPU-bound per-sample statistics (fork-based, opt-out).

Text-overlap statistics are pure Python: tokenising, counting n-grams, edit distances. Above a
size threshold, :func:`map_chunks` splits the samples into contiguous chunks and computes them
in a pool of forked worker processes; below it, or where forking is not possible, it computes
them in the calling process. Results are identical either way (the same function computes
every chunk, and chunks are concatenated in order); only the wall time differs.

Why fork: the workers inherit the metric object and the samples from the parent's memory, so
nothing but the (small) statistics crosses a process boundary, and a pool starts in
milliseconds. The work function and the items are published in a module global just before
the pool forks; workers read them from there.

Serial fallbacks:

- fewer items than the caller's threshold (pool start-up would cost more than it saves);
- one usable CPU, or ``EVALKIT_WORKERS=1`` (``EVALKIT_WORKERS=N`` sets the worker count);
- no ``fork`` start method (Windows; macOS defaults to spawn but has fork, which is used);
- inside a daemonic process (a multiprocessing worker may not have children);
- another thread of this process is already inside :func:`map_chunks` (one pool at a time);
- a worker dies (killed for memory, for example): the whole input is recomputed serially.

A child runs only evalkit's and the reference libraries' pure-Python statistics code and
sends its results through a pipe; it takes no lock that another thread of the parent could
hold at fork time (logging, which could, re-initialises its locks after a fork).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from evalkit import _env

__all__ = ["map_chunks", "worker_count"]

T = TypeVar("T")
R = TypeVar("R")

#: Environment variable that sets the number of worker processes (1 disables the pool).
WORKERS_ENV = _env.WORKERS
#: Chunks per worker: enough for load balance when sample lengths vary, few enough that each
#: chunk's result crosses the pipe in one go.
CHUNKS_PER_WORKER = 4

# (function, items) published for forked workers; set only while a pool runs.
_WORK: tuple[Callable[[Sequence[Any]], list[Any]], Sequence[Any]] | None = None
_LOCK = threading.Lock()


def worker_count() -> int:
    """The number of worker processes a pool would use.

    ``EVALKIT_WORKERS`` when set to an integer (1 turns the pool off), else the CPUs this
    process may run on.

    >>> worker_count() >= 1
    True
    """
    configured = _env.workers()
    if configured is not None:
        return configured
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    return max(cpus, 1)


def _can_fork() -> bool:
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    return not multiprocessing.current_process().daemon


def _run_chunk(bounds: tuple[int, int]) -> list[Any]:
    """Worker side: compute one contiguous chunk of the published work."""
    assert _WORK is not None, "map_chunks published no work before forking"
    fn, items = _WORK
    start, stop = bounds
    return fn(items[start:stop])


def _bounds(n: int, chunks: int) -> list[tuple[int, int]]:
    """``chunks`` contiguous, nearly equal ``(start, stop)`` ranges covering ``range(n)``.

    >>> _bounds(10, 3)
    [(0, 4), (4, 7), (7, 10)]
    """
    size, extra = divmod(n, chunks)
    out = []
    start = 0
    for k in range(chunks):
        stop = start + size + (1 if k < extra else 0)
        out.append((start, stop))
        start = stop
    return out


def map_chunks(
    fn: Callable[[Sequence[T]], list[R]], items: Sequence[T], *, min_items: int
) -> list[R]:
    """``fn(items)``, computed over chunks in forked worker processes when that pays off.

    ``fn`` must map a sequence of items to one result per item, in order, and depend on
    nothing but its argument and state that exists before the call (the workers see the
    parent's memory as it was when the pool forked).

    Args:
        fn: Computes results for a contiguous slice of ``items``.
        items: The inputs; sliced, never copied.
        min_items: Below this many items the call runs serially in this process.

    Returns:
        ``fn(items)``: one result per item, in order.

    >>> map_chunks(lambda xs: [x * x for x in xs], list(range(5)), min_items=1000)
    [0, 1, 4, 9, 16]
    """
    n = len(items)
    workers = min(worker_count(), n // max(min_items // 2, 1))
    if n < min_items or workers < 2 or not _can_fork():
        return fn(items)
    if not _LOCK.acquire(blocking=False):
        return fn(items)
    global _WORK
    try:
        _WORK = (fn, items)
        chunks = _bounds(n, min(n, workers * CHUNKS_PER_WORKER))
        try:
            with warnings.catch_warnings():
                # Python >= 3.12 warns when a process with threads forks; see the module doc.
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx = multiprocessing.get_context("fork")
                with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                    parts = list(pool.map(_run_chunk, chunks))
        except BrokenProcessPool:
            return fn(items)
    finally:
        _WORK = None
        _LOCK.release()
    out: list[R] = []
    for part in parts:
        out.extend(part)
    return out
