"""The boundary of the reports: a record is validated once, then rendered from typed models.

Every report entry point (:func:`evalkit.report.html.run.render_html`,
:func:`evalkit.report.markdown.render_markdown`, :func:`evalkit.report.junit.junit_for_run`,
the comparison renderers...) accepts a record as it was loaded (a
:class:`evalkit.store.RunRecord` of plain dicts, or a comparison document) and passes it through
:func:`typed_run` or :func:`typed_comparison` first. Those check it against the models of
:mod:`evalkit.records` and raise :class:`evalkit.records.RecordError` (exit code 2) naming the
file, the field and what is wrong when it does not match; the renderers then read attributes
with the types the schema guarantees and never guess at a field's type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalkit.records import (
    ComparisonDoc,
    GateRow,
    ResultRow,
    RunHeader,
    SampleLine,
    check_comparison,
    check_gate_row,
    check_run_header,
    check_sample_line,
    list_validator,
)
from evalkit.store import RESULTS, SAMPLES, RunRecord

__all__ = [
    "TypedRun",
    "typed_comparison",
    "typed_gates",
    "typed_results",
    "typed_run",
]


@dataclass(frozen=True)
class TypedRun:
    """A run record checked against the schema: its typed header and sample lines."""

    path: Path
    header: RunHeader
    samples: list[SampleLine] = field(default_factory=list)

    def samples_for(self, task: str) -> list[SampleLine]:
        """The sample lines of one task, in record order."""
        return [s for s in self.samples if s.task == task]


def typed_run(record: RunRecord | TypedRun) -> TypedRun:
    """Validate a loaded run once: its header and each sample line.

    Args:
        record: A run read with :func:`evalkit.store.load_run` (or one already typed).

    Returns:
        The typed run.

    Raises:
        RecordError: The header or a sample line does not match the schema; the message names
            the file (``RUN/samples.jsonl: sample N``) and the field.

    >>> from pathlib import Path
    >>> typed_run(RunRecord(Path("r"), {"format_version": 1},
    ...     [{"task": "t", "id": 1}]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.records.RecordError: r/samples.jsonl: sample 1: not a sample line: id: Input should ...
    """
    if isinstance(record, TypedRun):
        return record
    path = Path(record.path)
    header = check_run_header(record.header, path / RESULTS)
    where = path / SAMPLES
    try:  # one call for all the lines; only a failure checks them one by one, for the message
        samples: list[SampleLine] = list_validator(SampleLine).validate_python(record.samples)
    except ValidationError:
        # The i-th sample line (blank lines, which evalkit never writes, are not counted).
        samples = [
            check_sample_line(s, f"{where}: sample {i}") for i, s in enumerate(record.samples, 1)
        ]
    return TypedRun(path=path, header=header, samples=samples)


def typed_comparison(
    doc: ComparisonDoc | Mapping[str, Any], where: str | Path = "compare.json"
) -> ComparisonDoc:
    """Validate a comparison document once (a typed one is returned as it is).

    Raises:
        RecordError: The document does not match the schema of ``compare.json``.

    >>> typed_comparison({"format_version": 1, "kind": "pairwise"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.records.RecordError: compare.json: not a comparison: runs: Field required; ...
    """
    if isinstance(doc, ComparisonDoc):
        return doc
    return check_comparison(doc, where)


def typed_results(
    rows: Iterable[ResultRow | Mapping[str, Any]], where: str | Path = RESULTS
) -> list[ResultRow]:
    """Validate tidy result rows (``results`` of ``results.json``) once; typed rows pass.

    Raises:
        RecordError: A row is not a result row (``results.N.FIELD`` is named).

    >>> typed_results([{"task": "t", "metric": "m"}])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.records.RecordError: results.json: not a run header: results.0.value: Field ...
    """
    rows = list(rows)
    if all(isinstance(r, ResultRow) for r in rows):
        return [r for r in rows if isinstance(r, ResultRow)]
    plain = [r.model_dump(exclude_unset=True) if isinstance(r, ResultRow) else r for r in rows]
    return check_run_header({"format_version": 1, "results": plain}, where).results


def typed_gates(
    gates: Iterable[GateRow | Mapping[str, Any]], where: str | Path = "gates"
) -> list[GateRow]:
    """Validate gate outcomes (:func:`evalkit.gates.check_gates`) once.

    Raises:
        RecordError: An outcome does not match :class:`evalkit.records.GateRow`.

    >>> typed_gates([{"task": "t", "metric": "m", "kind": "min"}])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.records.RecordError: gates[0]: not a gate outcome: status: Field required.
    """
    out = []
    for i, gate in enumerate(gates):
        if isinstance(gate, GateRow):
            out.append(gate)
            continue
        out.append(check_gate_row(gate, f"{where}[{i}]"))
    return out
