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
from collections.abc import Iterable, Mapping
from typing import Any

from evalkit.report._format import confidence_label, format_ci, format_number, text_of
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


def _gate_details(gate: Mapping[str, Any]) -> str:
    parts = [f"{k} = {format_number(gate.get(k), 6)}" for k in ("threshold", "value")]
    for key in ("baseline_value", "delta", "p_value", "p_adjusted", "alpha"):
        if gate.get(key) is not None:
            parts.append(f"{key} = {format_number(gate.get(key), 6)}")
    if gate.get("source"):  # "suite", or "--fail-on-regression" for the gates that flag adds
        parts.append(f"from {text_of(gate.get('source'))}")
    return "; ".join(parts)


def junit_for_run(header: Mapping[str, Any], gates: list[dict[str, Any]]) -> str:
    """JUnit XML for one run: a passing test case per result row and one per gate.

    Each task is a ``<testsuite>``. A result row ``{task, metric, value, ci_low, ci_high, ...}``
    becomes a test case named ``task/metric`` that passes and carries the value, interval, n,
    errors and signature in ``<system-out>``. A gate (:func:`evalkit.gates.check_gates`)
    becomes ``gate task/metric kind``, with ``<failure>`` when its status is ``fail`` and
    ``<skipped>`` when it is ``skipped``.

    Args:
        header: The run's ``results.json`` header.
        gates: Gate outcomes (may be empty).

    Returns:
        The XML document as text.

    >>> xml = junit_for_run({"suite": {"name": "qa"}, "results": [{"task": "t", "metric": "em",
    ...     "value": 0.5, "ci_low": 0.25, "ci_high": 0.75, "n": 4, "n_errors": 0}]},
    ...     [{"task": "t", "metric": "em", "kind": "min", "threshold": 0.6, "value": 0.5,
    ...       "status": "fail", "message": "em = 0.5 must be at least 0.6"}])
    >>> root = ET.fromstring(xml)
    >>> root.get("tests"), root.get("failures"), [c.get("name") for c in root.iter("testcase")]
    ('2', '1', ['t/em', 'gate t/em min'])
    """
    suite_info = header.get("suite")
    suite_name = text_of(suite_info.get("name") if isinstance(suite_info, Mapping) else suite_info)
    model_info = header.get("model")
    model = text_of(model_info.get("spec") if isinstance(model_info, Mapping) else model_info)
    ci_label = confidence_label(dict(header))
    suites: dict[str, _Suite] = {}
    # Declared tasks first, in suite order, so that a task without rows still appears.
    for task in header.get("tasks") or []:
        if isinstance(task, Mapping):
            _suite_for(suites, text_of(task.get("name")))
    for row in header.get("results") or []:
        if not isinstance(row, Mapping):
            continue
        task, metric = text_of(row.get("task")), text_of(row.get("metric"))
        out = (
            f"{task}/{metric} = {format_number(row.get('value'), 6)}\n"
            f"{ci_label}: {format_ci(row.get('ci_low'), row.get('ci_high'))}\n"
            f"n = {format_number(row.get('n'))}, errors = {format_number(row.get('n_errors'))}\n"
            f"signature: {text_of(row.get('signature'))}\n"
            f"model: {model}"
        )
        _suite_for(suites, task).case(f"{task}/{metric}", f"evalkit.{suite_name}.{task}", out=out)
    for gate in gates:
        task, metric = text_of(gate.get("task")), text_of(gate.get("metric"))
        kind, status = text_of(gate.get("kind")), gate.get("status")
        message = text_of(gate.get("message") or f"{kind} gate {text_of(status)}")
        details = _gate_details(gate)
        _suite_for(suites, task).case(
            f"gate {task}/{metric} {kind}",
            f"evalkit.{suite_name}.{task}.gates",
            out=f"{message}\n{details}",
            failure=(message, details) if status == "fail" else None,
            skipped=message if status == "skipped" else None,
        )
    return _document(f"evalkit: {suite_name}", suites.values())


def junit_for_compare(doc: Mapping[str, Any]) -> str:
    """JUnit XML for a comparison: one test case per comparison row, failing on a regression.

    Each task is a ``<testsuite>``; a row becomes ``task/metric: B vs A (against)`` with the
    values, delta, interval and p-values in ``<system-out>``, and a ``<failure>`` when its
    change is ``regressed`` (significant after the Holm correction, in the metric's worse
    direction).

    Args:
        doc: A comparison document (:func:`evalkit.compare.compare_runs`, or ``compare.json``).

    Returns:
        The XML document as text.

    >>> xml = junit_for_compare({"runs": [{"index": 0, "label": "a"}, {"index": 1, "label": "b"}],
    ...     "comparisons": [{"a": 0, "b": 1, "against": "baseline", "task": "t", "metric": "em",
    ...                      "delta": -0.5, "change": "regressed"}]})
    >>> ET.fromstring(xml).find("testsuite").get("failures")
    '1'
    """
    settings = doc.get("settings")
    settings = dict(settings) if isinstance(settings, Mapping) else {}
    ci_label = confidence_label({"bootstrap": {"confidence": settings.get("confidence")}})
    method = (
        f"{paired_test_text(settings)}; p-values two-sided; "
        f"correction: {correction_text(settings)}; alpha {format_number(settings.get('alpha'))}"
    )
    labels = run_labels(doc)
    suites: dict[str, _Suite] = {}
    for task in (doc.get("samples") or {}) if isinstance(doc.get("samples"), Mapping) else {}:
        _suite_for(suites, text_of(task))
    for row in doc.get("comparisons") or []:
        if not isinstance(row, Mapping):
            continue
        task, metric = text_of(row.get("task")), text_of(row.get("metric"))
        a_label, b_label = pair_labels(labels, row)
        against = text_of(row.get("against"))
        change = change_of(row)
        summary = (
            f"{task}/{metric}: {b_label} vs {a_label} ({against}): {change}, "
            f"delta {format_number(row.get('delta'), 6)} "
            f"{format_ci(row.get('ci_low'), row.get('ci_high'))}, "
            f"p (Holm) = {format_number(row.get('p_adjusted'), 4)}"
        )
        out = (
            f"{summary}\n"
            f"value {a_label} = {format_number(row.get('value_a'), 6)}; "
            f"value {b_label} = {format_number(row.get('value_b'), 6)}\n"
            f"{ci_label} of the delta: {format_ci(row.get('ci_low'), row.get('ci_high'))}\n"
            f"p = {format_number(row.get('p_value'), 4)}; "
            f"p (Holm) = {format_number(row.get('p_adjusted'), 4)}; "
            f"McNemar p = {format_number(row.get('mcnemar_p'), 4)}\n"
            f"wins/ties/losses = {format_number(row.get('wins'))}/"
            f"{format_number(row.get('ties'))}/{format_number(row.get('losses'))}; "
            f"n = {format_number(row.get('n'))}; "
            f"failed calls excluded = {format_number(row.get('errors_excluded'))}\n"
            f"{method}\n"
            f"signature: {text_of(row.get('signature'))}"
        )
        _suite_for(suites, task).case(
            f"{task}/{metric}: {b_label} vs {a_label} ({against})",
            f"evalkit.compare.{task}",
            out=out,
            failure=(f"significant regression: {summary}", out) if change == REGRESSED else None,
        )
    return _document("evalkit compare", suites.values())
