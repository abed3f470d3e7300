"""JUnit XML for CI systems: result rows and gates of a run, or the rows of a comparison.

CI servers (GitHub Actions test reporters, GitLab, Jenkins) read the de-facto JUnit schema:
``<testsuites>`` holding one ``<testsuite>`` per group, each with ``tests``, ``failures``,
``errors`` and ``skipped`` counts and one ``<testcase>`` per check; a ``<failure>`` or
``<skipped>`` child marks the outcome and ``<system-out>`` carries details. Here a task is a
test suite. The XML is built with :mod:`xml.etree.ElementTree`, which escapes text and
attributes; characters XML 1.0 cannot hold at all (control characters, lone surrogates) are
replaced by visible ``\\uXXXX`` text first. The output has no timestamps or durations, so the
same input always gives the same bytes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from evalkit.records import ComparisonDoc, GateRow, RunHeader, check_run_header
from evalkit.report._format import MISSING, confidence_label, format_ci, format_number, text_of
from evalkit.report._record import typed_comparison, typed_gates
from evalkit.report.views import (
    REGRESSED,
    change_of,
    correction_text,
    pair_labels,
    paired_test_text,
    run_labels,
)

_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

# XML 1.0 section 2.2 "Characters": Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD]
# | [#x10000-#x10FFFF]. Anything else cannot appear in a document, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(value: Any) -> str:
    """Text that XML 1.0 can hold: characters outside its ``Char`` set become ``\\uXXXX``.

    >>> _clean("a\\x00b\\ud800")
    'a\\\\u0000b\\\\ud800'
    """
    text = value if isinstance(value, str) else text_of(value)
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class _Suite:
    """One ``<testsuite>`` being built, with its counts."""

    def __init__(self, name: str) -> None:
        self.element = ET.Element("testsuite", {"name": _clean(name)})
        self.tests = self.failures = self.skipped = 0

    def case(
        self,
        name: str,
        classname: str,
        *,
        out: str = "",
        failure: tuple[str, str] | None = None,
        skipped: str | None = None,
    ) -> None:
        """Add a test case; ``failure`` is (message, details), ``skipped`` a message."""
        case = ET.SubElement(
            self.element, "testcase", {"name": _clean(name), "classname": _clean(classname)}
        )
        self.tests += 1
        if failure is not None:
            self.failures += 1
            node = ET.SubElement(
                case, "failure", {"message": _clean(failure[0]), "type": "evalkit"}
            )
            node.text = _clean(failure[1])
        elif skipped is not None:
            self.skipped += 1
            ET.SubElement(case, "skipped", {"message": _clean(skipped)})
        if out:
            ET.SubElement(case, "system-out").text = _clean(out)


def _document(name: str, suites: Iterable[_Suite]) -> str:
    root = ET.Element("testsuites", {"name": _clean(name)})
    totals = [0, 0, 0]
    for suite in suites:
        suite.element.set("tests", str(suite.tests))
        suite.element.set("failures", str(suite.failures))
        suite.element.set("errors", "0")
        suite.element.set("skipped", str(suite.skipped))
        totals = [totals[0] + suite.tests, totals[1] + suite.failures, totals[2] + suite.skipped]
        root.append(suite.element)
    root.set("tests", str(totals[0]))
    root.set("failures", str(totals[1]))
    root.set("errors", "0")
    root.set("skipped", str(totals[2]))
    ET.indent(root)
    return _DECLARATION + ET.tostring(root, encoding="unicode") + "\n"


def _suite_for(suites: dict[str, _Suite], task: str) -> _Suite:
    if task not in suites:
        suites[task] = _Suite(task)
    return suites[task]


def _gate_details(gate: GateRow) -> str:
    parts = [f"threshold = {format_number(gate.threshold, 6)}"]
    parts.append(f"value = {format_number(gate.value, 6)}")
    optional = {
        "baseline_value": gate.baseline_value,
        "delta": gate.delta,
        "p_value": gate.p_value,
        "p_adjusted": gate.p_adjusted,
        "alpha": gate.alpha,
    }
    parts += [f"{k} = {format_number(v, 6)}" for k, v in optional.items() if v is not None]
    if gate.source:  # "suite", or "--fail-on-regression" for the gates that flag adds
        parts.append(f"from {gate.source}")
    return "; ".join(parts)


def junit_for_run(
    header: RunHeader | Mapping[str, Any], gates: Sequence[GateRow | Mapping[str, Any]]
) -> str:
    """JUnit XML for one run: a passing test case per result row and one per gate.

    Each task is a ``<testsuite>``. A result row ``{task, metric, value, ci_low, ci_high, ...}``
    becomes a test case named ``task/metric`` that passes and carries the value, interval, n,
    errors and signature in ``<system-out>``. A gate (:func:`evalkit.gates.check_gates`)
    becomes ``gate task/metric kind``, with ``<failure>`` when its status is ``fail`` and
    ``<skipped>`` when it is ``skipped``.

    Args:
        header: The run's ``results.json`` header (checked against
            :class:`evalkit.records.RunHeader` here, unless already typed).
        gates: Gate outcomes (may be empty), checked against :class:`evalkit.records.GateRow`.

    Returns:
        The XML document as text.

    Raises:
        evalkit.records.RecordError: The header or a gate does not match the schema.

    >>> xml = junit_for_run({"format_version": 1, "suite": {"name": "qa"}, "results": [
    ...     {"task": "t", "metric": "em", "value": 0.5, "ci_low": 0.25, "ci_high": 0.75, "n": 4,
    ...      "n_errors": 0, "higher_is_better": True, "signature": "s"}]},
    ...     [{"task": "t", "metric": "em", "kind": "min", "threshold": 0.6, "value": 0.5,
    ...       "status": "fail", "message": "em = 0.5 must be at least 0.6"}])
    >>> root = ET.fromstring(xml)
    >>> root.get("tests"), root.get("failures"), [c.get("name") for c in root.iter("testcase")]
    ('2', '1', ['t/em', 'gate t/em min'])
    """
    if not isinstance(header, RunHeader):
        header = check_run_header(header)
    suite_name = header.suite.name if header.suite is not None else MISSING
    model = header.model.spec if header.model is not None else MISSING
    ci_label = confidence_label(header.bootstrap.confidence if header.bootstrap else None)
    suites: dict[str, _Suite] = {}
    # Declared tasks first, in suite order, so that a task without rows still appears.
    for task_info in header.tasks:
        _suite_for(suites, task_info.name)
    for row in header.results:
        task, metric = row.task, row.metric
        out = (
            f"{task}/{metric} = {format_number(row.value, 6)}\n"
            f"{ci_label}: {format_ci(row.ci_low, row.ci_high)}\n"
            f"n = {format_number(row.n)}, errors = {format_number(row.n_errors)}\n"
            f"signature: {row.signature}\n"
            f"model: {model}"
        )
        _suite_for(suites, task).case(f"{task}/{metric}", f"evalkit.{suite_name}.{task}", out=out)
    for gate in typed_gates(gates):
        task, metric = gate.task, gate.metric
        kind, status = gate.kind, gate.status
        message = gate.message or f"{kind} gate {status}"
        details = _gate_details(gate)
        _suite_for(suites, task).case(
            f"gate {task}/{metric} {kind}",
            f"evalkit.{suite_name}.{task}.gates",
            out=f"{message}\n{details}",
            failure=(message, details) if status == "fail" else None,
            skipped=message if status == "skipped" else None,
        )
    return _document(f"evalkit: {suite_name}", suites.values())


def junit_for_compare(doc: ComparisonDoc | Mapping[str, Any]) -> str:
    """JUnit XML for a comparison: one test case per comparison row, failing on a regression.

    Each task is a ``<testsuite>``; a row becomes ``task/metric: B vs A (against)`` with the
    values, delta, interval and p-values in ``<system-out>``, and a ``<failure>`` when its
    change is ``regressed`` (significant after the Holm correction, in the metric's worse
    direction).

    Args:
        doc: A comparison document (:func:`evalkit.compare.compare_runs`, or ``compare.json``),
            checked against :class:`evalkit.records.ComparisonDoc` first.

    Returns:
        The XML document as text.

    Raises:
        evalkit.records.RecordError: ``doc`` does not match the schema of ``compare.json``.

    >>> xml = junit_for_compare({"format_version": 1, "kind": "pairwise", "regressions": 1,
    ...     "exit_code": 1, "settings": {"test": "bootstrap", "alpha": 0.05, "confidence": 0.95},
    ...     "runs": [{"index": 0, "label": "a", "path": "a"}, {"index": 1, "label": "b",
    ...               "path": "b"}],
    ...     "comparisons": [{"a": 0, "b": 1, "against": "baseline", "task": "t", "metric": "em",
    ...         "higher_is_better": True, "signature": "s", "n": 4, "errors_excluded": 0,
    ...         "value_a": 1.0, "value_b": 0.5, "delta": -0.5, "significant": True,
    ...         "change": "regressed"}]})
    >>> ET.fromstring(xml).find("testsuite").get("failures")
    '1'
    """
    doc = typed_comparison(doc)
    settings = doc.settings
    ci_label = confidence_label(settings.confidence)
    method = (
        f"{paired_test_text(settings)}; p-values two-sided; "
        f"correction: {correction_text(settings)}; alpha {format_number(settings.alpha)}"
    )
    labels = run_labels(doc)
    suites: dict[str, _Suite] = {}
    for task in doc.samples:
        _suite_for(suites, task)
    for row in doc.comparisons:
        task, metric = row.task, row.metric
        a_label, b_label = pair_labels(labels, row)
        against = row.against
        change = change_of(row)
        summary = (
            f"{task}/{metric}: {b_label} vs {a_label} ({against}): {change}, "
            f"delta {format_number(row.delta, 6)} "
            f"{format_ci(row.ci_low, row.ci_high)}, "
            f"p (Holm) = {format_number(row.p_adjusted, 4)}"
        )
        out = (
            f"{summary}\n"
            f"value {a_label} = {format_number(row.value_a, 6)}; "
            f"value {b_label} = {format_number(row.value_b, 6)}\n"
            f"{ci_label} of the delta: {format_ci(row.ci_low, row.ci_high)}\n"
            f"p = {format_number(row.p_value, 4)}; "
            f"p (Holm) = {format_number(row.p_adjusted, 4)}; "
            f"McNemar p = {format_number(row.mcnemar_p, 4)}\n"
            f"wins/ties/losses = {format_number(row.wins)}/"
            f"{format_number(row.ties)}/{format_number(row.losses)}; "
            f"n = {format_number(row.n)}; "
            f"failed calls excluded = {format_number(row.errors_excluded)}\n"
            f"{method}\n"
            f"signature: {row.signature}"
        )
        _suite_for(suites, task).case(
            f"{task}/{metric}: {b_label} vs {a_label} ({against})",
            f"evalkit.compare.{task}",
            out=out,
            failure=(f"significant regression: {summary}", out) if change == REGRESSED else None,
        )
    return _document("evalkit compare", suites.values())
