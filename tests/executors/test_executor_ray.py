"""The Ray executor on a real local Ray instance (2 CPU workers): same results, lost workers.

One Ray instance serves the whole module (starting Ray takes seconds); the executor sees it is
connected and uses it, with one worker actor per CPU. Every test compares a Ray run with a
local run of the same suite: the ``results.json`` rows must be equal, value for value.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from evalkit.errors import RunError
from evalkit.executors.ray import IN_FLIGHT_PER_WORKER, RayExecutor
from evalkit.runner import RunOptions, run_suite
from evalkit.store import load_run
from evalkit.suite import ExecutorSpec
from tests.conftest import QUICKSTART, ROOT, SYS_B, quickstart_copy

ray = pytest.importorskip("ray")

RAY = ExecutorSpec(kind="ray")
STEP_0075 = ROOT / "models" / "tiny-gpt2" / "step-0075"


@pytest.fixture(scope="module", autouse=True)
def ray_instance() -> Iterator[None]:
    """A local Ray instance with 2 CPUs (so 2 worker actors), shut down after the module."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()


def _rows(run: Path) -> list[dict[str, Any]]:
    return list(load_run(run).header["results"])


def _ids(run: Path) -> list[tuple[str, str]]:
    return [(s["task"], s["id"]) for s in load_run(run).samples]


def _same_lines(a: Path, b: Path) -> None:
    """Both records hold the same lines in the same order (``cached`` flags aside)."""

    def lines(run: Path) -> list[dict[str, Any]]:
        return [{k: v for k, v in s.items() if k != "cached"} for s in load_run(run).samples]

    assert len(_ids(b)) == len(set(_ids(b)))
    assert lines(a) == lines(b)


def test_predictions_suite_gives_identical_results(tmp_path: Path) -> None:
    # The quickstart's translate, summarize and qa tasks (a failed call included) without
    # BERTScore and METEOR (their encoder and WordNet would load in every worker: seconds);
    # small batches so that the two workers finish them out of order.
    def text_tasks(text: str) -> str:
        kept = text.split("  - name: lm_step")[0].splitlines(keepends=True)
        return "".join(ln for ln in kept if "bertscore" not in ln and "meteor" not in ln)

    suite = quickstart_copy(tmp_path / "qs.yaml", text_tasks)
    opts: dict[str, Any] = {"batch_size": 6}
    local = run_suite(suite, f"predictions:{SYS_B}", tmp_path / "local", RunOptions(**opts))
    out = run_suite(
        suite, f"predictions:{SYS_B}", tmp_path / "ray", RunOptions(executor=RAY, **opts)
    )
    assert out.results == local.results
    assert any(r["n_errors"] for r in out.results)  # the failed call is counted on both
    _same_lines(tmp_path / "local", tmp_path / "ray")
    executor = load_run(tmp_path / "ray").header["executor"]
    assert executor["kind"] == "ray" and executor["workers"] == 2
    assert executor["retried_batches"] == 0
    assert load_run(tmp_path / "local").header["executor"] == {"kind": "local"}
    # The executor is not part of what a run is: the suite fingerprints agree.
    assert (
        load_run(tmp_path / "ray").header["suite"]["fingerprint"]
        == load_run(tmp_path / "local").header["suite"]["fingerprint"]
    )


MODEL = """\
import os, time
from pathlib import Path

HERE = Path(__file__).parent

def generate(prompts):
    (HERE / "pids").mkdir(exist_ok=True)
    (HERE / "pids" / str(os.getpid())).touch()
    if "q5" in prompts and (HERE / "crash").exists():
        os.kill(os.getpid(), 9)  # this worker dies mid-batch, every time
    time.sleep(float(os.environ.get("SLOW_MODEL_S", "0.1")))
    return [p.replace("q", "a") if int(p[1:]) % 3 else p for p in prompts]
"""


def _model(tmp_path: Path) -> str:
    (tmp_path / "model.py").write_text(MODEL)
    return f"python:{tmp_path / 'model.py'}:generate"


def test_python_adapter_and_cache_give_identical_results(
    tmp_path: Path, make_suite: Callable[..., Path]
) -> None:
    rows = [{"id": str(i), "question": f"q{i}", "answer": f"a{i}"} for i in range(24)]
    suite = make_suite(rows=rows, metrics="[exact_match, token_f1, chrf]")
    model = _model(tmp_path)
    opts: dict[str, Any] = {"batch_size": 3}
    local = run_suite(suite, model, tmp_path / "local", RunOptions(use_cache=False, **opts))
    first = run_suite(suite, model, tmp_path / "r1", RunOptions(executor=RAY, **opts))
    assert first.results == local.results
    _same_lines(tmp_path / "local", tmp_path / "r1")
    # The driver owns the response cache: the second Ray run is served from it entirely.
    again = run_suite(suite, model, tmp_path / "r2", RunOptions(executor=RAY, **opts))
    assert again.results == local.results
    assert all(s["cached"] for s in load_run(tmp_path / "r2").samples)
    assert not any(s["cached"] for s in load_run(tmp_path / "r1").samples)


JUDGE = """\
import json


def grade(prompts):
    return [json.dumps({"score": 5 if "a1" in p else 3}) if "q7" not in p else "no idea"
            for p in prompts]
"""


def test_judge_metric_is_judged_on_the_driver_with_the_cache(
    tmp_path: Path, make_suite: Callable[..., Path]
) -> None:
    """A task with a judge metric: served by workers, judged and scored on the driver; the
    record equals the local executor's line for line, and the judge answers are cached."""
    (tmp_path / "judge.py").write_text(JUDGE)
    rows = [{"id": str(i), "question": f"q{i}", "answer": f"a{i}"} for i in range(12)]
    judge = f"python:{tmp_path / 'judge.py'}:grade"
    suite = make_suite(rows=rows, metrics=f'[exact_match, {{judge: {{model: "{judge}"}}}}]')
    model = _model(tmp_path)
    opts: dict[str, Any] = {"batch_size": 3}
    local = run_suite(suite, model, tmp_path / "local", RunOptions(use_cache=False, **opts))
    first = run_suite(suite, model, tmp_path / "r1", RunOptions(executor=RAY, **opts))
    assert first.results == local.results
    _same_lines(tmp_path / "local", tmp_path / "r1")
    failed = next(s for s in load_run(tmp_path / "r1").samples if s["id"] == "7")
    assert failed["judgments"]["judge"][0]["text"] == "no idea"
    assert failed["stats"]["judge"]["j"] == ["unparsed"]
    again = run_suite(suite, model, tmp_path / "r2", RunOptions(executor=RAY, **opts))
    assert again.results == local.results
    judged = [j for s in load_run(tmp_path / "r2").samples for j in s["judgments"]["judge"]]
    assert len(judged) == 12 and all(j["cached"] for j in judged)


def test_hf_perplexity_gives_identical_results(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    suite = tmp_path / "lm.yaml"
    suite.write_text(
        textwrap.dedent(f"""\
        name: lm-ray
        bootstrap: {{resamples: 200}}
        tasks:
          - name: heldout
            dataset: {{path: {ROOT / "suites/lm/heldout.jsonl"}, id: id, limit: 12}}
            prompt: "{{text}}"
            metrics:
              - perplexity: {{max_length: 64, stride: 32}}
        """)
    )
    model = f"hf:{STEP_0075}"
    opts: dict[str, Any] = {"batch_size": 3, "use_cache": False}
    local = run_suite(suite, model, tmp_path / "local", RunOptions(**opts))
    out = run_suite(suite, model, tmp_path / "ray", RunOptions(executor=RAY, **opts))
    assert out.results == local.results
    assert {r["metric"] for r in out.results} >= {"perplexity", "bits_per_byte"}
    _same_lines(tmp_path / "local", tmp_path / "ray")


def _kill_one_worker(pids: Path, samples: Path, after: int, killed: list[int]) -> None:
    """Once ``samples`` has ``after`` lines, SIGKILL a worker process that served a batch."""
    deadline = time.time() + 60
    while time.time() < deadline:
        done = len(samples.read_text().splitlines()) if samples.exists() else 0
        ready = sorted(int(p.name) for p in pids.iterdir()) if pids.exists() else []
        if done >= after and ready:
            os.kill(ready[0], signal.SIGKILL)
            killed.append(ready[0])
            return
        time.sleep(0.01)


def test_worker_killed_mid_run_loses_nothing(
    tmp_path: Path, make_suite: Callable[..., Path]
) -> None:
    rows = [{"id": str(i), "question": f"q{i}", "answer": f"a{i}"} for i in range(40)]
    suite = make_suite(rows=rows, metrics="[exact_match, token_f1]")
    model = _model(tmp_path)
    opts: dict[str, Any] = {"batch_size": 2, "use_cache": False}
    local = run_suite(suite, model, tmp_path / "local", RunOptions(**opts))
    for p in (tmp_path / "pids").iterdir():
        p.unlink()  # the local run's pid is this process

    killed: list[int] = []
    killer = threading.Thread(
        target=_kill_one_worker,
        args=(tmp_path / "pids", tmp_path / "ray" / "samples.jsonl", 6, killed),
    )
    killer.start()
    out = run_suite(suite, model, tmp_path / "ray", RunOptions(executor=RAY, **opts))
    killer.join()
    assert killed and killed[0] != os.getpid()
    lines = (tmp_path / "ray" / "samples.jsonl").read_text().splitlines()
    ids = [json.loads(x)["id"] for x in lines]
    assert ids == [str(i) for i in range(40)]  # each sample exactly once, in dataset order
    assert out.results == local.results
    _same_lines(tmp_path / "local", tmp_path / "ray")
    executor = out.header["executor"]
    # The killed worker had a batch running and maybe one queued: each was submitted again.
    assert executor["lost_workers"] == 1
    assert 1 <= executor["retried_batches"] <= IN_FLIGHT_PER_WORKER
    assert json.loads((tmp_path / "ray" / "results.json").read_text())["executor"] == executor


def test_batch_that_keeps_killing_workers_stops_the_run_and_resume_finishes(
    tmp_path: Path, make_suite: Callable[..., Path]
) -> None:
    rows = [{"id": str(i), "question": f"q{i}", "answer": f"a{i}"} for i in range(12)]
    suite = make_suite(rows=rows, metrics="[exact_match]")
    model = _model(tmp_path)
    opts: dict[str, Any] = {"batch_size": 2, "use_cache": False}
    os.environ["SLOW_MODEL_S"] = "0"
    try:
        local = run_suite(suite, model, tmp_path / "local", RunOptions(**opts))
        (tmp_path / "crash").touch()
        with pytest.raises(RunError, match=r"first id '4'.*lost its Ray worker 4 times"):
            run_suite(suite, model, tmp_path / "ray", RunOptions(executor=RAY, **opts))
    finally:
        del os.environ["SLOW_MODEL_S"]
    # The record is the prefix before the batch that never finished (later batches that did
    # finish were held back so that the record stays in order).
    assert _ids(tmp_path / "ray") == [("t", str(i)) for i in range(4)]
    assert load_run(tmp_path / "ray").header["status"] == "running"
    # Resume (on the local executor, say) finishes the run with the same results.
    (tmp_path / "crash").unlink()
    done = run_suite(suite, model, tmp_path / "ray", RunOptions(resume=True, **opts))
    assert done.results == local.results
    _same_lines(tmp_path / "local", tmp_path / "ray")


def test_a_lost_batch_is_retried_alone_on_an_idle_worker() -> None:
    pick = RayExecutor._pick
    assert IN_FLIGHT_PER_WORKER == 2
    # A retry waits for an idle worker, even the one it lost when no other is idle...
    assert pick([1, 0], [False, False], retry=True, avoid=1) == 1
    assert pick([1, 1], [False, False], retry=True, avoid=None) is None
    # ...and prefers another one when it can.
    assert pick([0, 0], [False, False], retry=True, avoid=0) == 1
    # New batches never queue behind a retry, and fill the least busy worker with room.
    assert pick([1, 1], [True, False], retry=False, avoid=None) == 1
    assert pick([1, 2], [True, False], retry=False, avoid=None) is None
    assert pick([2, 1], [False, False], retry=False, avoid=None) == 1


def test_cli_executor_ray(tmp_path: Path) -> None:
    from evalkit.cli import main

    def qa_only(text: str) -> str:
        head, _, rest = text.partition("  - name: translate")
        return head + "  - name: qa" + rest.split("  - name: qa", 1)[1].split("  - name: lm")[0]

    suite = quickstart_copy(tmp_path / "qs.yaml", qa_only)
    args = ["run", str(suite), "--model", f"predictions:{SYS_B}", "-q"]
    with pytest.raises(SystemExit) as local:
        main([*args, "--out", str(tmp_path / "local")])
    with pytest.raises(SystemExit) as remote:
        main([*args, "--out", str(tmp_path / "ray"), "--executor", "ray", "--ray-workers", "2"])
    assert local.value.code == remote.value.code == 0
    assert _rows(tmp_path / "ray") == _rows(tmp_path / "local")
    assert load_run(tmp_path / "ray").header["executor"]["workers"] == 2
    assert QUICKSTART.is_file()


def _raylets() -> int:
    """Ray's node processes now running on this machine."""
    out = subprocess.run(["ps", "-eo", "comm"], capture_output=True, text=True, check=True)
    return sum(1 for name in out.stdout.split() if name.startswith("raylet"))


def test_cli_starts_and_stops_its_own_ray_instance(
    tmp_path: Path, make_suite: Callable[..., Path]
) -> None:
    suite = make_suite(extra="executor: {kind: ray, workers: 2}\n")
    before = _raylets()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("RAY_ADDRESS", None)
    args = [sys.executable, "-m", "evalkit.cli", "run", str(suite), "-m", "scripted:upper", "-q"]
    done = subprocess.run(
        [*args, "-o", str(tmp_path / "ray")], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    assert _raylets() == before  # the instance it started is gone
    local = run_suite(suite, "scripted:upper", tmp_path / "local", RunOptions(executor="local"))
    assert _rows(tmp_path / "ray") == local.results
    executor = load_run(tmp_path / "ray").header["executor"]
    assert (executor["kind"], executor["address"], executor["workers"]) == ("ray", "local", 2)
