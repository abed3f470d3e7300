"""Shared helpers of the retrieval file readers: JSONL and TREC lines, query ids, JSON
mappings, and the read-only ``{query: {doc: value}}`` base of ``Qrels`` and ``Run``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from evalkit._io import iter_jsonl
from evalkit._textio import utf8_lines
from evalkit.errors import InputError

_ID_KEYS = ("query_id", "qid", "id")
JSONL = (".jsonl", ".ndjson")


def json_lines(path: Path, data: bytes | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(PATH:LINE, object)`` per line of a JSONL file (see :func:`evalkit._io.iter_jsonl`)."""
    for lineno, row in iter_jsonl(path, data):
        yield f"{path}:{lineno}", row


def query_id(row: dict[str, Any], where: str) -> str:
    for key in _ID_KEYS:
        if key in row:
            qid = row[key]
            if isinstance(qid, bool) or not isinstance(qid, str | int):
                raise InputError(
                    f"{where}: '{key}' must be a string or an integer, got {type(qid).__name__}."
                )
            return str(qid)
    raise InputError(
        f"{where}: no query id; give it as 'query_id' (or 'qid', or 'id'). "
        f"Fields here: {', '.join(sorted(row)) or '(none)'}."
    )


def text_lines(path: Path) -> Iterator[tuple[str, list[str]]]:
    """``(PATH:LINE, whitespace-separated columns)`` per non-blank line of a TREC file."""
    for lineno, line in enumerate(utf8_lines(path.read_bytes(), path), start=1):
        parts = line.split()
        if parts:
            yield f"{path}:{lineno}", parts


def check_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise InputError(f"{path}: {what} file not found; check the path.")


def json_mapping(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}).") from None
    if not isinstance(data, dict):
        raise InputError(
            f"{path}: a JSON {what} file must hold one mapping {{query_id: {{doc_id: ...}}}}, "
            f"got {type(data).__name__}."
        )
    return data


V = TypeVar("V", int, float)


class ByQuery(Mapping[str, dict[str, V]]):
    """A read-only ``{query id: {doc id: value}}`` mapping over ``self._data``."""

    _data: dict[str, dict[str, V]]

    def __getitem__(self, key: str) -> dict[str, V]:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)
