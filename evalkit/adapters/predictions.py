"""``predictions:PATH``: score a file of existing model outputs.

The file is JSONL or CSV with ``id`` and ``prediction`` (and optionally ``task``, to tell apart
equal ids of different tasks, and ``error``, for calls that failed when the file was made).
A JSONL row may carry ``outputs``, a JSON object of other model outputs (``{"confidence":
0.9}`` for ``calibration``; a confidence outside [0, 1] is refused with the file and line).
Rows are joined to the dataset by id; a missing or duplicate id is an error that names it.

A row whose id is not in the dataset is an error naming the id, the file and the line, raised
before anything is scored: a mis-typed or misaligned file would otherwise pass with the wrong
numbers. Rows of tasks the run does not serve with this file are skipped (one file may hold
the predictions of several suites' tasks). Rows whose ids are in the dataset
but past the sample limit (``--limit`` or ``dataset.limit``) are fine: the runner prints one
warning line with how many were ignored (:meth:`PredictionsAdapter.check_ids`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from evalkit.adapters.base import REPLAY_BATCH_SIZE, ModelAdapter
from evalkit.data.outputs import read_predictions
from evalkit.errors import InputError
from evalkit.types import GenerateRequest, Generation


def _tasks(names: Sequence[str]) -> str:
    """``task 'a'`` or ``any of the tasks 'a', 'b'``."""
    if len(names) == 1:
        return f"task '{names[0]}'"
    return "any of the tasks " + ", ".join(f"'{n}'" for n in names)


class PredictionsAdapter(ModelAdapter):
    """Replay predictions from a JSONL or CSV file, joined to the dataset by id."""

    name: ClassVar[str] = "predictions"
    cacheable: ClassVar[bool] = False
    replay_batch_size: ClassVar[int | None] = REPLAY_BATCH_SIZE

    def __init__(self, target: str, **options: Any) -> None:
        if options:
            raise InputError(f"predictions: takes no options, got {', '.join(options)}.")
        self.path = Path(target)
        if not self.path.is_file():
            raise InputError(f"{self.path}: predictions file not found; check --model.")
        raw = self.path.read_bytes()
        self.sha256 = hashlib.sha256(raw).hexdigest()
        table = read_predictions(self.path, raw)
        self._by_key = table.outputs
        self._has_task = table.has_task
        #: The line of each row, in file order.
        self._lines = table.lines

    def _where(self, lineno: int) -> str:
        """``PATH:LINE`` of a line of the file (for messages)."""
        return f"{self.path}:{lineno}"

    def _key(self, req: GenerateRequest) -> tuple[str | None, str]:
        key: tuple[str | None, str] = (req.task, req.sample_id)
        if key in self._by_key:
            return key
        return (None, req.sample_id)

    def prepare(self, requests: Mapping[str, Sequence[GenerateRequest]]) -> None:
        known = self._by_key
        for task, reqs in requests.items():
            missing = [
                r.sample_id
                for r in reqs
                if (r.task, r.sample_id) not in known and (None, r.sample_id) not in known
            ]
            if missing:
                shown = ", ".join(f"'{m}'" for m in missing[:5])
                more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
                raise InputError(
                    f"{self.path}: no prediction for id {shown}{more} of task '{task}'; "
                    "add them, or run with --limit to score a prefix."
                )

    def check_ids(
        self,
        requests: Mapping[str, Sequence[GenerateRequest]],
        dataset_ids: Mapping[str, Collection[str]],
    ) -> str | None:
        """Check that every row belongs to a sample of the tasks this file serves.

        Args:
            requests: The requests of each task this file serves (the samples to be scored).
            dataset_ids: Every sample id of each of those tasks' datasets, including the ids
                past the sample limit.

        Returns:
            A one-line note saying how many rows were ignored because their samples are past
            the limit, or None when every row is used.

        Raises:
            InputError: For the first row whose id the datasets do not have, naming the id,
                the file and the line. Rows whose ``task`` is not one of ``requests`` (tasks
                left out of the run, or served by other models) are skipped.

        Example:
            >>> import tempfile, pathlib
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "preds.jsonl"
            >>> _ = path.write_text('{"id": "a", "prediction": "x"}\\n'
            ...                     '{"id": "b", "prediction": "y"}\\n')
            >>> adapter = PredictionsAdapter(str(path))
            >>> asked = {"qa": [GenerateRequest("", task="qa", sample_id="a")]}
            >>> adapter.check_ids(asked, {"qa": {"a", "b"}})  # doctest: +ELLIPSIS
            '...preds.jsonl: 1 of 2 predictions were ignored: their samples are past the...'
            >>> adapter.check_ids(asked, {"qa": {"a", "c"}})
            Traceback (most recent call last):
              ...
            evalkit.errors.InputError: ...preds.jsonl:2: id 'b' is not a sample of task 'qa'...
        """
        every = {t: set(ids) for t, ids in dataset_ids.items() if t in requests}
        asked = {t: {r.sample_id for r in reqs} for t, reqs in requests.items()}
        any_known: set[str] = set().union(*every.values())
        any_asked: set[str] = set().union(*asked.values())
        unknown: list[str] = []
        ignored = 0
        for (task, sid), lineno in self._lines.items():
            if task is None:
                known, used = sid in any_known, sid in any_asked
                what = f"id '{sid}' is not a sample of {_tasks(list(requests))}"
            elif task in every:
                known, used = sid in every[task], sid in asked[task]
                what = f"id '{sid}' is not a sample of task '{task}'"
            else:  # a row of another task (one left out of this run, or served by another
                continue  # model): a mis-typed task name leaves its own task's ids missing
            if not known:
                unknown.append(f"{self._where(lineno)}: {what}")
            elif not used:
                ignored += 1
        if unknown:
            more = (
                f" ({len(unknown)} of {len(self._lines)} rows are unknown)"
                if len(unknown) > 1
                else ""
            )
            raise InputError(
                f"{unknown[0]}{more}; fix the row or remove it: predictions are joined to the "
                "dataset by id, so a misaligned file would be scored against the wrong samples."
            )
        if not ignored:
            return None
        return (
            f"{self.path}: {ignored} of {len(self._lines)} predictions were ignored: their "
            "samples are past the sample limit (--limit or dataset.limit)."
        )

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        return [self._by_key[self._key(r)] for r in requests]

    def info(self) -> dict[str, Any]:
        return {"kind": self.name, "path": str(self.path), "sha256": self.sha256}
