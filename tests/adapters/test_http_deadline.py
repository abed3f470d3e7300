"""``timeout_s`` bounds a request's whole life, and a request in flight can be abandoned.

Against a real loopback server that dribbles its response one byte at a time (from the
status line, or after the headers), over HTTP and HTTPS: each attempt gives up within
``timeout_s`` plus a small margin, is retried per ``max_attempts``, and ends as a recorded,
counted failure, never as an empty answer. ``abort()`` ends requests in flight and backoff
waits at once (what Ctrl-C needs).
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
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

#: Slack over ``timeout_s`` for a busy CI machine (measured overshoot is a few ms).
MARGIN_S = 0.35


def timed(srv: OpenAIServer, prompt: str = "a b", **options: Any) -> tuple[Generation, float]:
    options.setdefault("backoff_base_s", 0.01)
    adapter = OpenAICompatAdapter("loopback", base_url=srv.url, **options)
    start = time.monotonic()
    gen = adapter.generate([GenerateRequest(prompt)])[0]
    return gen, time.monotonic() - start


@pytest.mark.parametrize("kind", ["dribble", "dribble_body"])
def test_a_dribbling_server_cannot_hold_a_request_past_timeout_s(kind: str) -> None:
    # One byte every 0.25 s: each socket read succeeds well within any per-read timeout,
    # and the ~200-byte response would take ~50 s in all.
    with OpenAIServer(plan=[Fault(kind, byte_interval_s=0.25)], max_lifetime_s=60) as srv:
        gen, elapsed = timed(srv, timeout_s=1.5, max_attempts=1)
    print(f"\n{kind}: timeout_s=1.5 -> gave up after {elapsed:.3f} s")
    assert 1.5 <= elapsed < 1.5 + MARGIN_S
    assert gen.text is None and gen.error is not None
    assert "timed out after 1.5 s" in gen.error and "gave up after 1 attempt(s)" in gen.error
    assert len(srv.requests) == 1


def test_a_timed_out_attempt_is_retried_then_recorded_as_an_error() -> None:
    faults = [Fault("dribble_body", byte_interval_s=0.05)] * 3
    with OpenAIServer(plan=faults, max_lifetime_s=60) as srv:
        gen, elapsed = timed(srv, timeout_s=0.4, max_attempts=3)
    print(f"\n3 attempts of timeout_s=0.4 -> {elapsed:.3f} s")
    assert len(srv.requests) == 3 and [r.fault for r in srv.requests] == ["dribble_body"] * 3
    assert 1.2 <= elapsed < 1.2 + 3 * 0.01 + MARGIN_S  # three deadlines plus tiny backoffs
    assert gen.error is not None and "gave up after 3 attempt(s)" in gen.error


def test_the_attempt_after_a_dribble_succeeds() -> None:
    with OpenAIServer(plan=[Fault("dribble", byte_interval_s=0.05)], max_lifetime_s=60) as srv:
        gen, _ = timed(srv, timeout_s=0.4, max_attempts=2)
    assert gen.ok and gen.text == "A B" and [r.fault for r in srv.requests] == ["dribble", None]


def _suite(tmp_path: Path) -> Path:
    rows = [{"id": str(i), "q": f"q{i} x", "a": f"Q{i} X"} for i in range(6)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: deadline\nbootstrap: {resamples: 20}\ntasks:\n  - name: t\n"
        '    dataset: {path: d.jsonl, references: a}\n    prompt: "{q}"\n'
        "    metrics: [exact_match]\n"
    )
    return suite


def test_a_dribbled_sample_is_counted_as_an_error_never_scored(tmp_path: Path) -> None:
    faults: dict[str, Any] = {"q2 x": [Fault("dribble_body", byte_interval_s=0.05)] * 2}
    with OpenAIServer(per_prompt=faults, max_lifetime_s=60) as srv:
        options = {"base_url": srv.url, "timeout_s": 0.5, "max_attempts": 2}
        start = time.monotonic()
        outcome = run_suite(_suite(tmp_path), "openai:m", tmp_path / "r", model_options=options)
        elapsed = time.monotonic() - start
    print(f"\nrun with one dribbling sample (2 x 0.5 s): {elapsed:.3f} s")
    row = outcome.results[0]
    assert (row["n"], row["n_errors"]) == (5, 1)
    assert row["value"] == pytest.approx(1.0)  # the five answered samples all match
    samples = {s["id"]: s for s in load_run(tmp_path / "r").samples}
    assert samples["2"]["prediction"] is None
    assert "timed out after 0.5 s" in samples["2"]["error"]
    assert sum(r.prompt == "q2 x" for r in srv.requests) == 2


def test_abort_ends_a_request_in_flight_at_once() -> None:
    with OpenAIServer(plan=[Fault("slow", delay_s=20)], max_lifetime_s=60) as srv:
        adapter = OpenAICompatAdapter("m", base_url=srv.url, timeout_s=30, max_attempts=5)
        threading.Timer(0.3, adapter.abort).start()
        start = time.monotonic()
        gen = adapter.generate([GenerateRequest("a b")])[0]
        elapsed = time.monotonic() - start
    print(f"\nabort at 0.3 s of a 20 s request -> returned after {elapsed:.3f} s")
    assert elapsed < 0.3 + MARGIN_S
    assert gen.text is None and "aborted" in (gen.error or "")
    assert len(srv.requests) == 1  # no retry after the abort


def test_abort_ends_a_backoff_wait_and_later_calls_fail_fast() -> None:
    with OpenAIServer(plan=[Fault("503", retry_after="10")], max_lifetime_s=60) as srv:
        adapter = OpenAICompatAdapter("m", base_url=srv.url, backoff_max_s=30)
        threading.Timer(0.3, adapter.abort).start()
        start = time.monotonic()
        first = adapter.generate([GenerateRequest("a b")])[0]
        elapsed = time.monotonic() - start
        later = adapter.generate([GenerateRequest("c d"), GenerateRequest("e f")])
    assert elapsed < 0.3 + MARGIN_S and "aborted" in (first.error or "")
    assert all(g.text is None and "aborted" in (g.error or "") for g in later)
    assert len(srv.requests) == 1


def test_a_host_name_is_resolved_within_the_deadline() -> None:
    with OpenAIServer(max_lifetime_s=60) as srv:
        adapter = OpenAICompatAdapter("m", base_url=f"http://localhost:{srv.port}/v1")
        gen = adapter.generate([GenerateRequest("a b")])[0]
    assert gen.ok and gen.text == "A B"


# -- HTTPS ----------------------------------------------------------------------------------


@pytest.fixture
def tls_server_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A self-signed certificate for 127.0.0.1 that the client trusts (via SSL_CERT_FILE)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    args += ["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    args += ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        [openssl, *args],
        check=True,
        capture_output=True,
        timeout=60,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    yield context


def test_https_answers_and_keeps_the_deadline(tls_server_context: ssl.SSLContext) -> None:
    plan = [None, Fault("dribble", byte_interval_s=0.1)]
    with OpenAIServer(plan=plan, tls=tls_server_context, max_lifetime_s=60) as srv:
        assert srv.url.startswith("https://")
        ok, _ = timed(srv, "a b", timeout_s=1.0, max_attempts=1)
        cut, elapsed = timed(srv, "c d", timeout_s=1.0, max_attempts=1)
    print(f"\nhttps dribble: timeout_s=1.0 -> gave up after {elapsed:.3f} s")
    assert ok.ok and ok.text == "A B"
    assert cut.error is not None and "timed out after 1 s" in cut.error
    assert 1.0 <= elapsed < 1.0 + MARGIN_S
