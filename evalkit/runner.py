"""Run a suite against a model: samples -> requests -> cached adapter calls -> stats -> record.

The record is written as the run goes: ``samples.jsonl`` gets one flushed line per sample after
every batch, so a killed run loses at most the batch in flight, and ``--resume`` finishes it
without scoring any sample twice. Results are computed from the record in dataset order, so an
interrupted-and-resumed run gives exactly the numbers of an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gc
import json
import math
import platform
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit._io import DISK_FULL_ERRNOS, WriteError
from evalkit._version import __version__
from evalkit.adapters import ModelAdapter, build_adapter
from evalkit.adapters.predictions import PredictionsAdapter
from evalkit.cache import ResponseCache
from evalkit.data.samples import Dataset, load_dataset
from evalkit.errors import ConfigError, InputError, RunError
from evalkit.executors import Batch, JudgeSlot, TaskSlot, make_executor, merge_specs
from evalkit.executors.passages import with_passages
from evalkit.gates import check_gates, gates_failed
from evalkit.metrics.base import package_version
from evalkit.records import RunHeader, SampleLine, check_for_write
from evalkit.stats import bootstrap_ci, interval_method, task_rng
from evalkit.store import (
    FORMAT_VERSION,
    RESULTS,
    SAMPLES,
    RunFolder,
    RunRecord,
    append_samples,
    as_read_back,
    iter_samples,
    load_run,
    portable_paths,
    read_header,
    sync_samples,
    write_json_atomic,
)
from evalkit.suite import ExecutorSpec, Suite, Task, load_suite
from evalkit.types import GenerateRequest, MetricResult, Sample, evolve


@dataclass
class RunOptions:
    """Settings of one run that are not part of the suite."""

    limit: int | None = None
    seed: int | None = None
    resume: bool = False
    #: Replace the run in ``out``: the new run is built beside it and swapped in once it has
    #: saved samples, so a run that fails to start leaves the old one intact.
    overwrite: bool = False
    use_cache: bool = True
    cache_path: Path | None = None
    progress: bool = False
    batch_size: int | None = None
    model_options: dict[str, Any] = field(default_factory=dict)
    baseline: Path | None = None
    labels: dict[str, str] = field(default_factory=dict)
    #: Where batches run: ``"local"``, ``"ray"`` or an ExecutorSpec (overrides the suite's
    #: ``executor:`` field by field); None: the suite's, else local.
    executor: ExecutorSpec | str | None = None


#: Seconds between two flushes of ``samples.jsonl`` to disk. Every batch's lines are written
#: at once (a killed process loses none of them); forcing them to the disk after every batch
#: (an ``fsync`` of several milliseconds) cost more than scoring a predictions file.
SYNC_INTERVAL_S = 1.0

#: The stages of :attr:`RunOutcome.timings`, in the order a run goes through them.
STAGES = ("load", "adapter", "judge", "scoring", "record", "aggregate", "bootstrap", "reports")


@dataclass
class RunOutcome:
    """What ``run_suite`` returns: the record on disk and the exit code it implies.

    Attributes:
        path: The run directory.
        header: ``results.json`` as written.
        exit_code: 0, or 1 when a gate failed.
        timings: Wall-clock seconds of each stage of this call (:data:`STAGES`: reading the
            suite, data and predictions; the adapter calls, with cache look-ups; the judge
            calls of judge metrics; the per-sample statistics; validating and writing
            ``samples.jsonl``; reading it back and aggregating; the bootstrap intervals;
            results.json, the run index and the reports) and ``total``. Executors that serve
            batches elsewhere (Ray) report the adapter calls and the scoring together as
            ``adapter``; tasks with judge metrics are judged and scored in this process. Not
            part of the record: timings differ between two runs of the same suite.
    """

    path: Path
    header: dict[str, Any]
    exit_code: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def results(self) -> list[dict[str, Any]]:
        """The tidy result rows."""
        return list(self.header.get("results", []))


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _render_prompt(
    task: Task, dataset: Dataset, sample: Sample, template: str | None = None
) -> str:
    try:
        return (task.spec.prompt if template is None else template).format(**sample.inputs)
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(
            f"{dataset.path}: sample '{sample.id}': the prompt template of task '{task.name}' "
            f"cannot be filled ({type(exc).__name__}: {exc})."
        ) from None


def _requests(task: Task, dataset: Dataset, seed: int) -> list[GenerateRequest]:
    gen = task.spec.generation
    # The fields every request of the task shares, computed once rather than per sample.
    shared: dict[str, Any] = {
        "task": task.name,
        "max_tokens": gen.max_tokens,
        "temperature": gen.temperature,
        "stop": tuple(gen.stop),
        "seed": gen.seed if gen.seed is not None else seed,
        "kind": task.request_kind,
        "options": task.request_options,
        "n": gen.n,
    }
    template, continuation = task.spec.prompt, task.spec.continuation
    variants = task.spec.prompt_variants
    # Only multiple-choice metrics build continuations; the others' requests have none.
    builds = any(e.metric.builds_continuations for e in task.metrics)
    # Each request is this one with its sample's fields (evolve: cheaper than __init__).
    proto = GenerateRequest(prompt="", **shared)
    out = []
    for s in dataset.samples:
        try:
            prompt = template.format_map(s.inputs)
        except (KeyError, IndexError, ValueError, TypeError):
            prompt = _render_prompt(task, dataset, s)  # raises the error that names the sample
        out.append(
            evolve(
                proto,
                prompt=prompt,
                sample_id=s.id,
                continuation=None
                if continuation is None
                else _render_prompt(task, dataset, s, continuation),
                variants=tuple(_render_prompt(task, dataset, s, v) for v in variants)
                if variants
                else (),
                continuations=task.continuations(s) if builds else (),
            )
        )
    return out


def _versions(suite: Suite) -> dict[str, str]:
    versions = {"evalkit": __version__, "python": platform.python_version()}
    for pkg in ("numpy",):
        versions[pkg] = package_version(pkg)
    for task in suite.tasks:
        for entry in task.metrics:
            for pkg in entry.metric.reference_packages:
                versions[pkg] = package_version(pkg)
    return versions


def _identity(
    suite: Suite,
    datasets: dict[str, Dataset],
    model: str,
    info: dict[str, Any],
    opts: RunOptions,
    seed: int,
) -> dict[str, Any]:
    """What must match for ``--resume`` to continue a run."""
    return {
        "suite_fingerprint": suite.fingerprint(),
        "datasets": {k: d.sha256 for k, d in datasets.items()},
        "model": model,
        "model_info": info,
        "seed": seed,
        "limit": opts.limit,
    }


def _count_warnings(lines: Iterable[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """``{metric key: {message: number of samples}}`` from the record lines' warnings."""
    out: dict[str, dict[str, int]] = {}
    for ln in lines:
        warnings = ln.get("warnings")
        if not warnings:  # most lines: no dict to walk
            continue
        for key, message in warnings.items():
            bucket = out.setdefault(key, {})
            bucket[message] = bucket.get(message, 0) + 1
    return out


def _finite(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def compute_results(
    suite: Suite,
    datasets: dict[str, Dataset],
    lines: Iterable[dict[str, Any]],
    seed: int,
    timings: dict[str, float] | None = None,
) -> tuple[list[MetricResult], list[dict[str, Any]]]:
    """Aggregate record lines into tidy rows, in dataset order, with seeded bootstrap CIs.

    ``timings``, when given, gets the seconds spent in the bootstrap added to ``bootstrap``.
    """
    boot_s = 0.0
    # {task: {id: line}}: the last line of a sample wins, as in one {(task, id): line} map.
    by_task: dict[str, dict[str, dict[str, Any]]] = {}
    for ln in lines:
        task_lines = by_task.get(ln["task"])
        if task_lines is None:
            task_lines = by_task[ln["task"]] = {}
        task_lines[ln["id"]] = ln
    rows: list[MetricResult] = []
    task_info: list[dict[str, Any]] = []
    boot = suite.spec.bootstrap
    for task in suite.tasks:
        ds = datasets[task.name]
        found = map((by_task.get(task.name) or {}).get, [s.id for s in ds.samples])
        done = [ln for ln in found if ln is not None]
        ok = [ln for ln in done if ln["error"] is None]
        n_err = len(done) - len(ok)
        task_info.append(
            {
                "name": task.name,
                "dataset": ds.info(task.no_relevant),
                "n_samples": len(done),
                "n_errors": n_err,
                "cached": sum(1 for ln in done if ln.get("cached")),
                "metrics": {e.key: e.metric.signature() for e in task.metrics},
                "metric_params": {e.key: e.metric.params for e in task.metrics},
                "gates": [g.model_dump(exclude_defaults=True) for g in task.spec.gates],
                "warnings": _count_warnings(ok),
            }
        )
        for entry in task.metrics:
            stats = [ln["stats"][entry.key] for ln in ok]
            values = entry.metric.aggregate(stats)
            started = time.perf_counter()
            cis = bootstrap_ci(
                entry.metric,
                stats,
                resamples=boot.resamples,
                confidence=boot.confidence,
                rng=task_rng(seed, task.name, entry.key),
                estimates=values,
            )
            boot_s += time.perf_counter() - started
            for name in entry.metric.value_names():
                lo, hi = _finite(cis[name][0]), _finite(cis[name][1])
                rows.append(
                    MetricResult(
                        task=task.name,
                        metric=name,
                        value=_finite(values[name]),  # type: ignore[arg-type]
                        ci_low=lo,
                        ci_high=hi,
                        ci_method=(
                            None
                            if lo is None or hi is None
                            else interval_method(entry.metric, name)
                        ),
                        n=len(ok),
                        n_errors=n_err,
                        higher_is_better=entry.metric.value_higher_is_better(name),
                        signature=entry.metric.signature(),
                        target=entry.metric.value_target(name),
                    )
                )
    if timings is not None:
        timings["bootstrap"] = timings.get("bootstrap", 0.0) + boot_s
    return rows, task_info


def run_suite(
    suite: Suite | str | Path,
    model: str | ModelAdapter | None,
    out: str | Path,
    options: RunOptions | None = None,
    **kwargs: Any,
) -> RunOutcome:
    """Run ``suite`` against ``model`` and write the run record into ``out``.

    Args:
        suite: A loaded suite or the path of a suite YAML file.
        model: An adapter spec (``predictions:preds.jsonl``...) or an adapter instance; None
            when every task names its own ``model:``.
        out: The run directory.
        options: Run settings; keyword arguments are accepted as a shorthand for its fields.

    Returns:
        The written record and the exit code it implies (0, or 1 when a gate failed).

    Raises:
        ConfigError, InputError: Bad suite, data, predictions or options (exit code 2), before
            any model call.
        RunError: Every model call failed (exit code 3); the record is still written.
    """
    started = time.perf_counter()
    opts = options or RunOptions(**kwargs)
    if opts.overwrite and opts.resume:
        raise ConfigError("--overwrite and --resume exclude each other; pick one.")
    if not isinstance(suite, Suite):
        suite = load_suite(suite)
    timings = {"load": time.perf_counter() - started}
    if model is None:
        _check_task_models(suite, opts)
    progress = _Progress()
    # One writer per run folder: a second run, --resume or --overwrite of `out` fails here, at
    # once, before any dataset is read or any model loaded.
    with RunFolder(out, overwrite=opts.overwrite) as folder, _fewer_collections():
        try:
            outcome = _run_in(folder, suite, model, opts, progress, timings)
            timings["total"] = time.perf_counter() - started
            return outcome
        except KeyboardInterrupt:
            raise RunInterrupted(_kept(folder, progress, "interrupted")) from None
        except WriteError as exc:
            raise RunError(f"{exc} {_kept(folder, progress, '')}") from None
        except OSError as exc:
            if exc.errno not in DISK_FULL_ERRNOS:
                raise
            why = f"{exc.filename}: " if exc.filename else ""
            raise RunError(f"{why}{exc.strerror}. {_kept(folder, progress, '')}") from None


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Keep the cyclic garbage collector off the run's long-lived objects inside the block.

    A run builds several objects per sample that live to its end (the dataset, the requests,
    the statistics the bootstrap needs); CPython's collector walked them again at every
    older-generation collection (a quarter of an exact-match run's time at 100,000 samples,
    measured with ``gc.callbacks``). Inside the block the automatic collector is off and
    :func:`_settle` is called at stage ends and after each batch: it collects what is young
    (so cyclic garbage of a batch is still freed) and freezes the survivors, which no later
    collection walks. On the way out the frozen objects are unfrozen (when nothing was frozen
    before the run) and the collector is restored as it was.
    """
    enabled, frozen = gc.isenabled(), gc.get_freeze_count()
    gc.disable()
    try:
        yield
    finally:
        if not frozen:
            gc.unfreeze()
        if enabled:
            gc.enable()


def _settle() -> None:
    """Collect the young generation and freeze what survives (see :func:`_fewer_collections`).

    Called after every batch: each collection then walks only that batch's objects (measured
    faster than settling every 100,000 allocations, 6.2-6.5 s against 7.3-8.5 s for an
    exact-match run of 100,000 samples).
    """
    gc.collect(0)
    gc.freeze()


@dataclass
class _Progress:
    """How far the record got, for the message of an interrupted or failed run."""

    saved: int = 0
    total: int = 0


def _kept(folder: RunFolder, progress: _Progress, what: str) -> str:
    """One line: what is kept on disk, and how to finish the run."""
    lead = f"{what}: " if what else ""
    if folder.staged:
        return (
            f"{lead}no sample of the new run was saved; the previous run in {folder.target} is "
            "unchanged."
        )
    if not progress.total:
        return f"{lead}stopped before the run started; rerun the same command to start it."
    where = folder.target / SAMPLES
    if progress.saved >= progress.total:
        done = f"all {progress.total} samples are saved in {where}"
    else:
        done = f"{progress.saved} of {progress.total} samples are saved in {where}"
    fix = "rerun" if what else "then rerun"
    return f"{lead}{done}; {fix} with --resume --out {folder.target} to finish the run."


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; the message says what was saved and how to finish the run."""


def _check_task_models(suite: Suite, opts: RunOptions) -> None:
    """Without a run-level model, every task must name its own ``model:``."""
    missing = [t.name for t in suite.tasks if t.model is None]
    if missing:
        raise ConfigError(
            f"{suite.path}: task(s) {', '.join(missing)} name no `model:`; give --model SPEC "
            "(it serves every task without one) or add `model:` to each of them."
        )
    if opts.model_options:
        raise ConfigError(
            "--model-arg sets options of --model, which is not given; the tasks' own models "
            "take no options from the command line."
        )


def _run_in(
    folder: RunFolder,
    suite: Suite,
    model: str | ModelAdapter | None,
    opts: RunOptions,
    progress: _Progress,
    timings: dict[str, float],
) -> RunOutcome:
    """Run ``suite`` into a held run folder (the body of :func:`run_suite`).

    ``timings`` gets the seconds of each stage (:attr:`RunOutcome.timings`).
    """
    started = time.perf_counter()
    baseline = load_run(opts.baseline) if opts.baseline is not None else None
    seed = suite.spec.seed if opts.seed is None else opts.seed
    executor = make_executor(merge_specs(suite.spec.executor, opts.executor))
    datasets = {
        t.name: load_dataset(t.dataset_path, t.spec.dataset, t.templates, opts.limit)
        for t in suite.tasks
    }
    # Tasks that name their own model get their own adapter (one per distinct spec).
    own = {m: build_adapter(m) for m in dict.fromkeys(t.model for t in suite.tasks) if m}
    if model is None:  # every task names its own (_check_task_models): no run-level adapter
        adapter, spec, info = next(iter(own.values())), "tasks: " + ", ".join(own), {}
    else:
        adapter = build_adapter(model, opts.model_options) if isinstance(model, str) else model
        spec = model if isinstance(model, str) else f"{adapter.name}:<object>"
        info = adapter.info()
    adapters = {t.name: own[t.model] if t.model is not None else adapter for t in suite.tasks}
    infos = {name: a.info() for name, a in adapters.items()}
    # RAG tasks: each sample's passages, from the task's retriever, before any prompt is built.
    datasets = {t.name: with_passages(t, datasets[t.name]) for t in suite.tasks}
    requests = {t.name: _requests(t, datasets[t.name], seed) for t in suite.tasks}
    for t in suite.tasks:  # bad inputs fail here, before any model call
        for e in t.metrics:
            e.metric.check_samples(datasets[t.name].samples)
    for t in suite.tasks:
        a = adapters[t.name]
        if t.request_kind not in a.capabilities:
            raise ConfigError(
                f"task '{t.name}' needs '{t.request_kind}' requests, which adapter "
                f"{a.name} cannot serve (it offers {', '.join(sorted(a.capabilities))}); "
                "give the task its own `model:` or use another --model."
            )
    for a in {id(a): a for a in adapters.values()}.values():
        served = {t: r for t, r in requests.items() if adapters[t] is a}
        if isinstance(a, PredictionsAdapter):  # before prepare: a wrong id names its line
            _check_prediction_ids(a, served, suite, datasets, opts)
        a.prepare(served)
    task_models = {t.name: infos[t.name] for t in suite.tasks if t.model is not None}
    judges = _build_judges(suite)

    out_dir = folder.path
    identity = _identity(suite, datasets, spec, info, opts, seed)
    if task_models:
        identity["task_models"] = task_models
    if judges:  # a resumed run must ask the same judges
        identity["judges"] = {
            task: {key: j.info for key, j in by_key.items()} for task, by_key in judges.items()
        }
    header = _open_run_dir(out_dir, identity, suite, opts, seed)
    # The lines saved before (a resumed run), as compute_results reads them; the lines this
    # call writes are added as they are written, so finalize needs not read the record back.
    kept = [_result_fields(ln) for ln in iter_samples(out_dir / SAMPLES, repair=True)]
    done = {(ln["task"], ln["id"]) for ln in kept}

    cacheable = any(a.cacheable for a in adapters.values()) or any(
        j.adapter.cacheable for by_key in judges.values() for j in by_key.values()
    )
    cache = ResponseCache(opts.cache_path) if (opts.use_cache and cacheable) else None
    # A batch size the user set (option or suite) wins; else a replay adapter's own, else the
    # suite's default.
    chosen = opts.batch_size or (
        suite.spec.batch_size if "batch_size" in suite.spec.model_fields_set else None
    )
    sizes = {
        t.name: chosen or adapters[t.name].replay_batch_size or suite.spec.batch_size
        for t in suite.tasks
    }
    pending = {
        t.name: [i for i, s in enumerate(datasets[t.name].samples) if (t.name, s.id) not in done]
        for t in suite.tasks
    }
    total = sum(len(v) for v in pending.values())
    progress.total = sum(len(d.samples) for d in datasets.values())
    progress.saved = progress.total - total
    if cache is not None:
        _label_cache(cache, suite, adapters, infos, requests, pending, spec)
    slots = {
        t.name: TaskSlot(
            task=t,
            adapter=adapters[t.name],
            info=infos[t.name],
            spec=t.model or (model if isinstance(model, str) else None),
            options={} if t.model is not None else dict(opts.model_options),
            judges=judges.get(t.name, {}),
        )
        for t in suite.tasks
    }

    for stage in STAGES[1:]:
        timings[stage] = 0.0
    timings["load"] += time.perf_counter() - started
    samples_path = folder.path / SAMPLES
    _settle()

    def batches() -> Iterator[Batch]:
        for task in suite.tasks:
            ds, reqs = datasets[task.name], requests[task.name]
            todo = pending[task.name]
            batch = sizes[task.name]
            for start in range(0, len(todo), batch):
                idx = todo[start : start + batch]
                yield Batch(task, tuple(ds.samples[i] for i in idx), tuple(reqs[i] for i in idx))

    from tqdm.auto import tqdm

    try:
        # The executor serves and scores the batches (in this process, or on Ray workers) and
        # hands back each batch's lines as it completes; only this process writes the record.
        with (
            executor,
            tqdm(
                total=total,
                disable=not opts.progress,
                unit="sample",
                file=sys.stderr,
                desc=suite.name,
            ) as bar,
        ):
            waiting = time.perf_counter()
            last_sync = -math.inf  # the first batch is synced: --overwrite swaps it in
            unsynced = False
            for done_batch, lines in executor.run(batches(), slots, cache):
                now = time.perf_counter()
                timings["adapter"] += now - waiting
                check_for_write(SampleLine, lines, samples_path)
                kept.extend(_as_read(lines))
                # Written at once, forced to disk about once a second (SYNC_INTERVAL_S).
                sync = now - last_sync >= SYNC_INTERVAL_S
                append_samples(samples_path, lines, sync=sync)
                unsynced = not sync
                if sync:
                    last_sync = now
                progress.saved += len(lines)
                # An --overwrite replaces the old run once the new one has saved samples.
                folder.commit()
                samples_path = folder.path / SAMPLES  # the staged path, until it is swapped in
                bar.update(len(done_batch))
                _settle()
                waiting = time.perf_counter()
                timings["record"] += waiting - now
            if unsynced:
                sync_samples(samples_path)
                timings["record"] += time.perf_counter() - waiting
        header["executor"] = executor.describe()
    finally:
        if cache is not None:
            cache.close()
    # The local executor splits its time between the adapter and the scoring.
    split = getattr(executor, "timings", None)
    if split:
        for stage in ("scoring", "judge"):
            timings[stage] = min(split.get(stage, 0.0), timings["adapter"])
            timings["adapter"] -= timings[stage]
    # Whether this session could use the cache; finalize adds the hits counted in the record.
    header["cache"] = {"enabled": cache is not None and cache.usable}
    folder.commit()
    outcome = finalize(folder.path, suite, datasets, header, seed, baseline, timings, kept)
    outcome.timings = timings
    if opts.progress and outcome.header["cache"]["enabled"]:
        print(_cache_line(outcome.header), file=sys.stderr, flush=True)
    return outcome


#: Judge adapter settings that do not change a verdict: left out of the metric signature.
_JUDGE_TRANSPORT = frozenset(
    {"base_url", "max_concurrency", "timeout_s", "max_attempts", "backoff_base_s", "backoff_max_s"}
)


def _build_judges(suite: Suite) -> dict[str, dict[str, JudgeSlot]]:
    """The judge adapter of every judge metric, by task and metric key (one per judge spec).

    Each metric is told its judge's identity (:meth:`~evalkit.metrics.base.Metric.bind_judge`),
    so that the signature of its results names the judge.
    """
    built: dict[str, JudgeSlot] = {}
    out: dict[str, dict[str, JudgeSlot]] = {}
    for task in suite.tasks:
        for entry in task.metrics:
            try:
                judge = entry.metric.judge_model()
            except ConfigError as exc:
                raise ConfigError(f"{entry.where}: {exc}") from None
            if judge is None:
                continue
            spec, options = judge
            key = json.dumps([spec, options], sort_keys=True, default=str)
            if key not in built:
                try:
                    adapter = build_adapter(spec, options)
                except ConfigError as exc:
                    raise ConfigError(f"{entry.where}: the judge model {spec}: {exc}") from None
                if "generate" not in adapter.capabilities:
                    raise ConfigError(
                        f"{entry.where}: the judge model {spec} cannot generate text (it offers "
                        f"{', '.join(sorted(adapter.capabilities))})."
                    )
                built[key] = JudgeSlot(adapter=adapter, info=adapter.info())
            slot = built[key]
            entry.metric.bind_judge(
                {k: v for k, v in slot.info.items() if k not in _JUDGE_TRANSPORT}
            )
            out.setdefault(task.name, {})[entry.key] = slot
    return out


def _check_prediction_ids(
    adapter: PredictionsAdapter,
    requests: dict[str, list[GenerateRequest]],
    suite: Suite,
    datasets: dict[str, Dataset],
    opts: RunOptions,
) -> None:
    """Refuse a predictions file with ids the datasets lack; note the ids cut by a limit."""
    ids = {t.name: _all_ids(t, datasets[t.name], opts) for t in suite.tasks if t.name in requests}
    note = adapter.check_ids(requests, ids)
    if note is not None:
        print(f"warning: {note}", file=sys.stderr, flush=True)


def _all_ids(task: Task, dataset: Dataset, opts: RunOptions) -> list[str]:
    """Every sample id of the task's dataset file, also those past the sample limit."""
    ids = [s.id for s in dataset.samples]
    limits = [x for x in (task.spec.dataset.limit, opts.limit) if x is not None]
    if not limits or len(ids) < min(limits):
        return ids  # the whole file was read
    # Only the ids are needed: no prompt, references or qrels checks past the limit.
    spec = task.spec.dataset.model_copy(update={"limit": None, "references": None, "qrels": None})
    try:
        return [s.id for s in load_dataset(task.dataset_path, spec).samples]
    except InputError as exc:
        raise InputError(
            f"{exc} (read past the limit to check the ids of the predictions file)"
        ) from None


def _label_cache(
    cache: ResponseCache,
    suite: Suite,
    adapters: dict[str, ModelAdapter],
    infos: dict[str, dict[str, Any]],
    requests: dict[str, list[GenerateRequest]],
    pending: dict[str, list[int]],
    spec: str,
) -> None:
    """Tell the cache which adapter spec each pending request belongs to (for cache info)."""
    for t in suite.tasks:
        if adapters[t.name].cacheable:
            reqs = requests[t.name]
            cache.label(infos[t.name], (reqs[i] for i in pending[t.name]), t.model or spec)


def _cache_line(header: dict[str, Any]) -> str:
    """The console line that says how many of the record's samples came from the cache."""
    c = header["cache"]
    return (
        f"cache: {c['hits']} of {c['hits'] + c['misses']} samples came from the response cache "
        "(--no-cache calls the model for every sample)"
    )


def _open_run_dir(
    out_dir: Path, identity: dict[str, Any], suite: Suite, opts: RunOptions, seed: int
) -> dict[str, Any]:
    has_run = (out_dir / RESULTS).exists() or (out_dir / SAMPLES).exists()
    if has_run and not opts.resume:
        raise ConfigError(
            f"{out_dir}: already holds a run; pass --resume to finish it, or choose another --out."
        )
    identity = portable_paths(identity, suite.path.parent)
    if has_run:
        header = read_header(out_dir)
        if header.get("identity") != identity:
            old = header.get("identity") or {}
            diff = sorted(k for k in identity if old.get(k) != identity[k])
            raise ConfigError(
                f"{out_dir}: cannot resume: the run there differs in {', '.join(diff)}; "
                "resume with the same suite, data, model, seed and limit, or use another --out."
            )
        header["status"] = "running"
        header.setdefault("resumed_at", []).append(_now())
    else:
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        header = {
            "format_version": FORMAT_VERSION,
            "run_id": f"{stamp}-{uuid.uuid4().hex[:8]}",
            "status": "running",
            "suite": {
                "name": suite.name,
                # The suite file relative to the working directory (relative to its own
                # folder it would be a bare file name).
                "path": portable_paths(str(suite.path), None),
                "fingerprint": suite.fingerprint(),
            },
            "model": {"spec": identity["model"], "info": identity["model_info"]},
            "task_models": identity.get("task_models", {}),
            "seed": seed,
            "limit": opts.limit,
            "evalkit_version": __version__,
            "versions": _versions(suite),
            "created_at": _now(),
            "finished_at": None,
            "bootstrap": suite.spec.bootstrap.model_dump(),
            "identity": identity,
            "labels": dict(opts.labels),
            "tasks": [],
            "results": [],
        }
    _save_header(out_dir, header, suite)
    return header


def _save_header(out_dir: Path, header: dict[str, Any], suite: Suite) -> None:
    """Write ``results.json`` with local paths made relative (to the suite, else the cwd)."""
    header.update(portable_paths(header, suite.path.parent))
    check_for_write(RunHeader, [header], out_dir / RESULTS)  # checked, written as it is
    write_json_atomic(out_dir / RESULTS, header)


#: The fields of a record line that :func:`compute_results` reads.
_RESULT_FIELDS = ("task", "id", "error", "cached", "stats", "warnings")


def _result_fields(line: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``line`` that :func:`compute_results` reads (not the texts)."""
    return {k: line[k] for k in _RESULT_FIELDS if k in line}


def _as_read(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`_result_fields` of lines just written, equal to what reading them back gives.

    The statistics go through the record's JSON encoder and back (tuples become lists, NumPy
    values plain ones); the other fields are strings, None and booleans (checked by
    :class:`~evalkit.records.SampleLine` before the write), which JSON gives back as they are.

    >>> import numpy as np
    >>> _as_read([{"task": "t", "id": "1", "prompt": "p", "stats": {"m": (np.float64(1), 2)}}])
    [{'task': 't', 'id': '1', 'stats': {'m': [1.0, 2]}}]
    """
    out = [_result_fields(ln) for ln in lines]
    for ln, stats in zip(out, as_read_back([ln["stats"] for ln in out]), strict=True):
        ln["stats"] = stats
    return out


def finalize(
    out_dir: Path,
    suite: Suite,
    datasets: dict[str, Dataset],
    header: dict[str, Any],
    seed: int,
    baseline: RunRecord | None = None,
    timings: dict[str, float] | None = None,
    lines: list[dict[str, Any]] | None = None,
) -> RunOutcome:
    """Compute results from the record, write results.json and the reports.

    ``timings``, when given, gets the seconds of the ``aggregate``, ``bootstrap`` and
    ``reports`` stages added. ``lines``: the record's lines in file order as
    :func:`_result_fields` of them read back gives them (the runner keeps them as it writes
    them); None: read from ``samples.jsonl``.
    """
    started = time.perf_counter()
    times: dict[str, float] = {"bootstrap": 0.0}
    # Only what the results need stays in memory (the statistics, not the texts).
    if lines is None:
        lines = [_result_fields(ln) for ln in iter_samples(out_dir / SAMPLES)]
    rows, task_info = compute_results(suite, datasets, lines, seed, times)
    reporting = time.perf_counter()
    n_total = sum(t["n_samples"] for t in task_info)
    n_errors = sum(t["n_errors"] for t in task_info)
    hits = sum(t["cached"] for t in task_info)
    failed = n_total > 0 and n_errors == n_total
    header.update(
        {
            "status": "failed" if failed else "completed",
            "finished_at": _now(),
            "tasks": task_info,
            "counts": {"samples": n_total, "errors": n_errors},
            "cache": {**(header.get("cache") or {}), "hits": hits, "misses": n_total - hits},
            "results": [r.to_dict() for r in rows],
            "gates": [],
            "baseline": None
            if baseline is None
            else {"path": str(baseline.path), "run_id": baseline.header.get("run_id")},
        }
    )
    _save_header(out_dir, header, suite)  # results are safe before gates can fail
    # A paired gate against a baseline reads the whole record; the others read the results.
    record = RunRecord(out_dir, header, lines if baseline is None else [])
    if baseline is not None:
        record.samples = list(iter_samples(out_dir / SAMPLES))
    gates = [] if failed else check_gates(record, baseline)
    header["gates"] = gates
    _save_header(out_dir, header, suite)
    from evalkit.index import record_run
    from evalkit.report import write_reports

    record_run(out_dir, header)
    write_reports(out_dir)
    if timings is not None:
        finished = time.perf_counter()
        timings["bootstrap"] = timings.get("bootstrap", 0.0) + times["bootstrap"]
        aggregate = reporting - started - times["bootstrap"]
        timings["aggregate"] = timings.get("aggregate", 0.0) + aggregate
        timings["reports"] = timings.get("reports", 0.0) + finished - reporting
    if failed:
        raise RunError(
            f"every model call failed ({n_errors} of {n_total}); the errors are in "
            f"{out_dir / SAMPLES}. First error: "
            f"{next(ln['error'] for ln in lines if ln['error'])}"
        )
    exit_code = 1 if gates_failed(gates) else 0
    return RunOutcome(path=out_dir, header=header, exit_code=exit_code)
