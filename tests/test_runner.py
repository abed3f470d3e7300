"""End-to-end runs: record contract, failures counted, cache, resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evalkit.errors import ConfigError, InputError, RunError
from evalkit.runner import RunOptions, run_suite
from evalkit.store import load_run
from tests.conftest import QUICKSTART, ROOT, SYS_A, SYS_B, write_jsonl

ROW_KEYS = [
    "task",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "ci_method",
    "n",
    "n_errors",
    "higher_is_better",
    "signature",
]


def test_quickstart_record_contract(tmp_path: Path) -> None:
    outcome = run_suite(QUICKSTART, f"predictions:{SYS_A}", tmp_path / "a")
    header = json.loads((tmp_path / "a" / "results.json").read_text())
    for key in (
        "format_version",
        "run_id",
        "suite",
        "model",
        "evalkit_version",
        "versions",
        "seed",
        "created_at",
        "finished_at",
        "status",
        "results",
    ):
        assert key in header, key
    assert header["status"] == "completed"
    assert header["versions"]["sacrebleu"] and header["versions"]["rouge-score"]
    assert header["suite"]["fingerprint"] and header["tasks"][0]["dataset"]["sha256"]
    rows = header["results"]
    # Rows of values with an ideal point (stereotype_preference: 50) add a `target` key.
    assert all(list(r) in (ROW_KEYS, [*ROW_KEYS, "target"]) for r in rows)
    metrics = {(r["task"], r["metric"]) for r in rows}
    assert {
        ("translate", "bleu"),
        ("translate", "ter"),
        ("summarize", "rougeL"),
        ("qa", "exact_match"),
        ("qa", "token_f1"),
    } <= metrics
    for r in rows:
        # Corpus-level distinct-n and self-BLEU and the set-level image metrics get no bootstrap
        # interval (interval_values, resample); digits-FID's resamples are cheap and it has one.
        if r["metric"] in {
            "distinct_2",
            "self_bleu",
            "kid",
            "kid_std",
            "inception_score",
            "inception_score_std",
        }:
            assert r["ci_low"] is None and r["ci_high"] is None, r
        else:
            assert r["ci_low"] <= r["value"] <= r["ci_high"], r
    ter = next(r for r in rows if r["metric"] == "ter")
    assert ter["higher_is_better"] is False
    lines = [json.loads(x) for x in (tmp_path / "a" / "samples.jsonl").read_text().splitlines()]
    # + 8 stereotype pairs, + 6 diversity prompts, + 300 generated digits
    assert len(lines) == 128 + 8 + 6 + 300 and all(ln["error"] is None for ln in lines)
    assert (tmp_path / "a" / "results.csv").is_file() and (tmp_path / "a" / "report.html").is_file()
    assert outcome.exit_code == 0


def test_failed_calls_are_counted_not_scored(tmp_path: Path) -> None:
    import sacrebleu

    run_suite(QUICKSTART, f"predictions:{SYS_B}", tmp_path / "b")
    header = load_run(tmp_path / "b").header
    bleu = next(r for r in header["results"] if r["metric"] == "bleu")
    assert bleu["n_errors"] == 1 and bleu["n"] == 19
    # The corpus BLEU is over the 19 answered samples, not 20 with an empty string.
    data = [json.loads(x) for x in (ROOT / "suites/quickstart/translate.jsonl").open()]
    preds = {r["id"]: r for r in map(json.loads, SYS_B.open()) if r["task"] == "translate"}
    hyps, refs = [], []
    for row in data:
        if preds[row["id"]]["prediction"] is not None:
            hyps.append(preds[row["id"]]["prediction"])
            refs.append(row["references"])
    streams: Any = [
        [r[i] if i < len(r) else None for r in refs] for i in range(max(map(len, refs)))
    ]
    assert bleu["value"] == pytest.approx(sacrebleu.corpus_bleu(hyps, streams).score, abs=1e-9)
    failed = [s for s in load_run(tmp_path / "b").samples if s["error"]]
    assert len(failed) == 1 and failed[0]["prediction"] is None and "503" in failed[0]["error"]


def test_every_call_failing_is_exit_3_and_keeps_the_record(
    tmp_path: Path, make_suite: Callable[..., Path]
) -> None:
    suite = make_suite()
    ids = ",".join(str(i) for i in range(10))
    with pytest.raises(RunError, match="every model call failed"):
        run_suite(
            suite, "scripted:echo", tmp_path / "r", RunOptions(model_options={"fail_ids": ids})
        )
    header = load_run(tmp_path / "r").header
    assert header["status"] == "failed" and header["counts"]["errors"] == 10


def test_gate_failure_gives_exit_code_1(tmp_path: Path, make_suite: Callable[..., Path]) -> None:
    suite = make_suite(extra="    gates:\n      - {metric: exact_match, min: 0.5}\n")
    outcome = run_suite(suite, "scripted:echo", tmp_path / "r")
    assert outcome.exit_code == 1
    assert outcome.header["gates"][0]["status"] == "fail"


def test_cache_serves_second_run_and_respects_settings(
    tmp_path: Path, make_suite: Callable[..., Path]
) -> None:
    suite = make_suite()
    run_suite(suite, "scripted:upper", tmp_path / "r1")
    run_suite(suite, "scripted:upper", tmp_path / "r2")
    first = load_run(tmp_path / "r1").samples
    second = load_run(tmp_path / "r2").samples
    assert not any(s["cached"] for s in first) and all(s["cached"] for s in second)
    assert [s["prediction"] for s in first] == [s["prediction"] for s in second]
    run_suite(suite, "scripted:upper", tmp_path / "r3", RunOptions(seed=99))
    assert not any(s["cached"] for s in load_run(tmp_path / "r3").samples)


def test_predictions_missing_and_duplicate_ids(
    tmp_path: Path, make_suite: Callable[..., Path]
) -> None:
    suite = make_suite()
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": str(i), "prediction": "x"} for i in range(9)])
    with pytest.raises(InputError, match="no prediction for id '9' of task 't'"):
        run_suite(suite, f"predictions:{preds}", tmp_path / "r")
    assert not (tmp_path / "r").exists()  # refused before anything was written
    dup = write_jsonl(tmp_path / "d.jsonl", [{"id": "1", "prediction": "x"}] * 2)
    with pytest.raises(InputError, match=r"d\.jsonl:2: duplicate id '1'"):
        run_suite(suite, f"predictions:{dup}", tmp_path / "r")


def test_existing_run_dir_needs_resume(tmp_path: Path, make_suite: Callable[..., Path]) -> None:
    suite = make_suite()
    run_suite(suite, "scripted:echo", tmp_path / "r")
    with pytest.raises(ConfigError, match="already holds a run; pass --resume"):
        run_suite(suite, "scripted:echo", tmp_path / "r")
    with pytest.raises(ConfigError, match="cannot resume: the run there differs in model"):
        run_suite(suite, "scripted:upper", tmp_path / "r", RunOptions(resume=True))


def test_callable_adapter_failures(tmp_path: Path, make_suite: Callable[..., Path]) -> None:
    mod = tmp_path / "flaky.py"
    mod.write_text(
        textwrap.dedent("""\
        def generate(prompts):
            return [None if p == "q3" else ValueError("bad") if p == "q4" else p.upper()
                    for p in prompts]
        """)
    )
    outcome = run_suite(make_suite(), f"python:{mod}:generate", tmp_path / "r")
    errors = {s["id"]: s["error"] for s in load_run(tmp_path / "r").samples if s["error"]}
    assert errors == {"3": "the callable returned None", "4": "ValueError: bad"}
    em = next(r for r in outcome.results if r["metric"] == "exact_match")
    assert (em["n"], em["n_errors"]) == (8, 2)


SLOW_MODEL = """\
import time
def generate(prompts):
    time.sleep(0.15)
    return [p.replace("q", "a") if int(p[1:]) % 3 else p for p in prompts]
"""


def _cli(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "evalkit.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_kill_and_resume_equals_uninterrupted(
    tmp_path: Path, make_suite: Callable[..., Path]
) -> None:
    rows = [{"id": str(i), "question": f"q{i}", "answer": f"a{i}"} for i in range(40)]
    suite = make_suite(rows=rows)
    (tmp_path / "slow.py").write_text(SLOW_MODEL)
    model = f"python:{tmp_path / 'slow.py'}:generate"
    common = ["--model", model, "--batch-size", "2", "--no-cache", "-q"]

    full = _cli("run", str(suite), "--out", str(tmp_path / "full"), *common, cwd=tmp_path)
    assert full.wait(timeout=120) == 0, full.stderr.read() if full.stderr else ""

    proc = _cli("run", str(suite), "--out", str(tmp_path / "killed"), *common, cwd=tmp_path)
    samples = tmp_path / "killed" / "samples.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        if samples.exists() and len(samples.read_text().splitlines()) >= 8:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    n_before = len(samples.read_text().splitlines())
    assert 8 <= n_before < 40, "the kill should land mid-run"
    assert json.loads((tmp_path / "killed" / "results.json").read_text())["status"] == "running"

    resumed = _cli(
        "run", str(suite), "--out", str(tmp_path / "killed"), *common, "--resume", cwd=tmp_path
    )
    assert resumed.wait(timeout=120) == 0
    ids = [json.loads(x)["id"] for x in samples.read_text().splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(40)]  # each sample exactly once

    a = load_run(tmp_path / "full").header
    b = load_run(tmp_path / "killed").header
    assert a["results"] == b["results"]
    assert b["status"] == "completed" and len(b["resumed_at"]) == 1


def test_truncated_last_line_is_repaired_on_resume(
    tmp_path: Path, make_suite: Callable[..., Path]
) -> None:
    suite = make_suite()
    run_suite(suite, "scripted:echo", tmp_path / "full")
    run_suite(suite, "scripted:echo", tmp_path / "r")
    samples = tmp_path / "r" / "samples.jsonl"
    lines = samples.read_text().splitlines(keepends=True)
    samples.write_text("".join(lines[:4]) + lines[4][:15])  # as if killed mid-write
    run_suite(suite, "scripted:echo", tmp_path / "r", RunOptions(resume=True))
    assert len(samples.read_text().splitlines()) == 10
    assert (
        load_run(tmp_path / "r").header["results"] == load_run(tmp_path / "full").header["results"]
    )


def test_lone_surrogate_in_model_output_is_kept(
    tmp_path: Path, make_suite: Callable[..., Path]
) -> None:
    mod = tmp_path / "odd.py"
    mod.write_text("def generate(prompts):\n    return [p + '\\ud800' for p in prompts]\n")
    run_suite(make_suite(), f"python:{mod}:generate", tmp_path / "r")
    preds = [s["prediction"] for s in load_run(tmp_path / "r").samples]
    assert preds[0] == "q0\ud800"
    assert (tmp_path / "r" / "report.html").is_file()


def test_stage_timings_and_fewer_disk_flushes_than_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every batch is written at once, but forced to disk about once a second, and at the end."""
    n = 40
    write_jsonl(
        tmp_path / "d.jsonl", [{"id": str(i), "q": f"q{i}", "a": f"a{i}"} for i in range(n)]
    )
    write_jsonl(tmp_path / "p.jsonl", [{"id": str(i), "prediction": f"a{i % 2}"} for i in range(n)])
    (tmp_path / "s.yaml").write_text(
        "name: t\nbootstrap: {resamples: 10}\ntasks:\n  - name: qa\n"
        "    dataset: {path: d.jsonl, references: a}\n    prompt: '{q}'\n"
        "    metrics: [exact_match]\n",
        encoding="utf-8",
    )
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc") else "?")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    out = run_suite(
        tmp_path / "s.yaml", f"predictions:{tmp_path / 'p.jsonl'}", tmp_path / "r", batch_size=2
    )
    monkeypatch.undo()
    record_syncs = [p for p in synced if p.endswith("samples.jsonl")]
    # 20 batches in well under a second: the first batch, then the end of the run.
    assert 1 <= len(record_syncs) < 20
    lines = load_run(out.path).samples
    assert [ln["id"] for ln in lines] == [str(i) for i in range(n)]
    assert set(out.timings) == {
        "load", "adapter", "judge", "scoring", "record", "aggregate", "bootstrap", "reports",
        "total",
    }  # fmt: skip
    assert all(v >= 0 for v in out.timings.values())
    assert sum(v for k, v in out.timings.items() if k != "total") <= out.timings["total"]


CYCLIC_MODEL = """\
import gc
import weakref

class Node:
    pass

ALIVE = weakref.WeakSet()

def generate(prompts):
    # What the collector looks like when this batch starts, in the prediction.
    state = f"{gc.isenabled()}|{gc.get_freeze_count() > 0}|{len(ALIVE)}"
    for _ in range(50):  # cyclic garbage: only the cycle collector can free it
        a, b = Node(), Node()
        a.other, b.other = b, a
        ALIVE.add(a)
    return [state for _ in prompts]
"""


@pytest.mark.parametrize("enabled_before", [True, False])
def test_the_collector_is_paused_in_a_run_and_restored_after(
    tmp_path: Path, make_suite: Callable[..., Path], enabled_before: bool
) -> None:
    """Inside a run the automatic collector is off and survivors are frozen after each
    batch; the cyclic garbage of a batch is still freed when it ends, and the collector is
    left as it was."""
    import gc

    mod = tmp_path / "cyclic.py"
    mod.write_text(CYCLIC_MODEL)
    gc.collect()
    if not enabled_before:
        gc.disable()
    try:
        out = run_suite(make_suite(), f"python:{mod}:generate", tmp_path / "r", batch_size=2)
        assert gc.isenabled() is enabled_before
        assert gc.get_freeze_count() == 0
    finally:
        gc.enable()
    states = [s["prediction"] for s in load_run(out.path).samples]
    assert len(states) == 10
    # Off in every batch; the loaded data frozen before the first; and no cycle of an earlier
    # batch alive when the next starts (with the collector simply off, 50, 100, 150... would).
    assert set(states) == {"False|True|0"}
