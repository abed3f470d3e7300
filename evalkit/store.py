"""Run directories: an append-only ``samples.jsonl`` and a ``results.json`` header.

Layout of a run directory::

    results.json    header (format_version, run_id, suite, model, versions, seed, status...)
                    and ``results``: tidy rows {task, metric, value, ci_low, ci_high, n,
                    n_errors, higher_is_better, signature}
    samples.jsonl   one JSON object per (task, sample): task, id, prompt, prediction,
                    references, error, cached, stats {metric key: per-sample statistic}
    results.csv     the tidy rows as CSV
    report.html     a self-contained HTML report

Every report, comparison and gate reads these files; none calls a model.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from evalkit import _io
from evalkit.errors import ConfigError, InputError
from evalkit.records import RESULTS_FORMAT_VERSION, check_run_header

FORMAT_VERSION = RESULTS_FORMAT_VERSION
RESULTS = "results.json"
SAMPLES = "samples.jsonl"


@dataclass
class RunRecord:
    """A run directory read back: its header and its sample lines."""

    path: Path
    header: dict[str, Any]
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def results(self) -> list[dict[str, Any]]:
        """The tidy result rows."""
        return list(self.header.get("results", []))

    def samples_for(self, task: str) -> list[dict[str, Any]]:
        """The sample lines of one task, in record order."""
        return [s for s in self.samples if s.get("task") == task]


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON through an exclusive temporary file and a rename (:mod:`evalkit._io`).

    A reader never sees half a file, a file planted at a predictable temporary name is never
    written through, and the file gets the user's umask.

    Raises:
        evalkit._io.WriteError: The disk is full (or another write failure); the previous
            file is intact.
    """
    _io.write_json_atomic(path, obj)


def read_header(run_dir: Path) -> dict[str, Any]:
    """Read ``results.json`` of a run directory, checked by :class:`evalkit.records.RunHeader`.

    Raises:
        InputError: The file is missing or not JSON.
        evalkit.records.RecordError: It was written by a newer evalkit (its ``format_version``
            is newer than this code reads), or it is not a run header.
    """
    path = Path(run_dir) / RESULTS
    if not path.is_file():
        raise InputError(
            f"{path}: no such file; is {run_dir} a run directory written by `evalkit run`?"
        )
    try:
        header: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}).") from exc
    check_run_header(header, path)
    return header


def iter_samples(path: Path, *, repair: bool = False) -> Iterator[dict[str, Any]]:
    """Yield the sample lines of ``samples.jsonl`` (read by :func:`evalkit._io.iter_jsonl`).

    A process killed mid-write can leave a last line without its newline; that line is
    incomplete by construction and is skipped (and cut off the file when ``repair`` is set, so
    that appending resumes on a clean line). A bad line anywhere else (not JSON, not a JSON
    object, not UTF-8) is an InputError naming the file and line.
    """
    if repair and path.is_symlink():
        # Repairing truncates: never do that to whatever file a planted link points at.
        raise InputError(
            f"{path}: is a symbolic link; evalkit does not write through links. Remove it, "
            "or resume from the folder that holds the real record."
        )
    if not path.is_file():
        return
    data = path.read_bytes()
    complete_end = data.rfind(b"\n") + 1
    if repair and complete_end < len(data):
        with open(path, "r+b") as fh:
            fh.truncate(complete_end)
    # evalkit wrote the file: a bad line's message gives no fix and no column.
    for _, row in _io.iter_jsonl(path, data, fix="", show_column=False, torn_last_line=True):
        yield row


def load_run(run_dir: str | os.PathLike[str]) -> RunRecord:
    """Read a run directory (header and samples) without calling any model.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_json_atomic(d / RESULTS, {"format_version": 1, "results": []})
    >>> append_samples(d / SAMPLES, [{"task": "t", "id": "1"}])
    >>> load_run(d).samples
    [{'task': 't', 'id': '1'}]
    """
    path = Path(run_dir)
    header = read_header(path)
    return RunRecord(path=path, header=header, samples=list(iter_samples(path / SAMPLES)))


def _jsonable(obj: Any) -> Any:
    """JSON fallback for NumPy scalars and arrays inside statistics."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


#: One encoder for every record line: ``json.dumps(ln, ensure_ascii=False,
#: default=_jsonable)`` builds an encoder per call; the bytes are the same.
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_jsonable)


def encode_samples(lines: Iterable[dict[str, Any]]) -> bytes:
    """The bytes :func:`append_samples` writes for ``lines``: one JSON object per line.

    >>> encode_samples([{"id": "1", "prediction": "é"}]).decode()
    '{"id": "1", "prediction": "é"}\\n'
    """
    encode = _LINE_ENCODER.encode
    text = "".join([encode(ln) + "\n" for ln in lines])
    # backslashreplace: a lone surrogate (possible in model text) becomes a valid JSON escape.
    return text.encode("utf-8", errors="backslashreplace")


def as_read_back(values: list[Any]) -> list[Any]:
    """``values`` (parts of record lines) as reading their lines back from the record gives.

    JSON turns tuples into lists, NumPy values into plain ones and dictionary keys into
    strings; this is the record's own encoder and decoder, so the result is what
    :func:`iter_samples` would yield for them (one encoding for the whole list).

    >>> import numpy as np
    >>> as_read_back([{"stats": {"m": (np.float64(0.5), 2)}}, {1: None}])
    [{'stats': {'m': [0.5, 2]}}, {'1': None}]
    """
    return list(json.loads(_LINE_ENCODER.encode(values)))


def append_samples(path: Path, lines: Iterable[dict[str, Any]], *, sync: bool = True) -> None:
    """Append sample lines and flush them to disk (the resume point): all or none of them.

    Args:
        path: The ``samples.jsonl`` file.
        lines: The record lines.
        sync: Force the lines to the disk now. Without it they are handed to the operating
            system (a killed process loses none of them) and :func:`sync_samples` flushes them
            later: the runner syncs about once a second rather than once a batch.

    Raises:
        evalkit._io.WriteError: The disk is full (or another write failure); the file holds
            exactly the lines it held before the call.
    """
    _io.append_bytes(path, encode_samples(lines), sync=sync)


def sync_samples(path: Path) -> None:
    """Flush lines appended with ``sync=False`` to disk.

    Raises:
        evalkit._io.WriteError: The flush failed (a full disk).
    """
    _io.sync_path(path)


# -- run folder names and paths -----------------------------------------------------------


def default_run_dir(suite_name: str, root: str | os.PathLike[str] = "reports") -> Path:
    """``ROOT/SUITE/<UTC time>-<random token>``: a fresh folder name that no other run takes.

    The UTC time (to the second) keeps a folder listing in start order; the 8 random hex
    digits keep two runs started in the same second (parallel CI jobs) apart.

    >>> a, b = default_run_dir("qa"), default_run_dir("qa")
    >>> a.parent == b.parent == Path("reports/qa") and a != b
    True
    """
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    while True:
        path = Path(root) / suite_name / f"{stamp}-{secrets.token_hex(4)}"
        if not path.exists():
            return path


# An absolute path inside a string: a "/" that starts a token (not part of a relative path or
# of a URL's "//"), up to a character that cannot be part of a path in these records.
_ABSOLUTE = re.compile(r"(?<![\w.~/-])/(?!/)[^\s|\"'<>,;:()\[\]{}]*")


def _relative_to(path: str, bases: list[str]) -> str:
    for candidate in dict.fromkeys((path, os.path.realpath(path))):
        for base in bases:
            if candidate == base:
                return "."
            if candidate.startswith(base + os.sep):
                return candidate[len(base) + 1 :]
    return path


#: Keys whose values stay exactly as recorded: comparisons and gates rebuild each metric from
#: its parameters and check its signature, so a path there must still open the file.
KEEP_EXACT = frozenset({"metric_params", "metrics", "signature"})


def portable_paths(
    obj: Any, suite_dir: str | os.PathLike[str] | None, keep: frozenset[str] = KEEP_EXACT
) -> Any:
    """``obj`` (JSON-like) with the absolute local paths in its strings made relative.

    A path under the suite's folder becomes relative to that folder (as the suite writes its
    dataset paths); another path under the working directory becomes relative to that; any
    other path (a model in site-packages) stays absolute, the last resort. Adapter specs
    (``predictions:/x/preds.jsonl``) are rewritten inside the string. Values under the keys in
    ``keep`` (metric parameters and signatures, by default) are left as they are. So a record
    shows no user name or home folder, and two checkouts of one repository write the same
    record.

    >>> cwd = os.getcwd()
    >>> portable_paths({"spec": f"predictions:{cwd}/s/p.jsonl", "d": f"{cwd}/s/d.jsonl"},
    ...                f"{cwd}/s") == {"spec": "predictions:p.jsonl", "d": "d.jsonl"}
    True
    >>> portable_paths(["http://127.0.0.1:8000/v1", "/"], None)
    ['http://127.0.0.1:8000/v1', '/']
    """
    bases = [os.path.realpath(b) for b in (suite_dir, os.getcwd()) if b is not None]
    # "/" as a base would turn every absolute path (and URL-like text) into a relative one.
    bases = [b for b in dict.fromkeys(bases) if b != os.sep]
    if not bases:
        return obj

    def fix(value: Any) -> Any:
        if isinstance(value, str):
            if os.sep not in value:
                return value
            return _ABSOLUTE.sub(lambda m: _relative_to(m.group(0), bases), value)
        if isinstance(value, dict):
            return {k: v if k in keep else fix(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [fix(v) for v in value]
        return value

    return fix(obj)


# -- one writer per run folder --------------------------------------------------------------


def _has_run(folder: Path) -> bool:
    return (folder / RESULTS).exists() or (folder / SAMPLES).exists()


class RunFolder:
    """A run folder held by one writer, with a safe ``--overwrite``.

    Opening takes a :class:`evalkit._io.FolderLock` on the folder (created if missing): a
    second writer, whether a new run, a ``--resume`` or an ``--overwrite``, fails at once with
    a ConfigError naming the holder's process id. The kernel drops the lock when the process
    exits, however it exits.

    With ``overwrite`` and a run already there, the new run is written into a sibling staging
    folder (``.NAME.new-XXXX``, created exclusively) while the old run stays in place and
    locked. :meth:`commit` swaps the new folder in; the runner calls it once the new record has
    its first flushed samples, so a suite that fails validation, an adapter that cannot start
    or a Ctrl-C before any sample leaves the previous results as they were. ``--overwrite``
    refuses a symbolic link as the run folder: replacing it would either remove the link's
    target or write somewhere the user did not name.

    Attributes:
        target: The run folder the user named.
        path: Where the record is written now: ``target``, or the staging folder until
            :meth:`commit`.
    """

    def __init__(self, target: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        self.target = Path(target)
        self.path = self.target
        self.overwrite = overwrite
        self._locks: list[_io.FolderLock] = []
        self._staging: Path | None = None
        self._created = False

    @property
    def staged(self) -> bool:
        """Whether the record is being written beside an old run that is still in place."""
        return self._staging is not None and self.path == self._staging

    def open(self) -> RunFolder:
        """Create (if needed) and lock the folder; stage a new folder for an overwrite.

        Raises:
            ConfigError: Another process writes this folder, ``--out`` is a file or (for an
                overwrite) a symbolic link or a folder that does not hold a run.
        """
        t = self.target
        if self.overwrite and t.is_symlink():
            raise ConfigError(
                f"{t}: is a symbolic link (to {os.readlink(t)}); --overwrite does not replace a "
                "run through a link. Give the folder it points to as --out, or remove the link."
            )
        if t.exists() and not t.is_dir():
            raise ConfigError(f"{t}: --out must be a folder, and this is a file.")
        if not t.exists():
            try:
                t.mkdir(parents=True)
                self._created = True
            except FileExistsError:
                pass  # another process made it just now: the lock decides who writes
            except OSError as exc:
                raise _io.WriteError(t, exc) from None
        self._lock(t)
        for name in (RESULTS, SAMPLES):
            if (t / name).is_symlink():
                raise ConfigError(
                    f"{t / name}: is a symbolic link; evalkit does not write through links. "
                    "Remove it, or choose another --out."
                )
        if self.overwrite and _has_run(t):
            self._stage()
        elif self.overwrite and any(p.name != _io.FolderLock.NAME for p in t.iterdir()):
            raise ConfigError(f"{t}: --overwrite only replaces a run directory; this one is not.")
        return self

    def _lock(self, folder: Path) -> None:
        try:
            self._locks.append(_io.FolderLock(folder).acquire())
        except _io.LockHeld as exc:
            who = f"process {exc.pid}" if exc.pid is not None else "another process"
            raise ConfigError(
                f"{self.target}: another evalkit run ({who}) is writing this run folder; wait "
                "for it to finish (or stop it), or choose another --out."
            ) from None

    def _stage(self) -> None:
        t = self.target
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{t.name}.new-", dir=t.parent))
            os.chmod(staging, _io.file_mode(executable=True))  # mkdtemp makes it 0700
        except OSError as exc:
            raise _io.WriteError(t.parent, exc) from None
        self._staging = self.path = staging
        self._lock(staging)

    def commit(self) -> None:
        """Swap a staged new run in for the old one (idempotent; nothing to do otherwise).

        Raises:
            evalkit._io.WriteError: A rename failed; the old run is back in place.
        """
        if not self.staged or self._staging is None:
            return
        t, staging = self.target, self._staging
        try:
            if _io.exchange(staging, t):  # one atomic step: `t` always holds a whole run
                self.path = t
                shutil.rmtree(staging, ignore_errors=True)  # the old run, now there
                return
            # Two renames. Renaming a folder over an empty one is allowed, so reserving the
            # "aside" name with mkdtemp makes the first move exclusive as well.
            aside = Path(tempfile.mkdtemp(prefix=f".{t.name}.old-", dir=t.parent))
            os.replace(t, aside)
        except OSError as exc:
            raise _io.WriteError(t, exc) from None
        try:
            os.replace(staging, t)
        except OSError as exc:
            os.replace(aside, t)
            raise _io.WriteError(t, exc) from None
        self.path = t
        shutil.rmtree(aside, ignore_errors=True)

    def close(self, failed: bool = False) -> None:
        """Release the locks; after a failure, remove what this object created and left empty."""
        try:
            if failed and self.staged and self._staging is not None:
                shutil.rmtree(self._staging, ignore_errors=True)
        finally:
            for lock in reversed(self._locks):
                lock.release()
            self._locks.clear()
        if failed and self._created:
            # Only when nothing was written (the lock file is gone by now).
            with contextlib.suppress(OSError):
                self.target.rmdir()

    def __enter__(self) -> RunFolder:
        try:
            return self.open()
        except BaseException:
            self.close(failed=True)
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(failed=exc is not None)
