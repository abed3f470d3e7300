"""Load task samples from JSONL, CSV or Parquet with a field mapping.

:class:`DatasetSpec` is a task's ``dataset:`` mapping as the suite YAML gives it; it lives here,
with the loader that reads it, and :mod:`evalkit.suite` uses it in its schema. Every problem
names the file, the line (or row) and the field, and says what to change.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evalkit._io import iter_jsonl
from evalkit._textio import decode_utf8
from evalkit.errors import ConfigError, EvalkitError, InputError
from evalkit.types import Sample

__all__ = ["Dataset", "DatasetSpec", "QrelsFileInfo", "load_dataset", "template_fields"]


class DatasetSpec(BaseModel):
    """Where a task's samples come from and which fields mean what."""

    # The suite schema's strict config (evalkit.suite._Strict): unknown keys are errors, and a
    # parsed spec cannot change.
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    format: Literal["jsonl", "csv", "parquet"] | None = None
    id: str | None = None
    references: str | None = None
    #: The field holding a query's relevance judgments ``{doc_id: grade}`` (retrieval tasks).
    qrels: str | None = None
    #: A TREC, BEIR (TSV), JSONL or JSON qrels file holding the judgments instead (retrieval
    #: tasks; relative to the suite file, like ``path``). Exclusive with ``qrels``.
    qrels_file: str | None = None
    limit: int | None = Field(default=None, ge=1)


@dataclass(frozen=True)
class QrelsFileInfo:
    """Where a task's judgments came from (``dataset: {qrels_file: PATH}``) and how they matched.

    Attributes:
        path: The qrels file.
        sha256: SHA-256 of its bytes.
        judged: Queries that the file judges.
        unjudged: Dataset queries that the file does not judge (they get no judgments, so the
            ranking metrics' ``no_relevant`` policy scores them).
        not_in_dataset: Judged queries that are not samples of the task (ignored).
    """

    path: Path
    sha256: str
    judged: int
    unjudged: int
    not_in_dataset: int

    def note(self, policy: str | None = None) -> str:
        """The one-line summary; ``policy`` says how the unjudged queries are scored.

        >>> QrelsFileInfo(Path("q.tsv"), "0f", 5, 2, 1).note("zero")
        "qrels: 5 queries judged, 2 of the dataset's queries have no judgments (scored as \
no_relevant: zero), 1 judged queries are not in the dataset (ignored)"
        """
        scored = f"no_relevant: {policy}" if policy else "the metrics' no_relevant policy"
        return (
            f"qrels: {self.judged} queries judged, {self.unjudged} of the dataset's queries have "
            f"no judgments (scored as {scored}), {self.not_in_dataset} judged queries are not in "
            "the dataset (ignored)"
        )

    def info(self, policy: str | None = None) -> dict[str, Any]:
        """What the run record keeps about the qrels file."""
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "judged": self.judged,
            "unjudged": self.unjudged,
            "not_in_dataset": self.not_in_dataset,
            "note": self.note(policy),
        }


@dataclass(frozen=True)
class Dataset:
    """The samples of one task and where they came from.

    ``sha256`` identifies the data: the data file's SHA-256, or, when the judgments come from a
    qrels file, the SHA-256 of both files' hashes (so that a changed qrels file is other data
    for ``--resume``, comparisons and gates); ``data_sha256`` is the data file's own.
    """

    path: Path
    sha256: str
    samples: tuple[Sample, ...]
    qrels_file: QrelsFileInfo | None = None
    data_sha256: str = ""

    def info(self, no_relevant: str | None = None) -> dict[str, Any]:
        """What the run record keeps about the data.

        Args:
            no_relevant: How the task's ranking metrics score queries without judgments, for
                the qrels file's note (``zero``, ``skip``, or one per metric).
        """
        out: dict[str, Any] = {
            "path": str(self.path),
            "sha256": self.sha256,
            "n": len(self.samples),
        }
        if self.qrels_file is not None:
            out["data_sha256"] = self.data_sha256
            out["qrels_file"] = self.qrels_file.info(no_relevant)
        return out


def template_fields(template: str) -> list[str]:
    """The field names a ``str.format`` template uses.

    >>> template_fields("Q: {question}\\nContext: {context}\\nA:")
    ['question', 'context']
    """
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def _detect_format(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    suffix = path.suffix.lower()
    formats = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
    if suffix not in formats:
        raise InputError(
            f"{path}: cannot tell the format from the extension '{suffix}'; "
            "use .jsonl, .csv or .parquet, or set dataset.format."
        )
    return formats[suffix]


def _rows(path: Path, fmt: str, raw: bytes) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (location, row) pairs; location is ``path:line`` or ``path:row N``.

    ``raw`` is the file's bytes (read once, for its hash too); text formats must be UTF-8.
    """
    if fmt == "jsonl":
        for lineno, row in iter_jsonl(path, raw):
            yield f"{path}:{lineno}", row
    elif fmt == "csv":
        with io.StringIO(decode_utf8(raw, path), newline="") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                if None in row:
                    raise InputError(
                        f"{path}:{reader.line_num}: more cells than header columns; "
                        "quote cells that contain commas."
                    )
                yield f"{path}:{reader.line_num}", dict(row)
    else:
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
            raise InputError(f"{path}: reading Parquet needs pyarrow: pip install pyarrow") from exc
        try:
            table = pq.read_table(path)
        except Exception as exc:
            raise InputError(f"{path}: not a readable Parquet file ({exc}).") from None
        for i, row in enumerate(table.to_pylist(), start=1):
            yield f"{path}:row {i}", row


#: The fields read as references when a task maps none (``dataset: {references: FIELD}``).
DEFAULT_REFERENCE_FIELDS = ("references", "reference")


def default_reference_field(path: Path, declared_format: str | None = None) -> str | None:
    """The default reference field of a dataset's first row, if it has one.

    A task that maps no ``references:`` field still gets references from a row field named
    ``references`` or ``reference``; the suite check reads the first row to know whether a
    metric that needs references will have them. An unreadable or empty file gives None (the
    loader reports it when the run reads the file).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.jsonl"
    >>> _ = p.write_text('{"id": 1, "reference": "a cat"}\\n')
    >>> default_reference_field(p)
    'reference'
    """
    try:
        raw = path.read_bytes()
        row = next((r for _, r in _rows(path, _detect_format(path, declared_format), raw)), None)
    except (OSError, EvalkitError):
        return None
    if not isinstance(row, dict):
        return None
    return next((f for f in DEFAULT_REFERENCE_FIELDS if f in row), None)


def _references(where: str, row: dict[str, Any], field: str | None) -> tuple[str, ...]:
    if field is None:
        field = next((f for f in DEFAULT_REFERENCE_FIELDS if f in row), None)
        if field is None:
            return ()
    if field not in row:
        raise InputError(
            f"{where}: field '{field}' is missing; the task maps references to '{field}' "
            f"(fields here: {', '.join(sorted(row))})."
        )
    value = row[field]
    # The common cases first: a string, or a list of strings (one pass, no generator).
    if type(value) is str:
        if value and not value.isspace():
            return (value,)
        refs: tuple[str, ...] = (value,)
    elif isinstance(value, str):
        refs = (value,)
    elif isinstance(value, list) and all([isinstance(v, str) for v in value]):
        refs = tuple(value)
    else:
        raise InputError(
            f"{where}: field '{field}' must be a string or a list of strings, "
            f"got {type(value).__name__}."
        )
    if not any([r and not r.isspace() for r in refs]):
        raise InputError(
            f"{where}: field '{field}' has no reference text; give at least one non-empty "
            "reference or drop the sample."
        )
    return refs


def _with_qrels(where: str, row: dict[str, Any], field: str) -> dict[str, Any]:
    """The row with its checked relevance judgments under ``qrels`` (where metrics read them)."""
    from evalkit.data.retrieval import parse_grades

    if field not in row:
        raise InputError(
            f"{where}: field '{field}' is missing; the task maps qrels (relevance judgments "
            f"{{doc_id: grade}}) to '{field}'."
        )
    if field != "qrels" and "qrels" in row:
        raise InputError(
            f"{where}: field 'qrels' is reserved for the judgments that the task maps from "
            f"'{field}'; rename it."
        )
    value = row[field]
    if isinstance(value, str):  # CSV cells hold JSON text
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InputError(
                f"{where}: field '{field}' is not a JSON mapping {{doc_id: grade}}."
            ) from None
    return {**row, "qrels": parse_grades(value, f"{where}: field '{field}'")}


def _qrels_from_file(
    spec: DatasetSpec, samples: list[Sample]
) -> tuple[list[Sample], QrelsFileInfo]:
    """The samples with their judgments from ``spec.qrels_file`` under ``inputs["qrels"]``.

    A sample the file does not judge gets no judgments (``{}``); judged queries that are not
    samples are ignored. Both are counted in the returned info.
    """
    from evalkit.data.retrieval import Qrels

    assert spec.qrels_file is not None
    path = Path(spec.qrels_file)
    if not path.is_file():
        raise InputError(
            f"{path}: qrels file not found; check dataset.qrels_file in the suite (it is "
            "relative to the suite file)."
        )
    raw = path.read_bytes()
    qrels = Qrels.load(path)
    ids = {s.id for s in samples}
    out = []
    for s in samples:
        if "qrels" in s.inputs:
            raise InputError(
                f"{path}: sample '{s.id}' has a field 'qrels', which is reserved for the "
                "judgments that the task reads from qrels_file; rename it."
            )
        judged = qrels.get(s.id)
        out.append(
            Sample(
                id=s.id, inputs={**s.inputs, "qrels": dict(judged or {})}, references=s.references
            )
        )
    info = QrelsFileInfo(
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        judged=len(qrels),
        unjudged=sum(1 for s in samples if s.id not in qrels),
        not_in_dataset=sum(1 for q in qrels if q not in ids),
    )
    return out, info


def load_dataset(
    path: Path, spec: DatasetSpec, prompt: str | Sequence[str] = "", limit: int | None = None
) -> Dataset:
    """Read a dataset file into Samples.

    Args:
        path: The resolved file path.
        spec: The task's dataset mapping (id and references fields, format, limit).
        prompt: The prompt template(s); each field they use must exist in every row.
        limit: Keep only the first ``limit`` samples (overrides ``spec.limit`` when smaller).

    Raises:
        InputError: A missing file, a bad line, a missing field, empty references, a wrong type
            or a duplicate id, naming the file and line.
        ConfigError: When the spec names both ``qrels`` and ``qrels_file``.
    """
    if spec.qrels is not None and spec.qrels_file is not None:
        raise ConfigError(
            f"{path}: the dataset maps judgments from both a field (qrels: {spec.qrels}) and a "
            f"file (qrels_file: {spec.qrels_file}); keep one of them."
        )
    if not path.is_file():
        raise InputError(f"{path}: dataset file not found; check dataset.path in the suite.")
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    fmt = _detect_format(path, spec.format)
    templates = [prompt] if isinstance(prompt, str) else list(prompt)
    needed = [f for t in templates for f in template_fields(t)]
    limits = [x for x in (spec.limit, limit) if x is not None]
    cap = min(limits) if limits else None
    samples: list[Sample] = []
    first_seen: dict[str, str] = {}
    for where, row in _rows(path, fmt, raw):
        if cap is not None and len(samples) >= cap:
            break
        if spec.id is not None:
            if spec.id not in row:
                raise InputError(
                    f"{where}: field '{spec.id}' is missing; the task maps id to '{spec.id}'."
                )
            raw_id = row[spec.id]
        else:
            raw_id = row.get("id", len(samples) + 1)
        if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
            raise InputError(
                f"{where}: id must be a string or an integer, got {type(raw_id).__name__}."
            )
        sid = str(raw_id)
        if sid in first_seen:
            raise InputError(
                f"{where}: duplicate id '{sid}' (first at {first_seen[sid]}); ids must be unique."
            )
        first_seen[sid] = where
        for f in needed:
            if f not in row:
                raise InputError(
                    f"{where}: field '{f}' is missing; the prompt template uses {{{f}}} "
                    f"(fields here: {', '.join(sorted(row))})."
                )
        refs = _references(where, row, spec.references)
        if spec.qrels is not None:
            row = _with_qrels(where, row, spec.qrels)
        samples.append(Sample(id=sid, inputs=row, references=refs, where=where))
    if not samples:
        raise InputError(f"{path}: no samples; the file is empty.")
    if spec.qrels_file is None:
        return Dataset(path=path, sha256=sha, samples=tuple(samples))
    samples, qrels_info = _qrels_from_file(spec, samples)
    combined = hashlib.sha256(f"{sha}\n{qrels_info.sha256}".encode()).hexdigest()
    return Dataset(
        path=path,
        sha256=combined,
        samples=tuple(samples),
        qrels_file=qrels_info,
        data_sha256=sha,
    )
