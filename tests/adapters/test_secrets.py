"""The API key never leaves the process, even when a server echoes it where it gets cut.

A loopback server echoes the key it was sent at every offset around each excerpt limit of
the HTTP client (so that the cut falls at every position inside the key) in a JSON 401, a
plain-text 500 and a cut-off 200. A real ``evalkit run`` (a subprocess) then leaves no piece of
12 characters of the key in any file of the run folder, the cache folder or the home folder,
nor in its standard output or error; with a realistic ``sk-proj-`` key and with one full of
regex-special, HTML-special and JSON-escaped characters.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evalkit.adapters._http import (
    MALFORMED_CHARS,
    MESSAGE_CHARS,
    MIN_PIECE,
    REDACTED,
    RequestFailed,
    redact,
)
from evalkit.adapters.openai_compat import OpenAICompatAdapter, _first_choice
from evalkit.testing import Fault, OpenAIServer
from evalkit.types import GenerateRequest
from tests.conftest import ROOT

#: A key shaped like OpenAI's project keys (51 characters).
PLAIN_KEY = "sk-proj-Xq7vR2mN9tL4wZ8kB3cF6hJ1pD5sG0yA2eU7iOaQ4r9"
#: A key of regex-special characters, and ones that HTML, JSON and repr() escape.
SPECIAL_KEY = "sk-a.b*c+d?e(f)g[h]i{j}k|l^m$n\\o\"p'q<r>s&t%u/v=w#x!"
KEYS = {"plain": PLAIN_KEY, "special": SPECIAL_KEY}
#: The excerpt limit that applies to each kind's echoed text (see evalkit.adapters._http).
KIND_LIMIT = {"401": MESSAGE_CHARS, "500": MESSAGE_CHARS, "malformed": MALFORMED_CHARS}
#: How much of the key the scan looks for.
PIECE = 12


def test_the_keys_are_realistic() -> None:
    assert len(PLAIN_KEY) == len(SPECIAL_KEY) == 51
    assert all(33 <= ord(c) < 127 for c in SPECIAL_KEY)  # a valid header value


# -- the leak scan ---------------------------------------------------------------------------


def _unescape(text: str) -> str:
    """``text`` with HTML entities, ``\\uXXXX`` and backslash escapes undone, to a fixpoint.

    A report or record may hold the key escaped (``&amp;``, ``\\"``, ``\\u003c``, a repr's
    doubled backslash); a leak in any of these spellings is still a leak.
    """
    previous = None
    while text != previous:
        previous = text
        text = html.unescape(text)
        text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
        text = re.sub(r"\\(.)", r"\1", text)
    return text


def _pieces(key: str, n: int = PIECE) -> set[str]:
    return {key[i : i + n] for i in range(len(key) - n + 1)}


def leaks(text: str, key: str) -> list[str]:
    """The pieces of ``key`` of :data:`PIECE` characters found in ``text``, in any spelling."""
    plain, flat = text, _unescape(text)
    found = {p for p in _pieces(key) if p in plain or p in flat}
    found |= {p for p in _pieces(_unescape(key)) if p in flat}
    return sorted(found)


def test_the_scan_finds_escaped_and_cut_keys() -> None:
    # The scan itself must be able to fail: a piece in HTML, JSON and repr() spellings.
    for key in KEYS.values():
        piece = key[20:34]
        assert leaks(f"<td>{html.escape(piece)}</td>", key)
        assert leaks(json.dumps({"error": piece}), key)
        assert leaks(json.dumps({"error": repr(piece)}), key)
        assert not leaks(f"x {key[20:31]} y", key)  # 11 characters are not a piece


# -- redact(): every cut, every form ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(KEYS))
def test_redact_hides_every_piece_of_eight_characters(name: str) -> None:
    key = KEYS[name]
    for start in range(len(key)):
        for stop in range(start + MIN_PIECE, len(key) + 1):
            shown = redact(f"error: {key[start:stop]}!", [key])
            assert REDACTED in shown, (start, stop)
            assert not any(p in shown for p in _pieces(key, MIN_PIECE)), (start, stop, shown)
    # The JSON-escaped and URL-quoted spellings too.
    assert leaks(redact(json.dumps({"k": key}), [key]), key) == []
    assert leaks(redact(f"url?key={key}".replace("%", "%25"), [key]), key) == []


def test_redact_hides_echoed_authorization_values() -> None:
    other = "tok_9f8e7d6c5b4a39281706"  # a credential other than the configured key
    for text in (
        f"Incorrect API key provided: Bearer {other}",
        f'{{"headers": {{"Authorization": "Bearer {other}"}}}}',
        f"authorization={other}; retry",
        f"Authorization: Basic {other}",
    ):
        shown = redact(text, [])
        assert other not in shown and REDACTED in shown, shown
    assert redact("Bearer token required", []) == "Bearer token required"  # no credential


def test_an_error_answer_in_a_200_is_redacted_before_it_is_cut() -> None:
    for key in KEYS.values():
        for at in range(MESSAGE_CHARS - len(key) - 2, MESSAGE_CHARS + 3):
            doc = {"error": {"message": "x" * at + key + " tail"}}
            with pytest.raises(RequestFailed) as caught:
                _first_choice(doc, "/chat/completions", [key])
            assert leaks(str(caught.value), key) == [], at


def test_retry_log_lines_and_exception_texts_are_redacted(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALKIT_SECRET_KEY", SPECIAL_KEY)
    caplog.set_level(logging.DEBUG, logger="evalkit.http")
    at = MESSAGE_CHARS - 20  # the key straddles the excerpt's cut
    faults = [Fault("500", echo_key_at=at), Fault("malformed", echo_key_at=MALFORMED_CHARS - 20)]
    with OpenAIServer(plan=faults, max_lifetime_s=60) as srv:
        adapter = OpenAICompatAdapter(
            "m",
            base_url=srv.url,
            api_key_env="EVALKIT_SECRET_KEY",
            max_attempts=2,
            backoff_base_s=0.01,
        )
        gen = adapter.generate([GenerateRequest("a b")])[0]
    retry_lines = [r.getMessage() for r in caplog.records if "retry 2 of 2" in r.getMessage()]
    assert len(retry_lines) == 1 and "HTTP 500" in retry_lines[0]
    assert gen.error is not None and "malformed JSON" in gen.error
    assert leaks(caplog.text, SPECIAL_KEY) == [] and leaks(gen.error, SPECIAL_KEY) == []
    assert REDACTED in retry_lines[0] and REDACTED in gen.error  # the cut piece was hidden


# -- a real run against a server that echoes the key around every cut ------------------------


def _sweep(key: str) -> list[tuple[str, int]]:
    """(kind, offset) pairs such that each kind's excerpt limit falls at every key position.

    The key starts from just before ``limit - len(key)`` (wholly inside the excerpt) to just
    after ``limit`` (wholly outside), one character at a time; and at the very start.
    """
    cases = []
    for kind, limit in KIND_LIMIT.items():
        offsets = {0, 1, MIN_PIECE - 1} | set(range(limit - len(key) - 2, limit + 3))
        cases += [(kind, at) for at in sorted(offsets)]
    return cases


def _write_suite(tmp_path: Path, cases: list[tuple[str, int]], clean: int) -> Path:
    rows = [{"id": f"e{i}", "q": f"echo {i}", "a": "x"} for i in range(len(cases))]
    rows += [{"id": f"ok{i}", "q": f"fine {i}", "a": f"FINE {i}"} for i in range(clean)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: secrets\nbootstrap: {resamples: 20}\ntasks:\n  - name: t\n"
        '    dataset: {path: d.jsonl, references: a}\n    prompt: "{q}"\n'
        "    metrics: [exact_match]\n"
    )
    return suite


def _run_cli(tmp_path: Path, suite: Path, url: str, key: str) -> subprocess.CompletedProcess[bytes]:
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    env.update(
        PYTHONPATH=str(ROOT),
        EVALKIT_SECRET_KEY=key,
        EVALKIT_CACHE_DIR=str(tmp_path / "cache"),
        HOME=str(tmp_path / "home"),
    )
    args = ["run", str(suite), "--model", "openai:m", "--out", str(run_dir)]
    for option in (
        f"base_url={url}",
        "api_key_env=EVALKIT_SECRET_KEY",
        "max_attempts=1",
        "backoff_base_s=0.01",
        "max_concurrency=8",
    ):
        args += ["--model-arg", option]
    args += ["--junit", str(run_dir / "junit.xml"), "--markdown", str(run_dir / "summary.md")]
    return subprocess.run(
        [sys.executable, "-m", "evalkit.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.parametrize("name", sorted(KEYS))
def test_a_run_against_a_key_echoing_server_leaks_no_piece_of_the_key(
    tmp_path: Path, name: str
) -> None:
    key = KEYS[name]
    cases = _sweep(key)
    suite = _write_suite(tmp_path, cases, clean=4)
    per_prompt: dict[str, Any] = {
        f"echo {i}": [Fault(kind, echo_key_at=at)] for i, (kind, at) in enumerate(cases)
    }
    with OpenAIServer(api_key=key, per_prompt=per_prompt, max_lifetime_s=120) as srv:
        proc = _run_cli(tmp_path, suite, srv.url, key)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    assert all(r.authorized for r in srv.requests)  # the key was sent with every request
    assert len(srv.requests) == len(cases) + 4  # max_attempts=1: one request each

    # The faults reached the record as counted errors, redacted where the key was shown.
    lines = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    errors = {ln["id"]: ln["error"] for ln in lines}
    assert all(errors[f"ok{i}"] is None for i in range(4))
    marker = {"401": "HTTP 401", "500": "HTTP 500", "malformed": "malformed JSON in an HTTP 200"}
    for i, (kind, at) in enumerate(cases):
        error = errors[f"e{i}"]
        assert error is not None and marker[kind] in error, (kind, at, error)
        if at + len(REDACTED) <= KIND_LIMIT[kind]:  # the key began inside the excerpt
            assert REDACTED in error, (kind, at, error)

    # No piece of the key anywhere: every file the run, the cache and the home folder hold,
    # and both output streams.
    found: dict[str, list[str]] = {}
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file() and path.name not in ("s.yaml", "d.jsonl"):
            hits = leaks(path.read_bytes().decode("latin-1"), key)
            if hits:
                found[str(path.relative_to(tmp_path))] = hits
    for stream, data in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        hits = leaks(data.decode("utf-8", "replace"), key)
        if hits:
            found[stream] = hits
    scanned = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    assert {"samples.jsonl", "results.json", "report.html", "results.csv"} <= scanned
    assert {"junit.xml", "summary.md", "responses.sqlite"} <= scanned
    assert found == {}
