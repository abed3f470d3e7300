"""The Ray executor: batches served and scored by worker actors on a Ray cluster.

``evalkit run SUITE --executor ray`` starts a local Ray instance (``--ray-workers`` CPUs, no
dashboard) or, with ``--ray-address``, joins a running cluster. The driver (the ``evalkit``
process) keeps everything that makes a run a record: it cuts the batches, looks them up in the
response cache, writes every completed batch to ``samples.jsonl`` and computes the results.
The workers do the expensive part: the adapter call for the requests the cache did not answer
and the per-sample statistics. Since results are computed from the record in dataset order,
a suite gives the same ``results.json`` values on either executor.

**One actor per worker.** Each worker is a Ray actor holding one replica of each model the
suite uses. It builds an adapter from its spec (``hf:PATH``, ``python:FILE.py:FN``...) the
first time a batch needs it, so a local model's weights load once per worker, in the worker;
an adapter given to :func:`~evalkit.runner.run_suite` as an object (no spec) is shipped to each
worker once through the object store. At most :data:`IN_FLIGHT_PER_WORKER` batches wait on a
worker at a time, which also bounds an HTTP adapter's concurrency to ``workers x
max_concurrency`` requests.

**Placement.** Workers are placed with Ray's ``SPREAD`` strategy: on a cluster they go to
as many nodes as there are workers (round-robin over the nodes with room), so that each worker
has a node's CPUs, memory and network to itself instead of crowding the first node; on a local
instance (one node) nothing changes. ``results.json`` records how many nodes the workers ran on
(``executor.nodes``).

**Order.** Batches finish in any order, but the driver hands them to the runner in input order
(a finished batch waits for the ones before it), so ``samples.jsonl`` is line for line the local
executor's (the ``cached`` flags aside), and a killed run's record is a prefix of it, which
``--resume`` completes in order.

**Failures.** A worker process that dies (killed, out of memory, its node lost) takes the
batches queued on it with it; none of their lines was written, because the driver writes a
batch only once its result has arrived. The driver starts a new worker in its place (Ray's
own actor restarts and task retries are off, so that the driver knows exactly what was lost)
and submits the lost batches again, each at most :data:`MAX_BATCH_ATTEMPTS` times in all and
each alone on an idle worker (another one when there is one), so that a batch that kills its
worker takes no other batch down with it a second time; every sample is recorded exactly once.
``results.json`` records the numbers (``executor.lost_workers``, ``executor.retried_batches``).
A batch that keeps killing its workers ends the run with a RunError once the batches ahead of it
have finished and been written (later ones are dropped); more than :data:`MAX_LOST_PER_WORKER`
lost workers per worker of the pool end it at once. Either way the samples written so far
stay, and ``--resume`` continues. An error raised by an adapter or a metric inside a worker
(bad input, a missing asset) is raised on the driver as itself, as on the local executor.

Ray is imported only here, and only when this executor is built.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from evalkit import _env
from evalkit.adapters import ModelAdapter, build_adapter
from evalkit.cache import ResponseCache
from evalkit.errors import ConfigError, EvalkitError, RunError
from evalkit.executors.base import (
    Batch,
    Executor,
    TaskSlot,
    fill,
    judge_batch,
    lookup,
    score_batch,
)
from evalkit.suite import ExecutorSpec, Task
from evalkit.types import GenerateRequest, Generation, Sample

__all__ = [
    "IN_FLIGHT_PER_WORKER",
    "MAX_BATCH_ATTEMPTS",
    "MAX_LOST_PER_WORKER",
    "REORDER_PER_WORKER",
    "RayExecutor",
]

#: Batches queued on one worker at a time: one running, one ready to start when it finishes.
IN_FLIGHT_PER_WORKER = 2
#: Lost workers (per worker of the pool) that the driver replaces before it stops the run.
MAX_LOST_PER_WORKER = 3
#: Finished batches (per worker) that may wait for an earlier, slower one before submitting stops.
REORDER_PER_WORKER = 8
#: Submissions of one batch (the first and the retries) before the run gives up.
MAX_BATCH_ATTEMPTS = 4

_INSTALL = "pip install 'evalkit[ray]' (or pip install ray)"


def import_ray() -> Any:
    """Import Ray, or raise a ConfigError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            f"the ray executor needs Ray, which is not installed: {_INSTALL}; "
            "or run with --executor local."
        ) from None
    return ray


class _Worker:
    """The body of a worker actor: builds adapters lazily, serves and scores batches.

    Args:
        setup: ``tasks`` (name -> Task), ``task_model`` (task name -> model key) and ``models``
            (model key -> ``(spec, options, adapter)``, where ``adapter`` is None when the
            worker builds it from ``spec``).
    """

    def __init__(self, setup: dict[str, Any]) -> None:
        # A worker holds one CPU: its statistics stay in its process (no forked metric pool,
        # evalkit.metrics._parallel), as Ray keeps its math libraries to one thread.
        os.environ[_env.WORKERS] = "1"
        self._tasks: dict[str, Task] = setup["tasks"]
        self._task_model: dict[str, str] = setup["task_model"]
        self._models: dict[str, tuple[str | None, dict[str, Any], ModelAdapter | None]] = setup[
            "models"
        ]
        self._built: dict[str, ModelAdapter] = {}

    def pid(self) -> int:
        """The worker's process id (tests kill it to simulate a lost worker)."""
        return os.getpid()

    def node(self) -> str:
        """The id of the Ray node this worker runs on."""
        import ray

        return str(ray.get_runtime_context().get_node_id())

    def _adapter(self, task: str) -> ModelAdapter:
        key = self._task_model[task]
        if key not in self._built:
            spec, options, shipped = self._models[key]
            if shipped is not None:
                self._built[key] = shipped
            else:
                if spec is None:  # pragma: no cover - the driver ships an object instead
                    raise RunError(f"model {key} came with neither a spec nor an adapter.")
                self._built[key] = build_adapter(spec, dict(options))
        return self._built[key]

    def process(
        self,
        task: str,
        samples: Sequence[Sample],
        requests: Sequence[GenerateRequest],
        known: Mapping[int, Generation],
        score: bool = True,
    ) -> tuple[list[dict[str, Any]] | list[Generation], dict[int, Generation]]:
        """Record lines of one batch, and the generations that did not come from the cache.

        With ``score=False`` (a task with judge metrics, judged and scored on the driver, where
        the response cache is) the batch's generations instead of its lines.
        """
        gens, fresh = fill(self._adapter(task), requests, known)
        if not score:
            return gens, fresh
        return score_batch(self._tasks[task], samples, requests, gens), fresh


class RayExecutor(Executor):
    """Serve and score batches on Ray worker actors (see the module docstring).

    Args:
        spec: ``address`` (None: a new local Ray instance, or the cluster named by
            ``$RAY_ADDRESS``), ``workers`` (default: the CPUs of the local instance or of the
            cluster), ``gpus_per_worker`` and ``runtime_env`` (for a cluster whose workers need
            evalkit, files or environment variables shipped to them).

    Raises:
        ConfigError: Ray is not installed.
    """

    kind: ClassVar[str] = "ray"

    def __init__(self, spec: ExecutorSpec) -> None:
        self._ray = import_ray()
        self.spec = spec
        self._owns_ray = False
        self._actors: list[Any] = []
        self._actor_cls: Any = None
        self._setup: Any = None
        self.workers = 0
        self.retried_batches = 0
        self.lost_workers = 0
        #: Replies of every worker's ``node()`` call, read once the run is over.
        self._node_refs: list[Any] = []
        self.nodes: set[str] = set()

    # -- cluster ------------------------------------------------------------------------------

    def _connect(self) -> None:
        ray = self._ray
        spec = self.spec
        if ray.is_initialized():  # a notebook or test that started Ray keeps it
            if spec.address is not None:
                raise ConfigError(
                    f"--ray-address {spec.address}: this process is already connected to a Ray "
                    "cluster; leave out the address to use that one."
                )
        else:
            common: dict[str, Any] = {"logging_level": logging.WARNING}
            if spec.runtime_env is not None:
                common["runtime_env"] = dict(spec.runtime_env)
            address = spec.address or os.environ.get("RAY_ADDRESS")
            try:
                if address:
                    ray.init(address=address, **common)
                else:
                    cpus = spec.workers or _local_cpus()
                    ray.init(
                        address="local",
                        num_cpus=max(cpus, 1),
                        num_gpus=None if spec.gpus_per_worker else 0,
                        include_dashboard=False,
                        **common,
                    )
            except ConnectionError as exc:
                raise ConfigError(
                    f"cannot connect to the Ray cluster at {address}: {exc}; check --ray-address "
                    "(host:6379, ray://host:10001 or auto)."
                ) from None
            self._owns_ray = True
        self.workers = self.spec.workers or self._cluster_workers()

    def _cluster_workers(self) -> int:
        resources = self._ray.cluster_resources()
        if self.spec.gpus_per_worker:
            return max(int(resources.get("GPU", 0) // self.spec.gpus_per_worker), 1)
        return max(int(resources.get("CPU", 1)), 1)

    def _start_actors(self, slots: Mapping[str, TaskSlot]) -> None:
        ray = self._ray
        keys: dict[int, str] = {}
        models: dict[str, tuple[str | None, dict[str, Any], ModelAdapter | None]] = {}
        task_model: dict[str, str] = {}
        for name, slot in slots.items():
            key = keys.setdefault(id(slot.adapter), f"m{len(keys)}")
            task_model[name] = key
            obj = None if slot.spec is not None else slot.adapter
            models[key] = (slot.spec, dict(slot.options), obj)
        tasks = {name: slot.task for name, slot in slots.items()}
        # One copy in the object store; each actor (and each replacement) reads it from there.
        self._setup = ray.put({"tasks": tasks, "task_model": task_model, "models": models})
        self._actor_cls = ray.remote(
            num_cpus=1,
            num_gpus=self.spec.gpus_per_worker or 0,
            # The driver replaces a lost worker and submits its batches again itself, so that
            # it knows (and records) exactly what was lost.
            max_restarts=0,
            max_task_retries=0,
            # One worker per node first (see the module docstring); a no-op on one node.
            scheduling_strategy="SPREAD",
        )(_Worker)
        self._actors = [self._actor_cls.remote(self._setup) for _ in range(self.workers)]
        # Asked now, read at the end: waiting here would hold the first batches back.
        self._node_refs = [a.node.remote() for a in self._actors]

    def _replace(self, index: int) -> None:
        """Start a new worker in place of the lost one at ``index``."""
        with contextlib.suppress(Exception):  # it is dead already; make sure it stays so
            self._ray.kill(self._actors[index], no_restart=True)
        self._actors[index] = self._actor_cls.remote(self._setup)
        self._node_refs.append(self._actors[index].node.remote())

    def _read_nodes(self) -> None:
        """Collect the nodes the workers ran on (a lost worker's reply may be lost with it)."""
        for ref in self._node_refs:
            with contextlib.suppress(Exception):
                self.nodes.add(str(self._ray.get(ref, timeout=30)))
        self._node_refs = []

    def worker_pids(self) -> list[int]:
        """Process ids of the worker actors (for tests and diagnostics)."""
        return [int(p) for p in self._ray.get([a.pid.remote() for a in self._actors])]

    # -- running ------------------------------------------------------------------------------

    def run(
        self,
        batches: Iterable[Batch],
        slots: Mapping[str, TaskSlot],
        cache: ResponseCache | None,
    ) -> Iterator[tuple[Batch, list[dict[str, Any]]]]:
        ray = self._ray
        from ray.exceptions import (
            ObjectLostError,
            OutOfMemoryError,
            RayActorError,
            RayTaskError,
            WorkerCrashedError,
        )

        # A worker killed by Ray's memory monitor (the node ran low on memory, often because of
        # other processes) is a lost worker too: replaced, and its batches submitted again.
        lost = (RayActorError, WorkerCrashedError, ObjectLostError, OutOfMemoryError)
        source = iter(batches)
        first = next(source, None)
        if first is None:  # nothing pending (a finished run resumed): do not start Ray at all
            return
        self._connect()
        self._start_actors(slots)
        # (sequence number, batch, attempt, worker to avoid)
        todo: deque[tuple[int, Batch, int, int | None]] = deque([(0, first, 1, None)])
        drawn = 1
        load = [0] * len(self._actors)
        # Workers running a batch that lost its worker before: nothing else is queued on them.
        alone = [False] * len(self._actors)
        # object ref -> (sequence number, batch, actor index, actor handle, cache keys, attempt)
        running: dict[Any, tuple[int, Batch, int, Any, list[str], int]] = {}
        # Finished batches wait here until every batch before them is handed back, so that the
        # record is written in input order: line for line the local executor's, and a prefix
        # of it when the run is killed (resume then appends the rest in order too).
        done: dict[int, tuple[Batch, list[dict[str, Any]]]] = {}
        next_out = 0
        reorder_limit = REORDER_PER_WORKER * len(self._actors)
        exhausted = False
        # A batch that lost its worker too often stops the run, but not before the batches
        # ahead of it have finished and been handed back: they were computed (or are being
        # computed) already, and the record must keep them. Batches after it are dropped.
        fatal: RunError | None = None
        stop = -1  # the failed batch's sequence number, once there is one
        while True:
            while True:
                # New batches wait while too many finished ones wait for an earlier one; lost
                # batches (the earlier ones, among them) are always submitted again.
                if not todo and not exhausted and fatal is None and len(done) < reorder_limit:
                    nxt = next(source, None)
                    if nxt is None:
                        exhausted = True
                    else:
                        todo.append((drawn, nxt, 1, None))
                        drawn += 1
                if not todo:
                    break
                seq, batch, attempt, avoid = todo[0]
                a = self._pick(load, alone, retry=attempt > 1, avoid=avoid)
                if a is None:
                    break  # no worker free for it: wait for one
                todo.popleft()
                slot = slots[batch.task.name]
                use = cache if slot.adapter.cacheable else None
                keys, hits = lookup(use, slot.info, batch.requests)
                actor = self._actors[a]
                ref = actor.process.remote(
                    batch.task.name, batch.samples, batch.requests, hits, not slot.judges
                )
                running[ref] = (seq, batch, a, actor, keys, attempt)
                load[a] += 1
                alone[a] = attempt > 1
            if fatal is not None and not any(r[0] < stop for r in running.values()):
                raise fatal  # every batch before the failed one has been handed back
            if not running:
                self._read_nodes()
                return
            [ref], _ = ray.wait(list(running), num_returns=1)
            seq, batch, a, actor, keys, attempt = running.pop(ref)
            if self._actors[a] is actor:
                load[a] -= 1
                alone[a] = False
            try:
                lines, fresh = ray.get(ref)
            except RayTaskError as exc:  # raised by the adapter or a metric: not a lost worker
                cause = getattr(exc, "cause", None)
                if isinstance(cause, EvalkitError):
                    raise cause from None
                raise RunError(
                    f"task '{batch.task.name}': a Ray worker failed on a batch: {exc}"
                ) from None
            except lost as exc:
                if self._actors[a] is actor:  # the first news of this loss: replace the worker
                    self.lost_workers += 1
                    if self.lost_workers > MAX_LOST_PER_WORKER * len(self._actors):
                        raise RunError(
                            f"{self.lost_workers} Ray workers were lost; stopping. The samples "
                            "written so far are kept: --resume continues the run. Last error: "
                            f"{type(exc).__name__}: {exc}"
                        ) from None
                    self._replace(a)
                    load[a] = 0  # the new worker has nothing queued; the old one's batches
                    alone[a] = False  # come back here as lost, one by one
                if fatal is not None and seq > stop:
                    continue  # after the failed batch: dropped anyway
                if attempt >= MAX_BATCH_ATTEMPTS:
                    fatal = RunError(
                        f"task '{batch.task.name}': a batch of {len(batch)} samples (first id "
                        f"'{batch.samples[0].id}') lost its Ray worker {attempt} times; the "
                        "samples written so far are kept: --resume continues the run. Last "
                        f"error: {type(exc).__name__}: {exc}"
                    )
                    stop = seq
                    todo = deque(t for t in todo if t[0] < stop)
                    continue
                self.retried_batches += 1
                todo.appendleft((seq, batch, attempt + 1, a))  # later batches wait for it
                continue
            if fatal is not None and seq > stop:
                continue  # finished, but after the failed batch: it cannot be written in order
            if keys and fresh:
                use = cache if slots[batch.task.name].adapter.cacheable else None
                if use is not None:
                    use.put_many([(keys[i], g) for i, g in fresh.items()])
            judges = slots[batch.task.name].judges
            if judges:  # the worker served the batch; the judges are asked here, with the cache
                gens = lines
                judged = judge_batch(batch.task, batch.samples, batch.requests, gens, judges, cache)
                lines = score_batch(batch.task, batch.samples, batch.requests, gens, judged)
            done[seq] = (batch, lines)
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1

    @staticmethod
    def _pick(load: list[int], alone: list[bool], retry: bool, avoid: int | None) -> int | None:
        """The worker for the next batch, or None when none can take it now.

        A first submission goes to the least busy worker with room in its queue. A batch that
        lost its worker runs alone on an idle worker (another one than before, when there is
        one): when several batches go down with a worker nobody can tell which of them killed
        it (even one that had finished may lose its result), so each gets a run of its own, and
        a batch that keeps killing workers is soon the only one charged for it.
        """
        if retry:
            free = [i for i, n in enumerate(load) if n == 0]
        else:
            free = [i for i, n in enumerate(load) if n < IN_FLIGHT_PER_WORKER and not alone[i]]
        if not free:
            return None
        return min(free, key=lambda i: (i == avoid, load[i]))

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "address": self.spec.address or os.environ.get("RAY_ADDRESS") or "local",
            "workers": self.workers,
            "retried_batches": self.retried_batches,
            "lost_workers": self.lost_workers,
            "nodes": len(self.nodes),
            "ray": str(getattr(self._ray, "__version__", "")),
        }

    def close(self) -> None:
        ray = self._ray
        actors, self._actors = self._actors, []
        for actor in actors:
            with contextlib.suppress(Exception):  # already gone: nothing left to release
                ray.kill(actor, no_restart=True)
        if self._owns_ray:
            self._owns_ray = False
            ray.shutdown()  # stops a local instance; only disconnects from a cluster


def _local_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1
