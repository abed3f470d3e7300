"""The response cache knows what changed, says what it served, and survives a broken file.

Every test runs the real CLI (``evalkit.cli.main``, or a subprocess) against real SQLite files
in the per-test ``EVALKIT_CACHE_DIR`` that ``conftest.py`` sets.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import evalkit.cache as cache_mod
from evalkit.adapters.callable import _load, source_sha256
from evalkit.cache import ResponseCache, cache_key, clear_cache, default_cache_path
from evalkit.cli import main
from evalkit.errors import ConfigError
from evalkit.index import index_path
from evalkit.types import GenerateRequest, Generation
from tests.conftest import ROOT

TINY = ROOT / "models" / "tiny-gpt2" / "step-0075"

UPPER = "def generate(prompts):\n    return [p.upper() for p in prompts]\n"
LOWER = "def generate(prompts):\n    return [p.lower() + '!' for p in prompts]\n"


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def _run(
    suite: Path, model: str, out: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    return _main(["run", str(suite), "--model", model, "--out", str(out), *extra], capsys)


def _header(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def _samples(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]


def _rows(path: Path) -> list[tuple[str, str | None, float | None]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT key, adapter, created_at FROM responses_v2").fetchall()
    finally:
        db.close()


@pytest.fixture
def suite(make_suite: Callable[..., Path]) -> Path:
    rows = [{"id": str(i), "question": f"q{i}", "answer": f"Q{i}"} for i in range(4)]
    return make_suite(rows=rows, metrics="[exact_match]")


# ------------------------------------------------------------------ the key covers the code


def test_editing_a_python_adapter_file_is_a_cache_miss(
    tmp_path: Path, suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Repro: an edited ``python:`` function used to get its old outputs back from the cache."""
    mod = tmp_path / "model.py"
    mod.write_text(UPPER)
    spec = f"python:{mod}:generate"
    assert _run(suite, spec, tmp_path / "r1", capsys, "-q")[0] == 0
    code, _, err = _run(suite, spec, tmp_path / "r2", capsys)
    assert code == 0
    assert all(s["cached"] for s in _samples(tmp_path / "r2"))
    assert "cache: 4 of 4 samples came from the response cache" in err

    mod.write_text(LOWER)
    assert _run(suite, spec, tmp_path / "r3", capsys, "-q")[0] == 0
    third = _samples(tmp_path / "r3")
    assert [s["prediction"] for s in third] == ["q0!", "q1!", "q2!", "q3!"]
    assert not any(s["cached"] for s in third)
    info = _header(tmp_path / "r3")["model"]["info"]
    assert info["source_sha256"] != _header(tmp_path / "r1")["model"]["info"]["source_sha256"]


def test_editing_a_module_imported_by_name_is_a_cache_miss(tmp_path: Path, suite: Path) -> None:
    """``python:MODULE:FN`` hashes ``MODULE.__file__``; each CLI run is a fresh process."""
    (tmp_path / "mymodel.py").write_text(UPPER)
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def run(out: str) -> list[dict]:
        cmd = [sys.executable, "-m", "evalkit.cli", "run", str(suite), "-q"]
        cmd += ["--model", "python:mymodel:generate", "--out", out]
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return _samples(tmp_path / out)

    assert not any(s["cached"] for s in run("a"))
    assert all(s["cached"] for s in run("b"))
    (tmp_path / "mymodel.py").write_text(LOWER)
    fresh = run("c")
    assert not any(s["cached"] for s in fresh) and fresh[0]["prediction"] == "q0!"


def test_source_hash_covers_the_file_that_defines_a_reexported_function(tmp_path: Path) -> None:
    pkg = tmp_path / "evk_reexport_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .impl import generate\n")
    (pkg / "impl.py").write_text(UPPER)
    sys.path.insert(0, str(tmp_path))
    try:
        module, fn = _load("evk_reexport_pkg:generate")
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("evk_reexport_pkg", "evk_reexport_pkg.impl"):
            sys.modules.pop(name, None)
    before = source_sha256(module, fn)
    (pkg / "impl.py").write_text(LOWER)  # only the defining file changes, not __init__.py
    assert before is not None and source_sha256(module, fn) != before


def test_hf_cache_key_follows_the_weight_file(
    tmp_path: Path, make_suite: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The bundled tiny GPT-2, copied: a changed weight byte is a new key, so no stale hits."""
    pytest.importorskip("transformers")
    model_dir = tmp_path / "tiny"
    shutil.copytree(TINY, model_dir)
    suite = make_suite(
        rows=[
            {"id": "1", "question": "The", "answer": "x"},
            {"id": "2", "question": "A", "answer": "y"},
        ],
        metrics="[exact_match]",
        extra="    generation: {max_tokens: 3}\n",
    )
    spec = f"hf:{model_dir}"
    assert _run(suite, spec, tmp_path / "r1", capsys, "-q")[0] == 0
    assert _run(suite, spec, tmp_path / "r2", capsys, "-q")[0] == 0
    assert _header(tmp_path / "r2")["cache"] == {"enabled": True, "hits": 2, "misses": 0}

    weights = model_dir / "model.safetensors"
    blob = bytearray(weights.read_bytes())
    blob[-1] ^= 0x01  # the last byte of the last tensor: still a loadable checkpoint
    weights.write_bytes(bytes(blob))
    assert _run(suite, spec, tmp_path / "r3", capsys, "-q")[0] == 0
    old, new = (_header(tmp_path / r)["model"]["info"] for r in ("r1", "r3"))
    assert old["weights_sha256"] != new["weights_sha256"]
    assert _header(tmp_path / "r3")["cache"]["hits"] == 0
    request = GenerateRequest("The", max_tokens=3)
    assert cache_key(old, request) != cache_key(new, request)


# ---------------------------------------------------------- the run says what it served


def test_results_and_report_count_cached_samples(
    tmp_path: Path, suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(suite, "scripted:upper", tmp_path / "r1", capsys, "-q", "--limit", "3")[0] == 0
    first = _header(tmp_path / "r1")
    assert first["cache"] == {"enabled": True, "hits": 0, "misses": 3}
    assert _run(suite, "scripted:upper", tmp_path / "r2", capsys, "-q")[0] == 0
    second = _header(tmp_path / "r2")
    # the first three samples come from r1's calls, the fourth from the model
    assert second["cache"] == {"enabled": True, "hits": 3, "misses": 1}
    assert second["tasks"][0]["cached"] == 3 and second["counts"]["samples"] == 4
    html = (tmp_path / "r2" / "report.html").read_text()
    assert "<dt>from cache</dt><dd>3 of 4 samples</dd>" in html

    assert _run(suite, "scripted:upper", tmp_path / "r3", capsys, "-q", "--no-cache")[0] == 0
    assert _header(tmp_path / "r3")["cache"] == {"enabled": False, "hits": 0, "misses": 4}
    assert "4 samples (cache off)" in (tmp_path / "r3" / "report.html").read_text()


# ---------------------------------------------------------------- cache info and clear


def test_cache_info_and_clear_by_adapter_and_age(
    tmp_path: Path, suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _main(["cache", "info"], capsys)
    assert code == 0 and "(not created yet)" in out and "entries: 0" in out
    mod = tmp_path / "m.py"
    mod.write_text(UPPER)
    py = f"python:{mod}:generate"
    for i, spec in enumerate(["scripted:upper", "scripted:reverse", py]):
        assert _run(suite, spec, tmp_path / f"r{i}", capsys, "-q")[0] == 0

    code, out, _ = _main(["cache", "info", "--json"], capsys)
    info = json.loads(out)
    assert code == 0 and info["path"] == str(default_cache_path())
    assert info["entries"] == 12 and info["size_bytes"] > 0
    assert info["by_adapter"] == {py: 4, "scripted:reverse": 4, "scripted:upper": 4}
    assert info["oldest"] <= info["newest"] <= time.time()
    code, out, _ = _main(["cache", "info"], capsys)
    assert f"       4  {py}" in out and "entries: 12" in out and "oldest: 20" in out

    # age the scripted:upper rows by ten days, directly in the file
    db = sqlite3.connect(default_cache_path())
    with db:
        db.execute(
            "UPDATE responses_v2 SET created_at = created_at - 10 * 86400 "
            "WHERE adapter = 'scripted:upper'"
        )
    db.close()
    code, out, _ = _main(["cache", "clear", "--older-than", "5"], capsys)
    assert code == 0 and "removed 4 entries, kept 8" in out
    code, out, _ = _main(["cache", "clear", "--adapter", "scripted"], capsys)  # a whole kind
    assert code == 0 and "removed 4 entries, kept 4" in out
    assert {a for _, a, _ in _rows(default_cache_path())} == {py}
    code, out, _ = _main(["cache", "clear", "--adapter", "python:other.py:f"], capsys)
    assert "removed 0 entries, kept 4" in out
    code, out, _ = _main(["cache", "clear"], capsys)
    assert code == 0 and "removed 4 entries, kept 0" in out
    assert _rows(default_cache_path()) == []
    code, _, err = _main(["cache", "clear", "--older-than", "-1"], capsys)
    assert code == 2 and "--older-than" in err


def test_a_cache_from_before_the_adapter_column_still_works(
    tmp_path: Path, suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = default_cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    with db:  # the schema of earlier releases: no adapter, no time
        db.execute("CREATE TABLE responses_v2 (key TEXT PRIMARY KEY, text_json TEXT NOT NULL)")
        db.execute('INSERT INTO responses_v2 VALUES (\'old\', \'{"text": "x", "outputs": {}}\')')
    db.close()
    code, out, _ = _main(["cache", "info"], capsys)
    assert code == 0 and "       1  (unknown)" in out  # read-only: nothing migrated yet
    assert _run(suite, "scripted:upper", tmp_path / "r", capsys, "-q")[0] == 0
    assert sorted(a or "-" for _, a, _ in _rows(path)) == ["-"] + ["scripted:upper"] * 4
    code, out, _ = _main(["cache", "clear", "--older-than", "1"], capsys)
    assert "removed 1 entries, kept 4" in out  # a row of unknown age counts as old


# ----------------------------------------------------------------- broken cache files


def _random_bytes(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes((i * 97 + 13) % 256 for i in range(20000)))


def test_random_bytes_cache_warns_once_and_the_run_completes(
    tmp_path: Path, suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = default_cache_path()
    _random_bytes(path)
    code, out, err = _run(suite, "scripted:upper", tmp_path / "r", capsys, "-q")
    assert code == 0 and "t/exact_match" in out
    warnings = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and str(path) in warnings[0]
    assert "evalkit cache clear" in warnings[0] and "Traceback" not in err
    assert (tmp_path / "r" / "report.html").is_file()
    assert _header(tmp_path / "r")["cache"] == {"enabled": False, "hits": 0, "misses": 4}

    code, _, err = _main(["cache", "info"], capsys)
    assert code == 2 and str(path) in err and "evalkit cache clear" in err
    code, out, _ = _main(["cache", "clear", "--adapter", "scripted"], capsys)
    assert code == 0 and "replaced it with an empty cache" in out
    assert _run(suite, "scripted:upper", tmp_path / "r2", capsys, "-q")[0] == 0
    assert len(_rows(path)) == 4  # the new file caches again


def test_truncated_cache_mid_file_is_a_warning(
    tmp_path: Path, make_suite: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"id": str(i), "question": "q" * 300 + str(i), "answer": "a"} for i in range(60)]
    suite = make_suite(rows=rows, metrics="[exact_match]")
    assert _run(suite, "scripted:upper", tmp_path / "r1", capsys, "-q")[0] == 0
    path = default_cache_path()
    assert path.stat().st_size > 8 * 4096  # several pages, so the cut loses table pages
    with path.open("r+b") as fh:
        fh.truncate(2 * 4096)
    code, _, err = _run(suite, "scripted:upper", tmp_path / "r2", capsys, "-q")
    assert code == 0 and (tmp_path / "r2" / "report.html").is_file()
    warnings = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and str(path) in warnings[0] and "evalkit cache clear" in warnings[0]
    assert len(_samples(tmp_path / "r2")) == 60
    code, out, _ = _main(["cache", "clear"], capsys)
    assert code == 0 and "replaced it with an empty cache" in out


def test_cache_that_breaks_mid_run_keeps_serving_from_the_model(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put_many([("k", Generation(text="x"))])
    assert cache.get_many(["k"])["k"].text == "x"
    _random_bytes(tmp_path / "c.sqlite")  # another process wrecked the file under us
    cache._db.close()  # type: ignore[union-attr]  # drop SQLite's page cache of the old file
    cache._db = sqlite3.connect(tmp_path / "c.sqlite")
    assert cache.get_many(["k"]) == {} and not cache.usable
    cache.put_many([("k2", Generation(text="y"))])  # a no-op now, not an error
    assert cache.error is not None and "evalkit cache clear" in cache.error
    cache.close()


def test_corrupt_run_index_skips_indexing_and_runs_exits_2(
    tmp_path: Path, suite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = index_path()
    _random_bytes(path)
    code, _, err = _run(suite, "scripted:upper", tmp_path / "r", capsys, "-q")
    assert code == 0 and (tmp_path / "r" / "report.html").is_file()
    warnings = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and str(path) in warnings[0] and "not indexed" in warnings[0]
    code, _, err = _main(["runs"], capsys)
    assert code == 2 and str(path) in err and "delete" in err and "Traceback" not in err
    path.unlink()
    assert _run(suite, "scripted:upper", tmp_path / "r2", capsys, "-q")[0] == 0
    code, out, _ = _main(["runs"], capsys)
    assert code == 0 and str((tmp_path / "r2").resolve()) in out


def test_corrupt_files_in_a_real_process_print_no_traceback(tmp_path: Path, suite: Path) -> None:
    cache_dir = tmp_path / "cachedir"
    _random_bytes(cache_dir / "responses.sqlite")
    _random_bytes(cache_dir / "runs.sqlite")
    env = dict(os.environ, PYTHONPATH=str(ROOT), EVALKIT_CACHE_DIR=str(cache_dir))
    cmd = [sys.executable, "-m", "evalkit.cli", "run", str(suite), "-q"]
    cmd += ["--model", "scripted:echo", "--out", str(tmp_path / "r")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("warning:") == 2
    assert (tmp_path / "r" / "report.html").is_file()


def test_clear_cache_refuses_a_busy_file_rather_than_deleting_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.sqlite"
    ResponseCache(path).close()

    def impatient_connect(p: Path) -> sqlite3.Connection:
        # clear_cache waits up to 30 s for a lock; the test should not
        db = sqlite3.connect(p, timeout=0.1)
        db.execute("SELECT 1 FROM responses_v2").fetchall()
        return db

    monkeypatch.setattr(cache_mod, "_connect", impatient_connect)
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")  # another run is writing
    try:
        with pytest.raises(ConfigError, match="cannot clear the response cache"):
            clear_cache(path)
    finally:
        holder.rollback()
        holder.close()
    assert path.is_file() and _rows(path) == []  # still there, still a cache
