"""Benchmark: an HTTP-bound suite on the Ray executor against the local executor.

Where ``bench/ray_executor.py`` shows that a CPU-bound suite cannot gain from Ray on the 2
cores the local executor already keeps busy, this one shows where Ray does pay: a suite whose
time is spent *waiting* for a model server. The server is the loopback OpenAI-compatible server
(:mod:`evalkit.testing.openai_server`) in a child process, with a fixed latency per request
(default 50 ms) standing in for model time; the suite is one task of ``size`` chat requests
(``openai:loopback``, ``max_tokens`` 32, temperature 0) scored with exact match and chrF, which
cost microseconds a sample. Each timed call is a whole ``run_suite`` into a fresh run directory
(record, results, reports; no bootstrap, response cache off, batches of
:data:`BATCH_SIZE`).

**What is compared, and why it is fair.** The ``openai:`` adapter keeps at most
``max_concurrency`` requests in flight, per adapter. The local executor has one adapter, so a
run at concurrency ``c`` takes about ``size x latency / c``. Each Ray worker builds its own
adapter with the same ``max_concurrency=c`` and serves its own batches, so ``W`` workers keep
``W x c`` requests in flight (the endpoint sees at most that many; see ``docs/ray.md``): the
gain of Ray here is *only* the multiplied concurrency, not faster requests. So the part ``pair``
(``--part pair``) has three rows at the same per-adapter setting ``c`` (default 4):

- ``local, concurrency c`` (the baseline of every ratio);
- ``ray, 2 workers x concurrency c`` on a local Ray instance with 2 CPUs: twice the requests in
  flight;
- ``local, concurrency 2c``: the honest alternative, the same number of requests in flight from
  one process, with no Ray at all. When one process can drive the endpoint (as here), raising
  ``max_concurrency`` gives the same gain; Ray is worth it when one process cannot (the GIL, a
  client's connection or CPU limits, metrics too slow to keep up) or when the workers should
  sit on other machines (nearer the servers, or with a server replica each).

The part ``scaling`` (``--part scaling``) runs the suite on a Ray cluster simulated on this
machine (:class:`ray.cluster_utils.Cluster`: a head node and further raylets, each with
``num_cpus=1``, so every worker has a node of its own and the executor's ``SPREAD`` placement
spreads them), with 1, 2, 4 and 8 workers at concurrency ``c`` each, against ``local,
concurrency c``. This process connects to the cluster once, before any timing (as the pair's
local instance is started once), and the executor uses that connection; joining by address
(``ExecutorSpec.address``, ``evalkit run --ray-address``) adds a ``ray.init`` of a second or
two per run and is what ``tests/bench/test_bench_ray_http.py`` exercises.

**Identical results.** Every case returns its ``results.json`` values and a digest of its
record: the tidy result rows and every ``samples.jsonl`` line (prompt, prediction, references,
statistics, errors; the record holds no timings, timestamps or process ids; ``cached`` is
``false`` everywhere with the cache off). The parity tolerance is 0, so a case whose record
differs in any byte of that stops the benchmark before anything is timed.

**What the timings hold.** The Ray instance (or the cluster) is started once, before any
timing, and its start-up is printed separately; starting the worker actors (each a new process
that imports evalkit) is inside every Ray call, as in every ``evalkit run --executor ray``. The
summary prints each row's speed-up (baseline time / row time), its requests per second and the
share of the ideal ``in-flight requests / latency``.

Usage::

    python bench/ray_http.py [--part pair|scaling|both] [--sizes 2048] [--repeats 1]
        [--latency-ms 50] [--concurrency 4] [--workers 1,2,4,8] [--json PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Case, Group, Row, Values, main, run_benchmark
from http_adapter import serve

__all__ = [
    "BATCH_SIZE",
    "LATENCY_S",
    "ClusterSim",
    "build_pair",
    "build_scaling",
    "record_digest",
    "run",
    "summary_table",
    "write_suite",
]

#: The server's fixed latency per request (a stand-in for model time).
LATENCY_S = 0.05
#: ``max_concurrency`` of every adapter (the local one and each Ray worker's).
CONCURRENCY = 4
#: Run batches: several waves of ``CONCURRENCY`` requests each, so a worker stays busy.
BATCH_SIZE = 32
WORKER_COUNTS = (1, 2, 4, 8)

_state: dict[str, Any] = {}


def write_suite(folder: Path, size: int, batch_size: int = BATCH_SIZE) -> Path:
    """A one-task suite of ``size`` chat requests; every third reference differs from the answer.

    The scripted backend answers a prompt in upper case, so exact match is 2/3 and chrF is
    below 100: results that a lost, duplicated or reordered sample would change.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "data.jsonl", "w", encoding="utf-8") as fh:
        for i in range(size):
            text = f"request {i} of the http benchmark, word {i % 97}"
            ref = text.upper() if i % 3 else f"REQUEST {i} OF THE HTTP BENCH"
            fh.write(json.dumps({"id": f"s{i:06d}", "text": text, "reference": ref}) + "\n")
    suite = folder / "suite.yaml"
    suite.write_text(
        f"name: bench-ray-http\nbatch_size: {batch_size}\nbootstrap: {{resamples: 0}}\n"
        "tasks:\n  - name: echo\n"
        "    dataset: {path: data.jsonl, id: id, references: reference}\n"
        '    prompt: "{text}"\n'
        "    generation: {max_tokens: 32, temperature: 0}\n"
        "    metrics:\n      - exact_match\n      - chrf\n",
        encoding="utf-8",
    )
    return suite


def record_digest(run_dir: Path) -> dict[str, float]:
    """Result values by ``task/metric``, plus ``record``: a digest of rows and sample lines.

    The digest is the first 52 bits of a SHA-256 as a float (exact in a double), so two runs
    agree under a parity tolerance of 0 only when their records are identical.
    """
    from evalkit.store import load_run

    run = load_run(run_dir)
    rows = list(run.header["results"])
    lines = list(run.samples)
    blob = json.dumps([rows, lines], sort_keys=True).encode("utf-8")
    out = {f"{r['task']}/{r['metric']}": float(r["value"]) for r in rows}
    out["record"] = float(int(hashlib.sha256(blob).hexdigest()[:13], 16))
    return out


def _case(
    suite: Path, url: str, root: Path, concurrency: int, executor: Any = None
) -> Callable[[], Values]:
    from evalkit.runner import RunOptions, run_suite

    def fn() -> Values:
        out = Path(tempfile.mkdtemp(prefix="run-", dir=root))
        try:
            opts = RunOptions(
                use_cache=False,
                model_options={"base_url": url, "max_concurrency": concurrency},
                executor=executor,
            )
            run_suite(suite, "openai:loopback", out, opts)
            return record_digest(out)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    return fn


def _server(latency_s: float) -> str:
    """The loopback server's URL (started once per process, in a child process)."""
    if "url" not in _state:
        ctx = serve(latency_s)
        _state["url"] = ctx.__enter__()
        _state["server"] = ctx
        _state["latency_s"] = latency_s
    elif _state["latency_s"] != latency_s:
        raise ValueError("one server latency per process; call shutdown() first.")
    return str(_state["url"])


def _folder() -> Path:
    root = Path(tempfile.mkdtemp(prefix="evalkit-bench-ray-http-"))
    _state.setdefault("folders", []).append(root)
    return root


def _start_ray(cpus: int) -> float:
    """A local Ray instance with ``cpus`` CPUs; seconds of ``ray.init`` + a first task."""
    import ray

    start = time.perf_counter()
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, logging_level=logging.WARNING)
    ray.get(ray.remote(lambda: 0).remote())
    return time.perf_counter() - start


class ClusterSim:
    """A Ray cluster of ``nodes`` raylets on this machine, each with ``cpus_per_node`` CPUs.

    ``start()`` returns the seconds it took (head, further nodes, all registered); it does
    not connect this process (``ray.init(address=sim.address)`` does).
    """

    def __init__(self, nodes: int, cpus_per_node: int = 1) -> None:
        self.nodes = nodes
        self.cpus_per_node = cpus_per_node
        self._cluster: Any = None

    def start(self) -> float:
        from ray.cluster_utils import Cluster

        start = time.perf_counter()
        self._cluster = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": self.cpus_per_node, "include_dashboard": False},
        )
        for _ in range(self.nodes - 1):
            self._cluster.add_node(num_cpus=self.cpus_per_node)
        self._cluster.wait_for_nodes()
        return time.perf_counter() - start

    @property
    def address(self) -> str:
        """The GCS address (``host:port``) to pass as ``ExecutorSpec.address``."""
        if self._cluster is None:
            raise RuntimeError("start() the cluster first.")
        return str(self._cluster.address)

    def shutdown(self) -> None:
        """Stop every raylet and the head (idempotent)."""
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            cluster.shutdown()


def build_pair(
    size: int, *, latency_s: float = LATENCY_S, concurrency: int = CONCURRENCY
) -> list[Group]:
    """Part ``pair``: local at ``c``, 2 Ray workers at ``c`` each, local at ``2c``."""
    from evalkit.suite import ExecutorSpec

    url = _server(latency_s)
    if "ray_startup_s" not in _state:
        _state["ray_startup_s"] = _start_ray(2)
    root = _folder()
    suite = write_suite(root / "suite", size)
    c = concurrency
    ray2 = ExecutorSpec(kind="ray", workers=2)
    return [
        Group(
            "pair",
            Case(f"local, concurrency {c}", _case(suite, url, root, c)),
            [
                Case(f"ray, 2 workers x concurrency {c}", _case(suite, url, root, c, ray2)),
                Case(f"local, concurrency {2 * c}", _case(suite, url, root, 2 * c)),
            ],
            tolerance=0.0,
            note=f"{size} chat requests at {latency_s * 1e3:g} ms each; batches of {BATCH_SIZE}",
        )
    ]


def build_scaling(
    size: int,
    *,
    latency_s: float = LATENCY_S,
    concurrency: int = CONCURRENCY,
    workers: Sequence[int] = WORKER_COUNTS,
    address: str | None = None,
) -> list[Group]:
    """Part ``scaling``: local at ``c`` against ``W`` Ray workers at ``c`` each, on a cluster.

    Without ``address`` a :class:`ClusterSim` of ``max(workers)`` nodes is started (once) and
    this process connects to it; with one, every run joins that cluster by its address.
    """
    from evalkit.suite import ExecutorSpec

    url = _server(latency_s)
    if address is None and "cluster" not in _state:
        cluster = ClusterSim(max(workers))
        _state["cluster"] = cluster
        _state["cluster_startup_s"] = cluster.start()
        import ray

        ray.init(address=cluster.address, logging_level=logging.WARNING)
    root = _folder()
    suite = write_suite(root / "suite", size)
    c = concurrency
    peers = [
        Case(
            f"ray cluster, {w} worker{'s' if w > 1 else ''} x concurrency {c}",
            _case(suite, url, root, c, ExecutorSpec(kind="ray", address=address, workers=w)),
        )
        for w in workers
    ]
    return [
        Group(
            "scaling",
            Case(f"local, concurrency {c}", _case(suite, url, root, c)),
            peers,
            tolerance=0.0,
            note=(
                f"{size} chat requests at {latency_s * 1e3:g} ms each; a simulated cluster of "
                f"{max(workers)} one-CPU nodes"
            ),
        )
    ]


def fixed_costs(
    workers: Sequence[int],
    *,
    latency_s: float = LATENCY_S,
    repeats: int = 1,
    address: str | None = None,
) -> dict[int, float]:
    """Seconds a Ray run costs on top of its requests, per worker count (fastest of repeats).

    Measured as the time of a suite of ``W`` one-request batches (one per worker) on ``W`` Ray
    workers minus the time of a one-request suite on the local executor: starting ``W``
    worker processes (each imports evalkit and builds its adapter), shipping the batches and
    collecting the lines. Uses the Ray this process is connected to, or joins ``address``.
    """
    from evalkit.suite import ExecutorSpec

    url = _server(latency_s)
    root = _folder()
    local = _case(write_suite(root / "one", 1, 1), url, root, 1)
    local()  # warm: imports, the first connection
    base = min(_timed_call(local) for _ in range(repeats))
    out = {}
    for w in workers:
        suite = write_suite(root / f"w{w}", w, 1)
        fn = _case(suite, url, root, 1, ExecutorSpec(kind="ray", address=address, workers=w))
        out[w] = min(_timed_call(fn) for _ in range(repeats)) - base
    return out


def _timed_call(fn: Callable[[], Values]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _in_flight(impl: str) -> int:
    """Requests in flight that a row's label promises (``2 workers x concurrency 4`` -> 8)."""
    nums = [int(tok) for tok in impl.replace(",", " ").split() if tok.isdigit()]
    return nums[0] * nums[1] if " x " in impl else nums[0]


def _workers_of(impl: str) -> int | None:
    """Ray workers in a row's label (``ray, 2 workers x ...`` -> 2); None for local rows."""
    return _in_flight(impl) // int(impl.rsplit(" ", 1)[1]) if impl.startswith("ray") else None


def summary_table(
    rows: Sequence[Row],
    latency_s: float,
    fixed: Mapping[str, Mapping[int, float]] | None = None,
) -> str:
    """Per row: time, speed-up over the baseline, requests/s and the share of the ideal.

    With ``fixed`` (part -> workers -> seconds, from :func:`fixed_costs`), a last column
    gives a Ray row's speed-up once its fixed cost per run is taken off: the steady rate.
    """
    fixed = fixed or {}
    head = ["size", "part", "implementation", "median", "speed-up", "requests/s", "of ideal"]
    lines = [[*head, "speed-up less fixed cost"]]
    base: dict[tuple[int, str], float] = {
        (r.size, r.group): r.median_s for r in rows if r.is_evalkit and r.median_s
    }
    for r in rows:
        if r.median_s is None:
            continue
        rps = r.size / r.median_s
        ideal = _in_flight(r.impl) / latency_s
        speed = base[(r.size, r.group)] / r.median_s
        w = _workers_of(r.impl)
        cost = fixed.get(r.group, {}).get(w) if w is not None else None
        steady = (
            "-"
            if cost is None or r.median_s <= cost
            else f"{base[(r.size, r.group)] / (r.median_s - cost):.2f}x ({cost:.1f} s)"
        )
        lines.append(
            [
                str(r.size),
                r.group,
                r.impl,
                f"{r.median_s:.2f} s",
                f"{speed:.2f}x",
                f"{rps:.0f}",
                f"{rps / ideal:.0%}",
                steady,
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _builder(
    part: str,
    latency_s: float,
    concurrency: int,
    workers: Sequence[int],
    address: str | None = None,
) -> Callable[[int], list[Group]]:
    """The group builder of one part (``pair`` or ``scaling``)."""
    if part == "pair":
        return lambda n: build_pair(n, latency_s=latency_s, concurrency=concurrency)
    return lambda n: build_scaling(
        n, latency_s=latency_s, concurrency=concurrency, workers=workers, address=address
    )


def run(
    sizes: Sequence[int] = (64,),
    repeats: int = 1,
    *,
    parts: Sequence[str] = ("pair", "scaling"),
    latency_s: float = LATENCY_S,
    concurrency: int = CONCURRENCY,
    workers: Sequence[int] = WORKER_COUNTS,
    address: str | None = None,
) -> tuple[list[Row], dict[str, Any]]:
    """Run the benchmark in-process: the rows and the start-up seconds (``ray``, ``cluster``)
    and fixed costs (``fixed``: part -> workers -> seconds, see :func:`fixed_costs`).

    The parts run one after the other (the pair's local Ray instance stops before the
    cluster starts); everything this module started is stopped at the end. With
    ``address``, the scaling part joins that running cluster (see :func:`build_scaling`).
    """
    try:
        rows: list[Row] = []
        for part in parts:
            rows += run_benchmark(
                "ray_http",
                _builder(part, latency_s, concurrency, workers, address),
                sizes,
                repeats,
            )
            counts = [2] if part == "pair" else list(workers)
            where = address if part == "scaling" else None
            _state.setdefault("fixed", {})[part] = fixed_costs(
                counts, latency_s=latency_s, address=where
            )
            _stop_ray()
        return rows, startups()
    finally:
        shutdown()


def startups() -> dict[str, Any]:
    """Seconds of Ray start-up measured so far: ``ray`` (local instance), ``cluster``, and the
    fixed costs per run (``fixed``)."""
    out: dict[str, Any] = {"fixed": dict(_state.get("fixed", {}))}
    if "ray_startup_s" in _state:
        out["ray"] = float(_state["ray_startup_s"])
    if "cluster_startup_s" in _state:
        out["cluster"] = float(_state["cluster_startup_s"])
    return out


def _stop_ray() -> None:
    """Disconnect from (and stop, when it is a local instance) the Ray of this process."""
    if "ray_startup_s" not in _state and "cluster" not in _state:
        return  # Ray was never used here: do not import it
    import ray

    if ray.is_initialized():
        ray.shutdown()


def shutdown() -> None:
    """Stop the Ray instance, the cluster and the server this module started; remove folders."""
    _stop_ray()
    cluster = _state.pop("cluster", None)
    if cluster is not None:
        cluster.shutdown()
    server = _state.pop("server", None)
    if server is not None:
        server.__exit__(None, None, None)
    _state.pop("url", None)
    for folder in _state.pop("folders", []):
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--part", choices=("pair", "scaling", "both"), default="both")
    pre.add_argument("--latency-ms", type=float, default=LATENCY_S * 1e3)
    pre.add_argument("--concurrency", type=int, default=CONCURRENCY)
    pre.add_argument("--workers", default=",".join(map(str, WORKER_COUNTS)))
    known, rest = pre.parse_known_args()
    lat = known.latency_ms / 1e3
    counts = [int(w) for w in known.workers.split(",") if w]
    parts = ("pair", "scaling") if known.part == "both" else (known.part,)
    if len(parts) > 1 and "--json" in rest:  # one JSON file per part: out.pair.json...
        at = rest.index("--json") + 1
        json_path = Path(rest[at])
    try:
        all_rows: list[Row] = []
        for chosen in parts:
            if len(parts) > 1 and "--json" in rest:
                rest[at] = str(json_path.with_suffix(f".{chosen}{json_path.suffix}"))
            all_rows += main(
                "ray_http",
                _builder(chosen, lat, known.concurrency, counts),
                default_sizes=(2048,),
                default_repeats=1,
                packages=("ray",),
                description=(__doc__.split("\n\n")[0] if __doc__ else "")
                + " Also: --part pair|scaling|both, --latency-ms, --concurrency (per adapter),"
                " --workers 1,2,4,8 (scaling).",
                argv=rest,
            )
            counts_of = [2] if chosen == "pair" else counts
            _state.setdefault("fixed", {})[chosen] = fixed_costs(counts_of, latency_s=lat)
            _stop_ray()
        print("\nHere ratio = other row / the local row: below 1 means that row is faster.")
        print(summary_table(all_rows, lat, _state.get("fixed")))
        print(
            "fixed cost of a Ray run (W one-request batches on W workers, less a one-request"
            " local run): "
            + "; ".join(
                f"{p}: " + ", ".join(f"{w} workers {s:.1f} s" for w, s in costs.items())
                for p, costs in _state.get("fixed", {}).items()
            )
        )
        for name, secs in startups().items():
            if name == "fixed":
                continue
            what = (
                "ray.init of a local instance + a first task"
                if name == "ray"
                else (f"a simulated cluster of {max(counts)} raylets, all registered")
            )
            print(f"start-up, not in the times above ({what}): {secs:.1f} s")
    finally:
        shutdown()
