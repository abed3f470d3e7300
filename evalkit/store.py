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

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import InputError

FORMAT_VERSION = 1
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
    """Write JSON through a temporary file and rename, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    # backslashreplace: a lone surrogate (possible in model text) becomes a valid JSON escape.
    with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as fh:
        json.dump(obj, fh, indent=2, ensure_ascii=False, default=_jsonable)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_header(run_dir: Path) -> dict[str, Any]:
    """Read ``results.json`` of a run directory."""
    path = Path(run_dir) / RESULTS
    if not path.is_file():
        raise InputError(
            f"{path}: no such file; is {run_dir} a run directory written by `evalkit run`?"
        )
    try:
        header: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}).") from exc
    return header


def iter_samples(path: Path, *, repair: bool = False) -> Iterator[dict[str, Any]]:
    """Yield the sample lines of ``samples.jsonl``.

    A process killed mid-write can leave a last line without its newline; that line is
    incomplete by construction and is skipped (and cut off the file when ``repair`` is set, so
    that appending resumes on a clean line). A bad line anywhere else is an InputError.
    """
    if not path.is_file():
        return
    data = path.read_bytes()
    complete_end = data.rfind(b"\n") + 1
    if repair and complete_end < len(data):
        with open(path, "r+b") as fh:
            fh.truncate(complete_end)
    for lineno, raw in enumerate(data[:complete_end].splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{lineno}: not valid JSON ({exc.msg}).") from exc


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


def append_samples(path: Path, lines: Iterable[dict[str, Any]]) -> None:
    """Append sample lines and flush them to disk (the resume point)."""
    with open(path, "a", encoding="utf-8", errors="backslashreplace") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False, default=_jsonable) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
