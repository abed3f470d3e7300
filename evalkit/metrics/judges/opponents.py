"""The outputs of the systems a pairwise judge compares the run's model against.

An opponent is given as a predictions file (JSONL or CSV with ``id`` and ``prediction``, and
optionally ``task`` and ``error``, as ``predictions:`` reads it) or as an evalkit run folder
(its ``samples.jsonl``). Only the rows of the judged task count (and, in a file, rows that
name no task). Their canonical SHA-256 goes into the metric's signature, so a comparison of
runs judged against different opponent outputs is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from evalkit.data.outputs import read_predictions, read_run_outputs
from evalkit.errors import InputError

__all__ = ["Opponent", "load_opponent", "opponent_from_texts"]


@dataclass(frozen=True)
class Opponent:
    """One opponent system's outputs for one task.

    Attributes:
        name: The system's name (the key of ``against``).
        source: The file or folder the outputs were read from.
        texts: Sample id -> output text, or None where the system's call failed.
        errors: Sample id -> why the call failed (only failed ids).
        sha256: SHA-256 of the task's outputs, canonical JSON (id-sorted).
    """

    name: str
    source: str
    texts: dict[str, str | None]
    errors: dict[str, str]
    sha256: str

    def require(self, sample_id: str, where: str) -> None:
        """Raise unless the opponent has a row (an output or a failure) for ``sample_id``.

        Raises:
            InputError: No row, naming the sample's file and line and the opponent's source.
        """
        if sample_id not in self.texts:
            raise InputError(
                f"{where}: system '{self.name}' has no output for id {sample_id!r} in "
                f"{self.source}; add it (a failed call as an 'error' field) or remove the "
                "sample."
            )


def load_opponent(name: str, path: str, task: str | None) -> Opponent:
    """Read an opponent's outputs for ``task`` from a predictions file or a run folder.

    Raises:
        InputError: The path is neither; a bad row (named by file and line); a run folder
            without rows for ``task``.

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "base.jsonl"
        >>> _ = f.write_text('{"id": "1", "prediction": "Paris"}\\n'
        ...                  '{"id": "2", "prediction": "", "error": "HTTP 503"}\\n')
        >>> o = load_opponent("base", str(f), "qa")
        >>> o.texts, o.errors
        ({'1': 'Paris', '2': None}, {'2': 'HTTP 503'})
    """
    p = Path(path)
    if p.is_dir():
        found = p / "samples.jsonl"
        if not found.is_file():
            raise InputError(
                f"{p}: the opponent '{name}' is a folder without samples.jsonl; give an "
                "evalkit run folder or a predictions file."
            )
        gens = read_run_outputs(found, task)
        if not gens:
            raise InputError(
                f"{found}: no samples of task {task!r}; the opponent '{name}' must be a run of "
                "the same task (set against_task if its name differs)."
            )
    elif p.is_file():
        gens = read_predictions(p, p.read_bytes()).of_task(task)
    else:
        raise InputError(
            f"{p}: the outputs of system '{name}' are not found; `against` maps names to "
            "predictions files or run folders (relative to the suite)."
        )
    texts: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for sid, gen in gens.items():
        texts[sid] = gen.text if gen.error is None else None
        if gen.error is not None:
            errors[sid] = gen.error
    return Opponent(name, str(p), texts, errors, _sha256(texts, errors))


def opponent_from_texts(name: str, texts: Mapping[str, str | None]) -> Opponent:
    """An opponent given inline: sample id -> output (None: the call failed).

    Raises:
        InputError: An output that is neither a string nor None.

    Example:
        >>> opponent_from_texts("base", {"1": "Paris", "2": None}).errors
        {'2': 'no output given'}
    """
    out: dict[str, str | None] = {}
    for sid, text in texts.items():
        if text is not None and not isinstance(text, str):
            raise InputError(
                f"against {name}: the output of id {sid!r} must be a string or null, got "
                f"{type(text).__name__}."
            )
        out[str(sid)] = text
    errors = {k: "no output given" for k, v in out.items() if v is None}
    return Opponent(name, "(inline)", out, errors, _sha256(out, errors))


def _sha256(texts: Mapping[str, str | None], errors: Mapping[str, str]) -> str:
    canon = json.dumps(
        [[k, texts[k], errors.get(k)] for k in sorted(texts)], ensure_ascii=False
    ).encode("utf-8")
    return hashlib.sha256(canon).hexdigest()
