"""Run folders that are safe: one writer, fresh names, the umask, portable paths, safe
``--overwrite``, no writes through planted links, and full disks that lose nothing.

The concurrency drills use real ``evalkit run`` processes and a ``python:`` adapter that holds
each call until the test opens a gate file, so "the first run is still live" is a fact, not a
race against a timer.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from evalkit import _io
from evalkit.cli import main
from evalkit.store import default_run_dir, portable_paths
from tests.conftest import ROOT, write_exact_match_suite, write_jsonl

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX locks and modes")

N = 10

#: A model that answers each call once the file $GATE exists; the first $FREE calls go through
#: at once (so a run can save a batch and then stay live).
GATED_MODEL = """\
import os, time
from pathlib import Path

_calls = 0


def generate(prompts):
    global _calls
    _calls += 1
    if _calls > int(os.environ.get("FREE", "0")):
        gate = Path(os.environ["GATE"])
        deadline = time.monotonic() + 120
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    return [p.replace("q", "a") for p in prompts]
"""


# -- helpers ---------------------------------------------------------------------------------


def _suite(folder: Path, n: int = N, bad_line: bool = False, prompt_pad: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pad = "x" * prompt_pad
    rows = [{"id": str(i), "question": f"q{i}{pad}", "answer": f"a{i}"} for i in range(n)]
    data = write_jsonl(folder / "data.jsonl", rows)
    if bad_line:
        with data.open("a", encoding="utf-8") as fh:
            fh.write('{"id": "x", "question": \n')
    return write_exact_match_suite(folder / "s.yaml", "test")


def _predictions(folder: Path, n: int = N, text: str = "a{i}") -> Path:
    return write_jsonl(
        folder / "preds.jsonl", [{"id": str(i), "prediction": text.format(i=i)} for i in range(n)]
    )


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def _popen(args: list[str], cwd: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "evalkit.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ids(run: Path) -> list[str]:
    raw = (run / "samples.jsonl").read_bytes()
    assert not raw or raw.endswith(b"\n"), "the record ends in the middle of a line"
    return [json.loads(line)["id"] for line in raw.splitlines()]


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _saved(run: Path) -> int:
    """Complete record lines so far (safe to call while a writer appends)."""
    try:
        return (run / "samples.jsonl").read_bytes().count(b"\n")
    except OSError:
        return 0


def _lock_pid(run: Path) -> int | None:
    try:
        text = (run / _io.FolderLock.NAME).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[tuple[list[str], Path]]:
    """``run`` arguments with the gated model, and the gate file that releases its calls."""
    suite = _suite(tmp_path)
    (tmp_path / "gated.py").write_text(GATED_MODEL, encoding="utf-8")
    gate = tmp_path / "gate"
    args = [
        "run",
        str(suite),
        "--model",
        f"python:{tmp_path / 'gated.py'}:generate",
        "--batch-size",
        "2",
        "--no-cache",
        "-q",
    ]
    yield args, gate
    gate.touch()  # never leave a process waiting


def _finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


# -- one writer per run folder ---------------------------------------------------------------


def test_two_runs_started_at_once_on_one_out_one_fails_naming_the_other(
    tmp_path: Path, gated: tuple[list[str], Path]
) -> None:
    args, gate = gated
    out = tmp_path / "run"
    procs = [
        _popen([*args, "--out", str(out)], tmp_path, GATE=str(gate)),
        _popen([*args, "--out", str(out)], tmp_path, GATE=str(gate)),
    ]
    # The loser ends by itself while the winner waits at the gate: it failed at once.
    _wait(lambda: any(p.poll() is not None for p in procs), "one run to give up", 120)
    loser = next(p for p in procs if p.poll() is not None)
    winner = next(p for p in procs if p is not loser)
    assert winner.poll() is None
    code, err = _finish(loser)
    assert code == 2, err
    assert f"process {winner.pid}" in err and "Traceback" not in err
    gate.touch()
    code, err = _finish(winner)
    assert code == 0, err
    assert sorted(_ids(out), key=int) == [str(i) for i in range(N)]  # each sample once
    assert not (out / _io.FolderLock.NAME).exists()


def test_two_resumes_at_once_one_fails_and_a_dead_holders_lock_does_not_block(
    tmp_path: Path, gated: tuple[list[str], Path]
) -> None:
    args, gate = gated
    out = tmp_path / "run"
    # A run that saves one batch, then hangs, then is killed: a stale lock file stays behind.
    crashed = _popen([*args, "--out", str(out)], tmp_path, GATE=str(gate), FREE="1")
    _wait(lambda: _saved(out) == 2, "a batch")
    assert _lock_pid(out) == crashed.pid
    crashed.send_signal(signal.SIGKILL)
    crashed.wait(timeout=30)
    assert _lock_pid(out) == crashed.pid  # the file is left, the lock is not

    resumes = [
        _popen([*args, "--out", str(out), "--resume"], tmp_path, GATE=str(gate)),
        _popen([*args, "--out", str(out), "--resume"], tmp_path, GATE=str(gate)),
    ]
    _wait(lambda: any(p.poll() is not None for p in resumes), "one resume to give up", 120)
    loser = next(p for p in resumes if p.poll() is not None)
    winner = next(p for p in resumes if p is not loser)
    code, err = _finish(loser)
    assert code == 2 and f"process {winner.pid}" in err, err
    gate.touch()
    code, err = _finish(winner)
    assert code == 0, err
    assert sorted(_ids(out), key=int) == [str(i) for i in range(N)]


def test_overwrite_while_a_run_is_live_fails_and_the_live_run_is_untouched(
    tmp_path: Path, gated: tuple[list[str], Path]
) -> None:
    args, gate = gated
    out = tmp_path / "run"
    live = _popen([*args, "--out", str(out)], tmp_path, GATE=str(gate), FREE="1")
    _wait(lambda: _saved(out) == 2, "a batch")
    overwrite = _popen([*args, "--out", str(out), "--overwrite"], tmp_path, GATE=str(gate))
    code, err = _finish(overwrite, timeout=60)
    assert live.poll() is None
    assert code == 2 and f"process {live.pid}" in err, err
    gate.touch()
    code, err = _finish(live)
    assert code == 0, err
    assert sorted(_ids(out), key=int) == [str(i) for i in range(N)]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run.")]  # no staging left


def test_folder_lock_is_exclusive_and_released() -> None:
    import tempfile

    folder = Path(tempfile.mkdtemp())
    with _io.FolderLock(folder) as lock:
        assert lock.held and _lock_pid(folder) == os.getpid()
        with pytest.raises(_io.LockHeld) as exc:
            _io.FolderLock(folder).acquire()
        assert exc.value.pid == os.getpid()
    assert not (folder / _io.FolderLock.NAME).exists()
    # A stale file with a dead process's pid is simply locked again.
    (folder / _io.FolderLock.NAME).write_text("999999\n")
    with _io.FolderLock(folder):
        assert _lock_pid(folder) == os.getpid()


def test_a_file_system_without_locks_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import fcntl

    def flock(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))  # as on some NFS mounts

    monkeypatch.setattr(fcntl, "flock", flock)
    with _io.FolderLock(tmp_path) as lock:
        assert not lock.held
    assert "cannot lock" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_does_not_keep_a_dead_runs_lock(tmp_path: Path) -> None:
    lock = _io.FolderLock(tmp_path).acquire()
    r, w = os.pipe()
    started_r, started_w = os.pipe()
    pid = os.fork()  # as the metrics' worker processes are started
    if pid == 0:  # the child: say it runs, then wait until told, holding what it inherited
        os.write(started_w, b"s")
        os.read(r, 1)
        os._exit(0)
    try:
        assert os.read(started_r, 1) == b"s"  # the child is past fork (and its hooks)
        # The parent dies without releasing (its descriptors close, the file stays).
        assert lock._fd is not None and lock._dir_fd is not None
        os.close(lock._fd)
        os.close(lock._dir_fd)
        lock._fd = lock._dir_fd = None
        # The worker is still alive, yet the folder can be locked again.
        _io.FolderLock(tmp_path).acquire().release()
    finally:
        os.write(w, b"x")
        os.waitpid(pid, 0)
        for fd in (r, w, started_r, started_w):
            os.close(fd)


# -- fresh default folder names --------------------------------------------------------------


def test_default_run_dirs_never_collide() -> None:
    names = {default_run_dir("s") for _ in range(300)}  # well within one second
    assert len(names) == 300


def test_two_runs_in_the_same_second_without_out_get_two_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _suite(tmp_path / "suite")
    preds = _predictions(tmp_path / "suite")
    monkeypatch.chdir(tmp_path)
    args = ["run", str(suite), "--model", f"predictions:{preds}", "-q"]
    assert _main(args, capsys)[0] == 0
    assert _main(args, capsys)[0] == 0
    runs = sorted((tmp_path / "reports" / "test").iterdir())
    assert len(runs) == 2
    assert [len(_ids(r)) for r in runs] == [N, N]
    # Comparisons without --out too: two in the same second get two folders.
    compare = ["compare", str(runs[0]), str(runs[1])]
    assert _main(compare, capsys)[0] == 0
    assert _main(compare, capsys)[0] == 0
    outs = sorted((tmp_path / "reports" / "compare").iterdir())
    assert len(outs) == 2
    assert all((o / "compare.json").is_file() for o in outs)


# -- modes follow the umask ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)]
)
def test_run_and_compare_files_follow_the_umask(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    umask: int,
    file_mode: int,
    dir_mode: int,
) -> None:
    suite = _suite(tmp_path / "suite")
    preds = _predictions(tmp_path / "suite")
    old = os.umask(umask)
    try:
        base = ["run", str(suite), "--model", f"predictions:{preds}", "-q"]
        assert _main([*base, "--out", str(tmp_path / "a")], capsys)[0] == 0
        assert _main([*base, "--out", str(tmp_path / "b")], capsys)[0] == 0
        # An overwrite swaps in a folder it built beside the old one: same modes.
        assert _main([*base, "--out", str(tmp_path / "b"), "--overwrite"], capsys)[0] == 0
        args = ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "c")]
        assert _main(args, capsys)[0] == 0
    finally:
        os.umask(old)
    checked = 0
    for folder in (tmp_path / "a", tmp_path / "b", tmp_path / "c"):
        assert oct(folder.stat().st_mode & 0o777) == oct(dir_mode), folder
        for path in folder.iterdir():
            assert oct(path.stat().st_mode & 0o777) == oct(file_mode), path
            checked += 1
    names = {p.name for p in (tmp_path / "a").iterdir()}
    assert {"results.json", "samples.jsonl", "results.csv", "report.html"} <= names
    assert checked >= 10


# -- portable paths --------------------------------------------------------------------------


def test_no_absolute_local_path_reaches_the_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _suite(tmp_path / "suite")
    preds = _predictions(tmp_path / "suite")
    monkeypatch.chdir(tmp_path)
    base = ["run", str(suite.resolve()), "--model", f"predictions:{preds.resolve()}", "-q"]
    assert _main([*base, "--out", str(tmp_path / "base")], capsys)[0] == 0
    out = tmp_path / "runs" / "r1"
    code, _, err = _main([*base, "--out", str(out), "--baseline", str(tmp_path / "base")], capsys)
    assert code == 0, err
    needles = {str(tmp_path), os.path.realpath(tmp_path)}
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) >= 4
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for needle in needles:
            assert needle not in text, f"{path.name} holds {needle}"
    header = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert header["model"]["spec"] == "predictions:preds.jsonl"  # relative to the suite
    assert header["tasks"][0]["dataset"]["path"] == "data.jsonl"
    assert header["suite"]["path"] == "suite/s.yaml"  # the suite file: relative to the cwd
    assert header["baseline"]["path"] == "base"
    # --resume compares identities in the same portable form.
    code, _, err = _main([*base, "--out", str(out), "--resume"], capsys)
    assert code == 0, err


def test_portable_paths_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    suite_dir = tmp_path / "suites"
    doc = {
        "in_suite": f"{suite_dir}/d/x.jsonl",
        "in_cwd": f"hf:{tmp_path}/models/m",
        "spec": f"images:{suite_dir}/img.npz|x",
        "elsewhere": "/usr/lib/model.bin",
        "url": "http://127.0.0.1:8000/v1",
        "list": [f"{suite_dir}", "relative/a/b"],
    }
    assert portable_paths(doc, suite_dir) == {
        "in_suite": "d/x.jsonl",
        "in_cwd": "hf:models/m",
        "spec": "images:img.npz|x",
        "elsewhere": "/usr/lib/model.bin",  # neither under the suite nor the cwd: kept
        "url": "http://127.0.0.1:8000/v1",
        "list": [".", "relative/a/b"],
    }
    # Metric parameters and signatures stay exact: comparisons rebuild the metric from them.
    exact = {"metric_params": {"fid": {"reference": f"{suite_dir}/r.npz"}}, "signature": "/a"}
    assert portable_paths(exact, suite_dir) == exact


# -- --overwrite that loses nothing ----------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_overwrite_with_a_bad_dataset_line_keeps_the_previous_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _suite(tmp_path / "good")
    preds = _predictions(tmp_path / "good")
    out = tmp_path / "run"
    assert (
        _main(["run", str(good), "-m", f"predictions:{preds}", "-o", str(out), "-q"], capsys)[0]
        == 0
    )
    before = _snapshot(out)
    bad = _suite(tmp_path / "bad", bad_line=True)
    code, _, err = _main(
        ["run", str(bad), "-m", f"predictions:{preds}", "-o", str(out), "-q", "--overwrite"],
        capsys,
    )
    assert code == 2 and "data.jsonl:11" in err, err
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "good", "run"]
    # A good overwrite replaces the run, and leaves nothing beside it.
    other = _predictions(tmp_path / "good", text="wrong{i}")
    code, _, err = _main(
        ["run", str(good), "-m", f"predictions:{other}", "-o", str(out), "-q", "--overwrite"],
        capsys,
    )
    assert code == 0, err
    header = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert header["results"][0]["value"] == 0.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "good", "run"]


def test_exchange_swaps_two_folders(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "from_a").touch()
    if not _io.exchange(tmp_path / "a", tmp_path / "b"):
        pytest.skip("this system has no atomic renameat2 exchange (two renames are used)")
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["from_a"]
    assert list((tmp_path / "a").iterdir()) == []


def test_overwrite_without_an_atomic_exchange_swaps_by_two_renames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _suite(tmp_path / "suite")
    args = ["run", str(suite), "-o", str(tmp_path / "run"), "-q"]
    preds = _predictions(tmp_path / "suite")
    assert _main([*args, "-m", f"predictions:{preds}"], capsys)[0] == 0
    monkeypatch.setattr(_io, "exchange", lambda a, b: False)  # as on macOS or old kernels
    other = _predictions(tmp_path / "suite", text="wrong{i}")
    assert _main([*args, "-m", f"predictions:{other}", "--overwrite"], capsys)[0] == 0
    header = json.loads((tmp_path / "run" / "results.json").read_text(encoding="utf-8"))
    assert header["results"][0]["value"] == 0.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "suite"]


def test_overwrite_refuses_a_symlinked_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _suite(tmp_path / "suite")
    preds = _predictions(tmp_path / "suite")
    real = tmp_path / "real"
    args = ["run", str(suite), "-m", f"predictions:{preds}", "-q"]
    assert _main([*args, "-o", str(real)], capsys)[0] == 0
    before = _snapshot(real)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    code, _, err = _main([*args, "-o", str(link), "--overwrite"], capsys)
    assert code == 2 and "symbolic link" in err and "Traceback" not in err, err
    assert link.is_symlink() and _snapshot(real) == before


# -- no writes through planted links ---------------------------------------------------------


def test_a_planted_tmp_symlink_is_not_written_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _suite(tmp_path / "suite")
    preds = _predictions(tmp_path / "suite")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "shared"
    out.mkdir()
    for name in ("results.json.tmp", "results.csv.tmp", "report.html.tmp", "samples.jsonl.tmp"):
        (out / name).symlink_to(victim)
    code, _, err = _main(
        ["run", str(suite), "-m", f"predictions:{preds}", "-o", str(out), "-q"], capsys
    )
    assert code == 0, err
    assert victim.read_text() == "precious\n"
    assert not (out / "results.json").is_symlink() and (out / "results.json").is_file()


def test_a_planted_samples_symlink_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _suite(tmp_path / "suite")
    preds = _predictions(tmp_path / "suite")
    victim = tmp_path / "victim.jsonl"
    victim.write_text('{"id": "not evalkit\'s"}\n{"cut')
    out = tmp_path / "shared"
    out.mkdir()
    (out / "samples.jsonl").symlink_to(victim)
    code, _, err = _main(
        ["run", str(suite), "-m", f"predictions:{preds}", "-o", str(out), "-q"], capsys
    )
    assert code == 2 and "symbolic link" in err, err
    assert victim.read_text() == '{"id": "not evalkit\'s"}\n{"cut'


# -- full disks ------------------------------------------------------------------------------

#: Runs evalkit with a file-size limit (RLIMIT_FSIZE) and SIGXFSZ ignored, so a write past the
#: limit fails with EFBIG, as a write on a full disk fails with ENOSPC: a real limit, set only
#: for that process, that cannot fill or break the machine's disks.
LIMITED = (
    "import resource, signal, sys\n"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
    "limit = int(sys.argv.pop(1))\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
    "from evalkit.cli import main\n"
    "sys.argv[0] = 'evalkit'\n"
    "main()\n"
)


def _limited(limit: int, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LIMITED, str(limit), *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_full_disk_under_out_keeps_the_record_and_resume_finishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 30
    suite = _suite(tmp_path / "suite", n=n, prompt_pad=400)  # ~0.9 KB per record line
    preds = _predictions(tmp_path / "suite", n=n)
    args = ["run", str(suite), "-m", f"predictions:{preds}", "--batch-size", "4", "-q"]
    clean = tmp_path / "clean"
    assert _main([*args, "-o", str(clean)], capsys)[0] == 0
    out = tmp_path / "run"
    # Room for the header and about ten record lines: the disk "fills" in the third batch.
    proc = _limited(10_000, [*args, "-o", str(out)], tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) <= 3, proc.stderr
    assert "samples.jsonl" in proc.stderr and "File too large" in proc.stderr
    assert "--resume" in proc.stderr
    kept = _ids(out)  # whole lines only
    assert kept == [str(i) for i in range(len(kept))] and 0 < len(kept) < n
    assert len(kept) % 4 == 0  # whole batches: a partial append was cut back
    assert f"{len(kept)} of {n} samples are saved" in proc.stderr
    assert json.loads((out / "results.json").read_text())["status"] == "running"

    # Space is back: --resume finishes, with the numbers of an uninterrupted run.
    code, _, err = _main([*args, "-o", str(out), "--resume"], capsys)
    assert code == 0, err
    assert _ids(out) == [str(i) for i in range(n)]
    done = json.loads((out / "results.json").read_text())
    ref = json.loads((clean / "results.json").read_text())
    assert done["results"] == ref["results"] and done["status"] == "completed"


def test_no_space_left_while_appending_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _suite(tmp_path / "suite")
    preds = _predictions(tmp_path / "suite")
    out = tmp_path / "run"
    real_write = os.write
    calls = {"n": 0}

    def write(fd: int, data: bytes | memoryview) -> int:
        target = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else ""
        if target.endswith("samples.jsonl"):
            calls["n"] += 1
            if calls["n"] >= 3:  # the third batch: half of it is written, then ENOSPC
                if calls["n"] == 3:
                    return real_write(fd, bytes(data)[: len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    if not os.path.exists("/proc/self/fd"):
        pytest.skip("needs /proc to tell which file a write goes to")
    args = ["run", str(suite), "-m", f"predictions:{preds}", "--batch-size", "2", "-q"]
    monkeypatch.setattr(os, "write", write)
    code, _, err = _main([*args, "-o", str(out)], capsys)
    monkeypatch.undo()
    assert code == 3 and "No space left on device" in err and "disk is full" in err, err
    assert "4 of 10 samples are saved" in err and "--resume" in err
    assert _ids(out) == ["0", "1", "2", "3"]
    code, _, err = _main([*args, "-o", str(out), "--resume"], capsys)
    assert code == 0, err
    assert _ids(out) == [str(i) for i in range(N)]


def test_failed_fsync_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x.jsonl"
    _io.append_bytes(path, b"one\n")

    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(_io.WriteError) as exc:
        _io.append_bytes(path, b"two\n")
    assert exc.value.disk_full and exc.value.exit_code == 3
    with pytest.raises(_io.WriteError):
        _io.write_bytes_atomic(tmp_path / "y.json", b"{}")
    monkeypatch.undo()
    assert path.read_bytes() == b"one\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.jsonl"]  # no temporary left


def test_full_cache_disk_is_a_warning_and_the_run_completes(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "suite")
    (tmp_path / "gated.py").write_text(GATED_MODEL, encoding="utf-8")
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    # A big cache file, so that its last pages lie beyond the limit given to the run.
    db = sqlite3.connect(cache_dir / "responses.sqlite")
    db.execute("CREATE TABLE filler (blob BLOB)")
    db.execute("INSERT INTO filler VALUES (?)", (b"\0" * 200_000,))
    db.commit()
    db.close()
    from evalkit.cache import ResponseCache

    ResponseCache(cache_dir / "responses.sqlite").close()  # the cache's own tables
    # The cache's own pages come last in the file; a limit below them makes storing a response
    # fail as it would on a full disk (updating a page there needs a write past the limit).
    limit = (cache_dir / "responses.sqlite").stat().st_size - 4096
    assert limit > 100_000  # above what the run folder's files need
    out = tmp_path / "run"
    model = f"python:{tmp_path / 'gated.py'}:generate"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            LIMITED,
            str(limit),
            "run",
            str(suite),
            "-m",
            model,
            "-o",
            str(out),
            "-q",
        ],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "EVALKIT_CACHE_DIR": str(cache_dir),
            "FREE": "1000",
            "GATE": str(tmp_path / "gate"),
        },
        capture_output=True,
        text=True,
        timeout=180,
    )
    # The cache is an optimisation: a cache it cannot write is one warning, and the run goes
    # on to a whole record.
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "responses.sqlite" in proc.stderr and "warning" in proc.stderr.lower()
    assert sorted(_ids(out), key=int) == [str(i) for i in range(N)]
