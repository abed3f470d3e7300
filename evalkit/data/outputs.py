"""Files of model outputs: predictions files, and the outputs recorded in a run folder.

A predictions file is JSONL or CSV with ``id`` and ``prediction`` (and optionally ``task``,
``error`` for a call that failed when the file was made, and, in JSONL, ``outputs``, a JSON
object of other model outputs). The ``predictions:`` adapter replays one; a pairwise judge
reads its opponents' outputs from one or from a run folder's ``samples.jsonl``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit._io import iter_jsonl
from evalkit._textio import decode_utf8
from evalkit.errors import InputError
from evalkit.types import Generation

__all__ = [
    "PredictionTable",
    "prediction_rows",
    "read_predictions",
    "read_run_outputs",
    "row_outputs",
]


def prediction_rows(path: Path, raw: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(LINE, row)`` of a JSONL or CSV file whose bytes are ``raw`` (UTF-8 text)."""
    if path.suffix.lower() == ".csv":
        with io.StringIO(decode_utf8(raw, path), newline="") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                yield reader.line_num, {k: v for k, v in row.items() if k is not None}
        return
    # This file's messages name its fields and leave out columns and types (as they always
    # have); see evalkit._io.iter_jsonl.
    yield from iter_jsonl(
        path,
        raw,
        fix="each line must be one JSON object with 'id' and 'prediction'",
        show_column=False,
        show_type=False,
    )


def row_outputs(where: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A JSONL row's optional ``outputs`` object (other model outputs, e.g. a confidence).

    A ``confidence`` in it must be a number in [0, 1] (what ``calibration`` reads), checked
    here so that the message names the file and line.
    """
    value = row.get("outputs")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(
            f"{where}: field 'outputs' must be a JSON object such as {{\"confidence\": 0.9}}, "
            f"got {type(value).__name__}."
        )
    conf = value.get("confidence")
    if "confidence" in value and (
        isinstance(conf, bool)
        or not isinstance(conf, int | float)
        or not 0.0 <= conf <= 1.0  # NaN fails both comparisons
    ):
        raise InputError(
            f"{where}: field 'outputs.confidence' must be a probability in [0, 1], got {conf!r}."
        )
    return dict(value)


@dataclass(frozen=True)
class PredictionTable:
    """A predictions file, read and checked.

    Attributes:
        outputs: ``(task or None, id)`` -> the row's output (``error`` set: a failed call).
        lines: ``(task or None, id)`` -> the row's line, in file order.
        has_task: Whether any row names its task.
    """

    outputs: dict[tuple[str | None, str], Generation]
    lines: dict[tuple[str | None, str], int]
    has_task: bool

    def of_task(self, task: str | None) -> dict[str, Generation]:
        """Sample id -> output of the rows of ``task``, and of rows naming no task (a row
        naming ``task`` wins over one of the same id naming none)."""
        out = {i: g for (t, i), g in self.outputs.items() if t is None}
        out.update({i: g for (t, i), g in self.outputs.items() if t is not None and t == task})
        return out


def read_predictions(path: Path, raw: bytes) -> PredictionTable:
    """Read the predictions file ``path`` whose bytes are ``raw``.

    Raises:
        InputError: A row without ``id``, a duplicate id (of one task), a ``prediction`` that is
            not a string in a row without ``error``, a bad ``outputs`` object; each names the
            file and line.

    Example:
        >>> t = read_predictions(Path("p.jsonl"), b'{"id": 1, "prediction": "a"}\\n'
        ...                      b'{"id": 2, "prediction": null, "error": "HTTP 500"}\\n')
        >>> t.of_task("qa")["1"].text, t.of_task("qa")["2"].error, t.lines[(None, "2")]
        ('a', 'HTTP 500', 2)
    """
    by_key: dict[tuple[str | None, str], Generation] = {}
    first: dict[tuple[str | None, str], int] = {}
    has_task = False
    for lineno, row in prediction_rows(path, raw):
        if "id" not in row:
            raise InputError(f"{path}:{lineno}: field 'id' is missing; every row needs an id.")
        task = row.get("task")
        if task is not None:
            has_task = True
        key = (None if task is None else str(task), str(row["id"]))
        if key in first:
            raise InputError(
                f"{path}:{lineno}: duplicate id '{key[1]}' (first at {path}:{first[key]}); "
                "keep one prediction per id."
            )
        first[key] = lineno
        error = row.get("error") or None
        pred = row.get("prediction")
        if error is not None:
            by_key[key] = Generation(text=None, error=str(error))
        elif isinstance(pred, str):
            outputs = row_outputs(f"{path}:{lineno}", row) if "outputs" in row else {}
            by_key[key] = Generation(text=pred, outputs=outputs)
        else:
            raise InputError(
                f"{path}:{lineno}: field 'prediction' must be a string (got "
                f"{type(pred).__name__}); mark failed calls with an 'error' field instead."
            )
    return PredictionTable(by_key, first, has_task)


def read_run_outputs(path: Path, task: str | None) -> dict[str, Generation]:
    """Sample id -> recorded output of ``task`` in a run's ``samples.jsonl`` at ``path``.

    A torn last line (a process killed mid-write) is skipped, as the run store skips it.

    Raises:
        InputError: A line that is not a JSON object, naming the file and line.
    """
    out: dict[str, Generation] = {}
    for _, row in iter_jsonl(
        path, path.read_bytes(), fix="", show_column=False, torn_last_line=True
    ):
        if row.get("task") != task:
            continue
        err, pred = row.get("error"), row.get("prediction")
        if err is None and isinstance(pred, str):
            out[str(row.get("id"))] = Generation(text=pred)
        else:
            out[str(row.get("id"))] = Generation(text=None, error=str(err or "no text output"))
    return out
