"""Text files as people have them: UTF-8 (with or without a BOM), or a clear error.

Suites, datasets, predictions, retrieval inputs and run records are UTF-8. A file saved in
another encoding (Latin-1 or Windows-1252 from a spreadsheet, UTF-16 from Windows Notepad) is
refused with the line, the byte offset and the byte itself, and with a guess of what the file
is, so that the fix is one command rather than a traceback.
"""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Iterator
from pathlib import Path

from evalkit.errors import EvalkitError, InputError

__all__ = ["decode_utf8", "read_utf8", "utf8_lines"]


def _guess(raw: bytes) -> str:
    """What the file probably is and how to convert it (the fix part of the message)."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return (
            "it looks like UTF-16 (it starts with a UTF-16 byte-order mark); re-save it as "
            "UTF-8, e.g. `iconv -f utf-16 -t utf-8 FILE > FILE.utf8`."
        )
    try:
        raw.decode("cp1252")
    except UnicodeDecodeError:
        return "re-encode it as UTF-8."
    # Every byte decodes as Windows-1252 (a superset of Latin-1 in the printable range): the
    # usual export encoding of spreadsheets and older editors on Windows.
    return (
        "it looks like Latin-1/cp1252; re-save it as UTF-8, e.g. "
        "`iconv -f cp1252 -t utf-8 FILE > FILE.utf8`."
    )


def decode_utf8(
    raw: bytes, path: str | os.PathLike[str], error: type[EvalkitError] = InputError
) -> str:
    """``raw`` decoded as UTF-8 (a leading BOM is dropped), or ``error`` naming line and byte.

    Args:
        raw: The file's bytes.
        path: The file, for the message.
        error: The exception class to raise (ConfigError for suites, InputError for data).

    Raises:
        EvalkitError: ``error``, saying ``PATH:LINE: byte OFFSET (0xNN, column C) is not
            valid UTF-8; FIX``.

    >>> decode_utf8("café".encode(), "d.jsonl")
    'café'
    >>> decode_utf8(b"ok\\ncaf\\xe9", "d.jsonl")
    Traceback (most recent call last):
    ...
    evalkit.errors.InputError: d.jsonl:2: byte 6 (0xe9, column 4) is not valid UTF-8; it looks like Latin-1/cp1252; re-save it as UTF-8, e.g. `iconv -f cp1252 -t utf-8 FILE > FILE.utf8`.
    """  # noqa: E501
    start = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        return raw[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        line = raw.count(b"\n", 0, offset) + 1
        column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
        raise error(
            f"{path}:{line}: byte {offset} (0x{raw[offset]:02x}, column {column}) is not valid "
            f"UTF-8; {_guess(raw)}"
        ) from None


def read_utf8(path: str | Path, error: type[EvalkitError] = InputError) -> str:
    """The text of the file at ``path`` (see :func:`decode_utf8`)."""
    return decode_utf8(Path(path).read_bytes(), path, error)


def utf8_lines(
    raw: bytes, path: str | os.PathLike[str], error: type[EvalkitError] = InputError
) -> Iterator[str]:
    """The lines of ``raw`` as reading the file in text mode gives them, once ``raw`` is UTF-8.

    Universal newlines (``\\n``, ``\\r\\n`` and ``\\r`` end a line, and each line ends with
    ``\\n`` but perhaps the last); not :meth:`str.splitlines`, which also splits on U+2028 and
    other characters that JSON strings may hold. A leading BOM is dropped. All of ``raw`` is
    checked before the first line comes (cheaply when it is ASCII), so an encoding problem is
    reported as :func:`decode_utf8` reports it, whatever lines come before it. The text is
    decoded as it is read, never held whole beside ``raw``.

    Raises:
        EvalkitError: ``error``, as :func:`decode_utf8` raises it.

    >>> list(utf8_lines(b"\\xef\\xbb\\xbfa\\r\\nb\\rc\\xe2\\x80\\xa8d", "f.txt"))
    ['a\\n', 'b\\n', 'c\\u2028d']
    """
    if not raw.isascii():
        decode_utf8(raw, path, error)  # raises on the first byte that is not UTF-8
    with io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig", newline=None) as fh:
        yield from fh
