"""Atomic file writes for reports: a reader never sees half a report."""

from __future__ import annotations

from pathlib import Path

from evalkit import _io


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    ``os.replace`` is atomic when source and target are on the same file system, which a
    temporary file next to the target guarantees.

    Args:
        path: The file to (over)write.
        data: Its full contents.

    Returns:
        ``path``.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> write_bytes_atomic(p, b"hi").read_bytes()
    b'hi'
    """
    # The one atomic writer (exclusive temporary file, the user's umask, WriteError on a full
    # disk) lives in evalkit._io.
    return _io.write_bytes_atomic(path, data)


def write_text_atomic(path: Path, text: str) -> Path:
    """Write UTF-8 text atomically (see :func:`write_bytes_atomic`).

    Characters UTF-8 cannot encode (lone surrogates, which ``json.loads`` can produce from a
    ``"\\ud800"`` escape) become ``?`` rather than failing the whole report.
    """
    return write_bytes_atomic(path, text.encode("utf-8", errors="replace"))
