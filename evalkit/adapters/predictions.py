"""``predictions:PATH``: score a file of existing model outputs.

The file is JSONL or CSV with ``id`` and ``prediction`` (and optionally ``task``, to tell apart
equal ids of different tasks, and ``error``, for calls that failed when the file was made).
Rows are joined to the dataset by id; a missing or duplicate id is an error that names it.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from evalkit._io import iter_jsonl
from evalkit._textio import decode_utf8
from evalkit.adapters.base import ModelAdapter
from evalkit.errors import InputError
from evalkit.types import GenerateRequest, Generation


def _rows(path: Path, raw: bytes) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(PATH:LINE, row)`` of a JSONL or CSV file whose bytes are ``raw`` (UTF-8 text)."""
    if path.suffix.lower() == ".csv":
        with io.StringIO(decode_utf8(raw, path), newline="") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                yield f"{path}:{reader.line_num}", {k: v for k, v in row.items() if k is not None}
        return
    # This file's messages name its fields and leave out columns and types (as they always
    # have); see evalkit._io.iter_jsonl.
    rows = iter_jsonl(
        path,
        raw,
        fix="each line must be one JSON object with 'id' and 'prediction'",
        show_column=False,
        show_type=False,
    )
    for lineno, row in rows:
        yield f"{path}:{lineno}", row


class PredictionsAdapter(ModelAdapter):
    """Replay predictions from a JSONL or CSV file, joined to the dataset by id."""

    name: ClassVar[str] = "predictions"
    cacheable: ClassVar[bool] = False

    def __init__(self, target: str, **options: Any) -> None:
        if options:
            raise InputError(f"predictions: takes no options, got {', '.join(options)}.")
        self.path = Path(target)
        if not self.path.is_file():
            raise InputError(f"{self.path}: predictions file not found; check --model.")
        raw = self.path.read_bytes()
        self.sha256 = hashlib.sha256(raw).hexdigest()
        self._by_key: dict[tuple[str | None, str], Generation] = {}
        self._has_task = False
        first: dict[tuple[str | None, str], str] = {}
        for where, row in _rows(self.path, raw):
            if "id" not in row:
                raise InputError(f"{where}: field 'id' is missing; every row needs an id.")
            task = row.get("task")
            if task is not None:
                self._has_task = True
            key = (None if task is None else str(task), str(row["id"]))
            if key in first:
                raise InputError(
                    f"{where}: duplicate id '{key[1]}' (first at {first[key]}); "
                    "keep one prediction per id."
                )
            first[key] = where
            error = row.get("error") or None
            pred = row.get("prediction")
            if error is not None:
                self._by_key[key] = Generation(text=None, error=str(error))
            elif isinstance(pred, str):
                self._by_key[key] = Generation(text=pred)
            else:
                raise InputError(
                    f"{where}: field 'prediction' must be a string (got "
                    f"{type(pred).__name__}); mark failed calls with an 'error' field instead."
                )

    def _key(self, req: GenerateRequest) -> tuple[str | None, str]:
        key: tuple[str | None, str] = (req.task, req.sample_id)
        if key in self._by_key:
            return key
        return (None, req.sample_id)

    def prepare(self, requests: Mapping[str, Sequence[GenerateRequest]]) -> None:
        for task, reqs in requests.items():
            missing = [r.sample_id for r in reqs if self._key(r) not in self._by_key]
            if missing:
                shown = ", ".join(f"'{m}'" for m in missing[:5])
                more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
                raise InputError(
                    f"{self.path}: no prediction for id {shown}{more} of task '{task}'; "
                    "add them, or run with --limit to score a prefix."
                )

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        return [self._by_key[self._key(r)] for r in requests]

    def info(self) -> dict[str, Any]:
        return {"kind": self.name, "path": str(self.path), "sha256": self.sha256}
