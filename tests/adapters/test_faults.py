"""Fault injection: the ``openai:`` adapter against a loopback server that misbehaves.

The retry matrix (what is retried, how long it waits, when it stops), failures counted by the
runner and the CLI's exit code 3, the response cache, and a run killed with SIGKILL halfway
through and resumed, all against a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evalkit.adapters.openai_compat import OpenAICompatAdapter
from evalkit.runner import run_suite
from evalkit.store import load_run
from evalkit.testing import Fault, OpenAIServer
from evalkit.types import GenerateRequest, Generation
from tests.conftest import ROOT

SECRET = "sk-faults-2b8e61d07c4a95f3"


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(max_lifetime_s=60) as srv:
        yield srv


def one(srv: OpenAIServer, prompt: str = "a b", **options: Any) -> Generation:
    options.setdefault("backoff_base_s", 0.01)
    options.setdefault("timeout_s", 2.0)
    adapter = OpenAICompatAdapter("loopback", base_url=srv.url, **options)
    return adapter.generate([GenerateRequest(prompt)])[0]


def gaps(srv: OpenAIServer) -> list[float]:
    """Seconds from each response (or cut) to the next request's arrival."""
    reqs = srv.requests
    return [b.received_at - (a.finished_at or a.received_at) for a, b in itertools.pairwise(reqs)]


# -- the retry matrix ------------------------------------------------------------------------


def test_429_with_retry_after_seconds_is_honoured(server: OpenAIServer) -> None:
    server.plan = [Fault("429", retry_after="1")]
    g = one(server)
    assert g.text == "A B"
    assert [r.status for r in server.requests] == [429, 200]
    waited = gaps(server)[0]
    print(f"\nRetry-After: 1 -> waited {waited:.3f} s")
    assert 1.0 <= waited < 1.5  # at least what was asked, plus jitter below backoff_base_s


def test_503_with_retry_after_http_date_is_honoured(server: OpenAIServer) -> None:
    # HTTP dates have whole seconds: ask for the next second but one.
    when = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0) + _dt.timedelta(seconds=2)
    server.plan = [Fault("503", retry_after=email.utils.format_datetime(when, usegmt=True))]
    g = one(server)
    assert g.ok and [r.status for r in server.requests] == [503, 200]
    second = server.requests[1]
    arrived = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(
        seconds=time.monotonic() - second.received_at
    )
    print(f"\nRetry-After: {when:%H:%M:%S} -> retried at {arrived:%H:%M:%S.%f}")
    assert arrived >= when - _dt.timedelta(milliseconds=50)


def test_retry_after_beyond_backoff_max_gives_up_at_once(server: OpenAIServer) -> None:
    server.plan = [Fault("429", retry_after="120")]
    start = time.monotonic()
    g = one(server, backoff_max_s=5)
    assert time.monotonic() - start < 1.0 and len(server.requests) == 1
    assert "asks to retry after 120 s, more than backoff_max_s=5" in (g.error or "")


@pytest.mark.parametrize("kind", ["500", "503", "429", "malformed", "drop"])
def test_transient_failures_are_retried(server: OpenAIServer, kind: str) -> None:
    server.plan = [kind]
    g = one(server)
    assert g.ok and g.text == "A B"
    assert [r.fault for r in server.requests] == [kind, None]


@pytest.mark.parametrize("kind", ["400", "401"])
def test_client_errors_are_never_retried(server: OpenAIServer, kind: str) -> None:
    server.plan = [kind] * 5
    g = one(server)
    assert len(server.requests) == 1
    assert f"HTTP {kind}" in (g.error or "") and "(not retried)" in (g.error or "")


def test_timeouts_are_retried_then_the_failure_is_recorded(server: OpenAIServer) -> None:
    server.plan = [Fault("slow", delay_s=0.5)] * 3
    start = time.monotonic()
    g = one(server, timeout_s=0.2, max_attempts=3)
    elapsed = time.monotonic() - start
    assert len(server.requests) == 3 and 0.6 <= elapsed < 1.5
    assert g.error is not None and "timed out after 0.2 s" in g.error
    assert "gave up after 3 attempt(s)" in g.error


def test_attempts_are_capped_and_backoff_grows_within_its_cap(server: OpenAIServer) -> None:
    server.plan = ["503"] * 10
    g = one(server, max_attempts=4, backoff_base_s=0.05, backoff_max_s=0.08)
    assert len(server.requests) == 4
    assert "HTTP 503" in (g.error or "") and "gave up after 4 attempt(s)" in (g.error or "")
    # Full jitter: each wait is in [0, min(cap, base * 2^(k-1))], plus slack for a busy machine
    # (the defaults, 0.5 s base and 30 s cap, would wait far longer).
    for k, wait in enumerate(gaps(server), start=1):
        assert 0 <= wait < min(0.08, 0.05 * 2 ** (k - 1)) + 0.15, (k, wait)


def test_a_flaky_server_still_answers_every_request() -> None:
    rates: dict[Fault | str, float] = {
        "500": 0.2,
        "drop": 0.1,
        "malformed": 0.1,
        Fault("429", retry_after="0"): 0.1,
    }
    with OpenAIServer(rates=rates, max_faults_per_prompt=2, fault_seed=3) as srv:
        adapter = OpenAICompatAdapter(
            "loopback", base_url=srv.url, max_concurrency=4, backoff_base_s=0.01
        )
        prompts = [f"p{i} x" for i in range(40)]
        gens = adapter.generate([GenerateRequest(p) for p in prompts])
    assert [g.text for g in gens] == [p.upper() for p in prompts]
    faults = [r.fault for r in srv.requests if r.fault]
    assert len(faults) >= 10 and len(srv.requests) == 40 + len(faults)


# -- runs: counting, exit code 3, cache ------------------------------------------------------


def _suite(tmp_path: Path, n: int = 10) -> Path:
    rows = [{"id": str(i), "q": f"q{i} x", "a": f"Q{i} X" if i % 3 else "no"} for i in range(n)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: faults\nbootstrap: {resamples: 50}\ntasks:\n  - name: t\n"
        '    dataset: {path: d.jsonl, references: a}\n    prompt: "{q}"\n'
        "    metrics: [exact_match]\n"
    )
    return suite


def test_failed_calls_are_counted_not_scored(tmp_path: Path) -> None:
    faults: dict[str, Any] = {"q1 x": [Fault("slow", delay_s=0.5)] * 2, "q4 x": ["400"]}
    with OpenAIServer(per_prompt=faults) as srv:
        options = {"base_url": srv.url, "timeout_s": 0.2, "max_attempts": 2}
        outcome = run_suite(_suite(tmp_path), "openai:m", tmp_path / "r", model_options=options)
    row = outcome.results[0]
    assert (row["n"], row["n_errors"]) == (8, 2)
    errors = {s["id"]: s["error"] for s in load_run(tmp_path / "r").samples if s["error"]}
    assert set(errors) == {"1", "4"} and "timed out" in errors["1"] and "HTTP 400" in errors["4"]
    assert row["value"] == pytest.approx(4 / 8)  # answered samples only: 4 of 8 match


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "evalkit.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_every_call_failing_exits_3_through_the_cli(tmp_path: Path) -> None:
    # Every call gets a 401 whose body echoes the Authorization header: the run fails, exit 3,
    # and the key never reaches the terminal or the record.
    with OpenAIServer(plan=["401"] * 20) as srv:
        proc = _cli(
            "run",
            str(_suite(tmp_path)),
            "--model",
            "openai:m",
            "--out",
            str(tmp_path / "r"),
            "--model-arg",
            f"base_url={srv.url}",
            "--model-arg",
            "api_key_env=EVALKIT_FAULTS_KEY",
            "-q",
            cwd=tmp_path,
            env={"EVALKIT_FAULTS_KEY": SECRET},
        )
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err.decode()
    assert b"every model call failed (10 of 10)" in err and b"HTTP 401" in err
    assert b"Bearer [REDACTED]" in err
    assert SECRET.encode() not in out + err
    for path in (tmp_path / "r").rglob("*"):
        assert SECRET.encode() not in path.read_bytes(), path
    header = load_run(tmp_path / "r").header
    assert header["status"] == "failed" and header["counts"]["errors"] == 10
    assert len(srv.requests) == 10  # 401 is not retried


def test_second_run_is_served_from_the_cache_and_failures_are_not_cached(
    tmp_path: Path,
) -> None:
    suite = _suite(tmp_path, n=20)
    with OpenAIServer(latency_s=0.05, per_prompt={"q3 x": ["400"]}) as srv:
        options = {"base_url": srv.url, "max_concurrency": 1}
        start = time.perf_counter()
        run_suite(suite, "openai:m", tmp_path / "r1", model_options=options)
        first = time.perf_counter() - start
        assert len(srv.requests) == 20
        start = time.perf_counter()
        run_suite(suite, "openai:m", tmp_path / "r2", model_options=options)
        second = time.perf_counter() - start
    # Only the failed call is asked again (and now succeeds); the rest come from the cache.
    assert [r.prompt for r in srv.requests[20:]] == ["q3 x"]
    one_run, two = load_run(tmp_path / "r1").samples, load_run(tmp_path / "r2").samples
    assert one_run[3]["error"] and two[3]["error"] is None and not two[3]["cached"]
    assert all(s["cached"] for s in two if s["id"] != "3")
    assert [s["prediction"] for s in two if s["id"] != "3"] == [
        s["prediction"] for s in one_run if s["id"] != "3"
    ]
    print(f"\ncache: first run {first:.3f} s, second {second:.3f} s ({first / second:.1f}x)")
    assert second < first


def test_kill_and_resume_under_faults_equals_uninterrupted(tmp_path: Path) -> None:
    n = 40
    suite = _suite(tmp_path, n=n)
    rates: dict[Fault | str, float] = {
        "500": 0.15,
        "drop": 0.1,
        "malformed": 0.05,
        Fault("429", retry_after="0"): 0.1,
    }
    with OpenAIServer(latency_s=0.03, rates=rates, fault_seed=7) as srv:
        common = [
            "--model",
            "openai:m",
            "--batch-size",
            "2",
            "--no-cache",
            "-q",
            "--model-arg",
            f"base_url={srv.url}",
            "--model-arg",
            "max_concurrency=2",
            "--model-arg",
            "backoff_base_s=0.01",
        ]

        def run(out: str, *extra: str) -> subprocess.Popen[bytes]:
            return _cli(
                "run", str(suite), "--out", str(tmp_path / out), *common, *extra, cwd=tmp_path
            )

        full = run("full")
        assert full.wait(timeout=120) == 0, full.stderr.read() if full.stderr else ""
        faults_full = sum(r.fault is not None for r in srv.requests)
        srv.reset()  # the interrupted run meets the same faults

        proc = run("killed")
        samples = tmp_path / "killed" / "samples.jsonl"
        deadline = time.time() + 60
        while time.time() < deadline:
            if samples.exists() and len(samples.read_text().splitlines()) >= 8:
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        n_before = len(samples.read_text().splitlines())
        assert 8 <= n_before < n, "the kill should land mid-run"

        resumed = run("killed", "--resume")
        assert resumed.wait(timeout=120) == 0
    ids = [json.loads(x)["id"] for x in samples.read_text().splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(n)]  # each sample exactly once
    a, b = load_run(tmp_path / "full").header, load_run(tmp_path / "killed").header
    assert faults_full >= 5  # the server did misbehave
    assert a["counts"]["errors"] == 0 and b["counts"]["errors"] == 0
    assert a["results"] == b["results"]
    assert b["status"] == "completed" and len(b["resumed_at"]) == 1
