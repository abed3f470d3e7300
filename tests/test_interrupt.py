"""Ctrl-C during a run: a quick exit (130), the record kept, one line on how to resume.

The drill is real: ``evalkit run`` in its own process against a loopback OpenAI-compatible
server that hangs on the later prompts, SIGINT sent while requests are in flight, the exit time
measured, then ``--resume`` against a server that answers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalkit.testing.openai_server import Fault, OpenAIServer
from tests.conftest import write_exact_match_suite, write_jsonl

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and process groups")

N_SAMPLES = 10
BATCH = 2
#: The first two batches are answered; every later prompt hangs far longer than the test.
ANSWERED = 2 * BATCH
#: What the issue asks for: out within 5 s of Ctrl-C, however long the server hangs.
EXIT_WITHIN_S = 5.0


def _suite(tmp_path: Path) -> Path:
    rows = [{"id": str(i), "question": f"q{i}", "answer": f"Q{i}"} for i in range(N_SAMPLES)]
    write_jsonl(tmp_path / "data.jsonl", rows)
    return write_exact_match_suite(tmp_path / "s.yaml", "interrupt")


def _command(suite: Path, out: Path, url: str, *extra: str) -> list[str]:
    # A long timeout_s: the hang must be cut by Ctrl-C, not by the adapter's own deadline.
    return [
        sys.executable,
        "-m",
        "evalkit.cli",
        "run",
        str(suite),
        "--model",
        "openai:loopback",
        "--model-arg",
        f"base_url={url}",
        "--model-arg",
        "timeout_s=300",
        "--model-arg",
        "max_attempts=1",
        "--batch-size",
        str(BATCH),
        "--no-cache",
        "--quiet",
        "--out",
        str(out),
        *extra,
    ]


def _lines(path: Path) -> list[dict[str, object]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n"), "the record ends in the middle of a line"
    return [json.loads(line) for line in raw.splitlines()]


def _wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_ctrl_c_with_hung_requests_exits_fast_and_resume_finishes(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    out = tmp_path / "run"
    hang = Fault("slow", delay_s=120.0)
    per_prompt = {f"q{i}": [hang] for i in range(ANSWERED, N_SAMPLES)}
    with OpenAIServer(per_prompt=per_prompt, max_lifetime_s=240) as server:
        proc = subprocess.Popen(
            _command(suite, out, server.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # Two batches saved, and the third batch's requests hanging at the server.
            _wait_for(
                lambda: len(server.requests) >= ANSWERED + BATCH,
                timeout=120,
                what="the hung requests to reach the server",
            )
            _wait_for(
                lambda: (
                    (out / "samples.jsonl").exists()
                    and len(_lines(out / "samples.jsonl")) == ANSWERED
                ),
                timeout=30,
                what="the answered batches to be saved",
            )
            time.sleep(0.3)  # let the main thread settle into waiting on the hung batch
            assert proc.poll() is None, proc.communicate()
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=60)
            exit_s = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        print(f"exit {exit_s:.2f} s after SIGINT")  # the measured number (pytest -s shows it)
        assert proc.returncode == 130, stderr
        assert exit_s < EXIT_WITHIN_S, f"took {exit_s:.1f} s to exit after Ctrl-C"
        assert "Traceback" not in stderr
        said = [ln for ln in stderr.splitlines() if "--resume" in ln]
        assert len(said) == 1, stderr
        assert f"{ANSWERED} of {N_SAMPLES} samples are saved" in said[0]
        assert str(out) in said[0]

        # The flushed record is intact: whole lines, the answered samples, nothing else.
        kept = _lines(out / "samples.jsonl")
        assert [ln["id"] for ln in kept] == [str(i) for i in range(ANSWERED)]
        assert all(ln["error"] is None for ln in kept)
        header = json.loads((out / "results.json").read_text(encoding="utf-8"))
        assert header["status"] == "running"

        # The server answers now; --resume finishes without asking again for saved samples.
        server.per_prompt = {}
        server.reset()
        done = subprocess.run(
            _command(suite, out, server.url, "--resume"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        asked = sorted(str(r.prompt) for r in server.requests)
        assert asked == sorted(f"q{i}" for i in range(ANSWERED, N_SAMPLES))
    lines = _lines(out / "samples.jsonl")
    assert sorted(str(ln["id"]) for ln in lines) == sorted(str(i) for i in range(N_SAMPLES))
    header = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert header["status"] == "completed"
    assert header["counts"]["samples"] == N_SAMPLES
    assert header["counts"]["errors"] == 0


def test_ctrl_c_before_any_sample_of_an_overwrite_keeps_the_old_run(tmp_path: Path) -> None:
    suite = _suite(tmp_path)
    out = tmp_path / "run"
    with OpenAIServer() as server:
        first = subprocess.run(
            _command(suite, out, server.url), capture_output=True, text=True, timeout=120
        )
        assert first.returncode == 0, first.stderr
        before = {p.name: p.read_bytes() for p in out.iterdir()}
        server.per_prompt = {"q0": [Fault("slow", delay_s=120.0)]}
        server.reset()
        proc = subprocess.Popen(
            _command(suite, out, server.url, "--overwrite"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for(lambda: len(server.requests) >= BATCH, 120, "the first batch to hang")
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130, stderr
    assert "previous run" in stderr and "unchanged" in stderr, stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    # The half-built replacement is gone too.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl", "run", "s.yaml"]
    assert os.access(out / "results.json", os.R_OK)
