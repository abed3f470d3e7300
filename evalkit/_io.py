"""Safe file reads and writes: the one JSONL reader, atomic replaces, exclusive temporary files,
appends that keep whole lines, the user's umask, and a one-writer lock on a folder.

Every JSONL file evalkit reads (datasets, predictions, retrieval runs, qrels and corpora, the
run record's ``samples.jsonl``) goes through :func:`iter_jsonl`: UTF-8 checked by
:mod:`evalkit._textio`, line numbers as an editor shows them, and one message template for a
bad line (``PATH:LINE: not valid JSON (...)``, ``PATH:LINE: expected a JSON object``).

Every file evalkit writes into a run folder or a report folder goes through here, so that:

- a reader never sees half a file (a temporary file in the same folder, then ``os.replace``);
- temporary files are created exclusively (``mkstemp``: ``O_CREAT | O_EXCL``, a random name),
  so a file planted under a predictable name (``results.json.tmp`` pointing elsewhere) is never
  written through, and appends refuse a symbolic link (``O_NOFOLLOW``);
- files get the mode the user's umask gives (0644 under the usual 022), not ``mkstemp``'s 0600;
- a failed write (full disk: ``ENOSPC``, the file-size limit: ``EFBIG``, a quota: ``EDQUOT``)
  leaves the file as it was before the write and raises :class:`WriteError`, an evalkit error
  with a one-line message naming the file, instead of a traceback.

:class:`FolderLock` is an advisory ``flock`` on a lock file inside a folder: the kernel drops
it when the holding process exits, however it exits, so a lock file left by a dead process
never blocks anyone.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from evalkit._textio import utf8_lines
from evalkit.errors import EvalkitError, InputError

try:  # POSIX; on other systems the lock is a no-op (documented in FolderLock)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DISK_FULL_ERRNOS",
    "FolderLock",
    "LockHeld",
    "WriteError",
    "append_bytes",
    "file_mode",
    "iter_jsonl",
    "write_atomic",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]

#: ``errno`` values that mean "no room": the disk, the per-process file-size limit
#: (``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored) or the user's quota.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})

_HINTS = {
    errno.ENOSPC: "the disk is full; free some space",
    errno.EFBIG: "the file-size limit was reached (ulimit -f); raise it",
    errno.EDQUOT: "the disk quota is exhausted; free some space",
    errno.EACCES: "permission denied; write somewhere you may write",
    errno.EPERM: "permission denied; write somewhere you may write",
    errno.EROFS: "the file system is read-only; write somewhere else",
    errno.ELOOP: "it is a symbolic link, and evalkit does not write through links; remove it",
}


class WriteError(EvalkitError):
    """A file could not be written; the file is left as it was before the write.

    Attributes:
        path: The file.
        errno: The ``errno`` of the failure (``ENOSPC``, ``EFBIG``...), or None.
    """

    exit_code = 3

    def __init__(self, path: str | os.PathLike[str], exc: OSError) -> None:
        self.path = Path(path)
        self.errno = exc.errno
        hint = _HINTS.get(exc.errno or 0, "")
        reason = exc.strerror or str(exc)
        super().__init__(f"{self.path}: cannot write ({reason}){': ' + hint if hint else ''}.")

    @property
    def disk_full(self) -> bool:
        """Whether the failure means there was no room (disk, file-size limit or quota)."""
        return self.errno in DISK_FULL_ERRNOS


class LockHeld(EvalkitError):
    """Another process holds a :class:`FolderLock`.

    Attributes:
        pid: The holder's process id as it wrote it in the lock file (None: not readable).
    """

    exit_code = 2

    def __init__(self, path: Path, pid: int | None) -> None:
        self.path = path
        self.pid = pid
        who = f"process {pid}" if pid is not None else "another process"
        super().__init__(f"{path}: locked by {who}.")


# -- the umask -----------------------------------------------------------------------------

_umask_lock = threading.Lock()


def _umask() -> int:
    """The process umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # Elsewhere the only way to read it is to set it; hold a lock so that two threads of this
    # module cannot interleave the set and the reset.
    with _umask_lock:
        old = os.umask(0o022)
        os.umask(old)
    return old


def file_mode(executable: bool = False) -> int:
    """The mode ``open()`` would give a new file: 0666 (0777 for folders) less the umask.

    >>> old = os.umask(0o022)
    >>> oct(file_mode()), oct(file_mode(executable=True))
    ('0o644', '0o755')
    >>> _ = os.umask(old)
    """
    return (0o777 if executable else 0o666) & ~_umask()


# -- atomic writes -------------------------------------------------------------------------


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every system can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a write may be short near a limit)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _replace(path: Path, write: Callable[[int], object]) -> Path:
    """Fill an exclusive temporary file next to ``path`` with ``write(fd)``, then rename it."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WriteError(path, exc) from None
    try:
        try:
            os.fchmod(fd, file_mode())  # mkstemp creates 0600
            write(fd)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        # Leave no temporary file behind, whatever stopped the write (Ctrl-C included).
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise WriteError(path, exc) from None
        raise
    _fsync_dir(path.parent)
    return path


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically, with the umask's mode.

    The data go to an exclusively created temporary file in the same folder (so the rename
    stays on one file system and is atomic), are flushed to disk, then renamed over ``path``.
    ``os.replace`` replaces a symbolic link at ``path`` itself; it never writes to its target.

    Args:
        path: The file to (over)write.
        data: Its full contents.

    Returns:
        ``path``.

    Raises:
        WriteError: The write failed (full disk, size limit, permissions); ``path`` is as it
            was and no temporary file is left behind.

    >>> p = Path(tempfile.mkdtemp()) / "x.txt"
    >>> write_bytes_atomic(p, b"hi").read_bytes()
    b'hi'
    """
    return _replace(Path(path), lambda fd: _write_all(fd, data))


def write_atomic(path: str | os.PathLike[str], fill: Callable[[IO[bytes]], object]) -> Path:
    """Replace ``path`` atomically with what ``fill`` writes to a binary file object.

    :func:`write_bytes_atomic` for contents too large to build in memory first (an embedding
    matrix: ``write_atomic(p, lambda fh: np.save(fh, matrix))``), with the same guarantees.

    Raises:
        WriteError: The write failed; ``path`` is as it was and no temporary file is left.
            Any other exception from ``fill`` propagates, with the same clean-up.

    >>> p = Path(tempfile.mkdtemp()) / "x.bin"
    >>> write_atomic(p, lambda fh: fh.write(b"hi")).read_bytes()
    b'hi'
    """

    def write(fd: int) -> None:
        with os.fdopen(fd, "wb", closefd=False) as fh:
            fill(fh)

    return _replace(Path(path), write)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically (see :func:`write_bytes_atomic`).

    Characters UTF-8 cannot encode (lone surrogates, which ``json.loads`` can produce from a
    ``"\\ud800"`` escape) become ``?`` rather than failing the whole file.
    """
    return write_bytes_atomic(path, text.encode("utf-8", errors="replace"))


def _jsonable(obj: Any) -> Any:
    """JSON fallback for NumPy scalars and arrays."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically (see :func:`write_bytes_atomic`).

    Lone surrogates (possible in model text) become ``\\udxxx`` escapes, valid JSON.
    """
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=_jsonable) + "\n"
    return write_bytes_atomic(path, text.encode("utf-8", errors="backslashreplace"))


# -- the JSONL reader ----------------------------------------------------------------------


#: ``json.loads``' own scanner (of the default decoder): ``(object, end)`` at an index.
_SCAN_ONCE: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_NOT_PARSED = object()


def iter_jsonl(
    path: str | os.PathLike[str],
    data: bytes | None = None,
    *,
    fix: str = "each line must be one JSON object",
    show_column: bool = True,
    show_type: bool = True,
    torn_last_line: bool = False,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line of a JSONL file.

    Lines are numbered from 1 as an editor numbers them (universal newlines, blank lines
    counted); lines holding only whitespace are skipped. The bytes must be UTF-8 (a leading
    BOM is dropped), all of them checked before the first line is parsed.

    The readers differ in a few ways, which are these options rather than copies of the loop:
    datasets and retrieval files show the column of a JSON error and the type of a non-object
    line, predictions name their fields in ``fix``, and the run record (written by evalkit
    itself) shows neither and accepts a torn last line.

    Args:
        path: The file, read unless ``data`` is given; named in every message.
        data: The file's bytes, when the caller has read them already (for a hash).
        fix: What a line must be, said after a JSON error (``PATH:LINE: not valid JSON (MSG);
            FIX.``); empty: no fix (``PATH:LINE: not valid JSON (MSG).``).
        show_column: Put the column in a JSON error (``MSG at column C``).
        show_type: Name what a non-object line holds (``expected a JSON object, got list.``).
        torn_last_line: Skip a last line that has no newline: a process killed while
            appending leaves one, incomplete by construction (the run record's case).
            Otherwise it is a line like any other.

    Raises:
        InputError: ``PATH:LINE: ...`` for a line that is not JSON or not a JSON object, and
            as :func:`evalkit._textio.decode_utf8` says for bytes that are not UTF-8.

    >>> p = Path(tempfile.mkdtemp()) / "d.jsonl"
    >>> _ = p.write_bytes(b'{"id": 1}\\n\\n{"id": 2}\\n[3]\\n')
    >>> it = iter_jsonl(p)
    >>> next(it), next(it)
    ((1, {'id': 1}), (3, {'id': 2}))
    >>> next(it)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.errors.InputError: .../d.jsonl:4: expected a JSON object, got list.
    """
    if data is None:
        data = Path(path).read_bytes()
    if torn_last_line:
        end = data.rfind(b"\n") + 1
        if end < len(data):
            data = data[:end]
    loads, scan = json.loads, _SCAN_ONCE
    for lineno, line in enumerate(utf8_lines(data, path), start=1):
        if line.isspace():
            continue
        # json.loads(line) without its wrappers (half its time on short lines): the scanner
        # of its default decoder on the line without JSON's whitespace; anything else (an
        # error, extra data) goes to json.loads, which raises what it always raised.
        text = line.strip(" \t\n\r")
        try:
            row, stop = scan(text, 0)
        except (StopIteration, json.JSONDecodeError):
            row, stop = _NOT_PARSED, -1
        try:
            if stop != len(text):
                row = loads(line)
        except json.JSONDecodeError as exc:
            detail = f"{exc.msg} at column {exc.colno}" if show_column else exc.msg
            raise InputError(
                f"{path}:{lineno}: not valid JSON ({detail}){'; ' + fix if fix else ''}."
            ) from None
        if not isinstance(row, dict):
            got = f", got {type(row).__name__}" if show_type else ""
            raise InputError(f"{path}:{lineno}: expected a JSON object{got}.")
        yield lineno, row


# -- appends -------------------------------------------------------------------------------


def append_bytes(path: str | os.PathLike[str], data: bytes, *, sync: bool = True) -> None:
    """Append ``data`` to ``path`` and flush it to disk; all of it or none of it.

    With ``sync=False`` the bytes reach the operating system (they survive the process being
    killed) but are not forced to the disk; the caller syncs later (:func:`sync_path`).

    The file is created with the umask's mode when missing, and never through a symbolic link
    (``O_NOFOLLOW``). When a write or the flush fails part-way (a full disk), the file is cut
    back to its size before the call, so it holds exactly what it held before.

    Raises:
        WriteError: The append failed; the file is unchanged.
    """
    path = Path(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o666)  # the umask applies
    except OSError as exc:
        raise WriteError(path, exc) from None
    try:
        before = os.fstat(fd).st_size
        try:
            _write_all(fd, data)
            if sync:
                os.fsync(fd)
        except BaseException as exc:
            # Cut off a partial append (Ctrl-C or a full disk between two writes) so that the
            # file ends where the last complete append ended.
            try:
                os.ftruncate(fd, before)
                os.fsync(fd)
            except OSError:
                pass
            if isinstance(exc, OSError):
                raise WriteError(path, exc) from None
            raise
    finally:
        os.close(fd)


def sync_path(path: str | os.PathLike[str]) -> None:
    """Flush a file's written bytes to disk (after appends made with ``sync=False``).

    Raises:
        WriteError: The flush failed (a full disk).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise WriteError(Path(path), exc) from None
    try:
        os.fsync(fd)
    except OSError as exc:
        raise WriteError(Path(path), exc) from None
    finally:
        os.close(fd)


# -- swapping folders ----------------------------------------------------------------------

#: ``renameat2`` flag: swap the two names atomically (Linux 3.15+, most local file systems).
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Swap two existing paths in one atomic step, where the system can (Linux ``renameat2``).

    Returns:
        True when swapped; False when this system or file system cannot (then nothing
        changed, and the caller falls back to two renames).

    Raises:
        OSError: The swap was possible but failed (a path is missing, permissions).
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False  # no libc, or a glibc older than 2.28
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), os.fspath(a))


# -- one writer per folder -----------------------------------------------------------------


#: Locks this process holds; a forked child drops its copies (see _forget_locks_in_child).
_HELD: weakref.WeakSet[FolderLock] = weakref.WeakSet()


def _forget_locks_in_child() -> None:
    """After ``fork``: close the child's copies of the lock files.

    A forked worker (metrics fork processes for large batches) shares the parent's open lock
    file, and an ``flock`` lasts until every copy is closed: without this, a worker that
    outlived a killed run would keep its folder locked. Closing the child's copy leaves the
    parent's lock in place.
    """
    for lock in list(_HELD):
        for fd in (lock._fd, lock._dir_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        lock._fd = lock._dir_fd = None
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_locks_in_child)


def _alive(pid: int) -> bool:
    """Whether a process with this pid exists (signal 0 checks without sending one)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process (or a pid the system cannot check)
    return True


class FolderLock:
    """An exclusive, non-blocking ``flock`` on ``FOLDER/NAME``, holding the owner's pid.

    The lock is tied to an open file, so the kernel releases it when the process exits, even
    when it is killed; a lock file left behind by a dead process is simply locked again. The
    file is removed on :meth:`release`. A folder that is renamed while locked stays locked
    (the lock lives on the folder's open file, not on its name).

    Without ``fcntl`` (Windows) the lock does nothing.

    >>> d = Path(tempfile.mkdtemp())
    >>> with FolderLock(d):
    ...     try:
    ...         FolderLock(d).acquire()
    ...     except LockHeld as exc:
    ...         exc.pid == os.getpid()
    True
    """

    NAME = ".evalkit.lock"

    def __init__(self, folder: str | os.PathLike[str], name: str = NAME) -> None:
        self.folder = Path(folder)
        self.name = name
        self._dir_fd: int | None = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> FolderLock:
        """Take the lock now, or fail.

        Raises:
            LockHeld: Another process (or another FolderLock of this one) holds it.
            WriteError: The lock file cannot be created (permissions, a symbolic link).
        """
        if fcntl is None or self._fd is not None:  # pragma: no cover - Windows, or re-entry
            return self
        path = self.folder / self.name
        try:
            # Names are opened relative to the folder's own descriptor, so a rename of the
            # folder (an overwrite swapping folders) cannot make us unlink someone else's file.
            dir_fd = os.open(self.folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise WriteError(self.folder, exc) from None
        try:
            fd = self._lock_file(dir_fd, path)
        except BaseException:
            os.close(dir_fd)
            raise
        if fd < 0:  # the file system cannot lock (warned)
            os.close(dir_fd)
            return self
        self._dir_fd, self._fd = dir_fd, fd
        _HELD.add(self)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass  # a full disk: the lock holds all the same, only the pid cannot be shown
        return self

    def _lock_file(self, dir_fd: int, path: Path) -> int:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC
        for _ in range(50):
            try:
                fd = os.open(self.name, flags, 0o666, dir_fd=dir_fd)
            except OSError as exc:
                raise WriteError(path, exc) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise LockHeld(path, self._holder(dir_fd)) from None
            except OSError as exc:
                # No locks on this file system (ENOLCK on some network mounts): write without
                # one rather than refuse to run, and say so.
                os.close(fd)
                with contextlib.suppress(OSError):
                    os.unlink(self.name, dir_fd=dir_fd)
                print(
                    f"warning: cannot lock {path} ({exc.strerror}); make sure no other evalkit "
                    "run writes this folder at the same time.",
                    file=sys.stderr,
                    flush=True,
                )
                return -1
            # A holder that was releasing may have unlinked the file between our open and our
            # flock: then we hold a lock on a file nobody else can find. Check and try again.
            try:
                now = os.stat(self.name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                now = None
            mine = os.fstat(fd)
            if now is not None and (now.st_ino, now.st_dev) == (mine.st_ino, mine.st_dev):
                return fd
            os.close(fd)
        raise LockHeld(path, None)  # pragma: no cover - 50 lost races in a row

    def _holder(self, dir_fd: int) -> int | None:
        """The pid written in the lock file (the holder writes it right after locking).

        Until it does, the file may still hold the pid of an earlier holder that was killed
        (its lock went with it): a pid that is not alive is read again, for a moment.
        """
        pid = None
        for _ in range(20):
            try:
                fd = os.open(self.name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0), dir_fd=dir_fd)
                try:
                    text = os.read(fd, 64).decode("ascii", "replace").strip()
                finally:
                    os.close(fd)
            except OSError:
                return None
            if text.isdigit():
                pid = int(text)
                if _alive(pid):
                    return pid
            time.sleep(0.01)
        return pid

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        fd, dir_fd = self._fd, self._dir_fd
        self._fd = self._dir_fd = None
        _HELD.discard(self)
        if fd is None or dir_fd is None:
            return
        try:
            # Unlink only our own file: the folder may have been renamed and a new one with
            # its own lock file put in its place.
            now = os.stat(self.name, dir_fd=dir_fd, follow_symlinks=False)
            mine = os.fstat(fd)
            if (now.st_ino, now.st_dev) == (mine.st_ino, mine.st_dev):
                os.unlink(self.name, dir_fd=dir_fd)
        except OSError:
            pass  # the folder is gone (an old run removed after an overwrite)
        finally:
            os.close(fd)
            os.close(dir_fd)

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
