"""The example sections of ``compare.html``: per-sample diffs and forgotten examples.

Each section shows, for one (task, metric, pair of runs), the samples whose score improved or
regressed most, with prompt, both predictions and the references; a checkpoint series also
lists the examples the last run forgot (right in an earlier run, wrong in the last). Sections
are ordered regressions first and capped (:data:`MAX_EXAMPLE_SECTIONS`,
:data:`MAX_EXAMPLES_PER_LIST`, :data:`MAX_TEXT_CHARS`); the page says what it left out, and
``compare.json`` keeps everything. Every value is plain text for the autoescaping template.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.records import ComparisonDoc, ComparisonRow, ExampleDiff, SeriesInfo
from evalkit.report._format import MISSING, format_number, text_of
from evalkit.report.views import (
    CHANGE_MARKS,
    IMPROVED,
    NO_CHANGE,
    REGRESSED,
    change_of,
    pair_labels,
)

#: Example sections (one per task, metric and pair) rendered in the page; the rest are counted.
MAX_EXAMPLE_SECTIONS = 200
#: Examples shown per "most improved" / "most regressed" / "forgotten" list.
MAX_EXAMPLES_PER_LIST = 10
#: Characters shown per prompt, prediction or reference in example sections.
MAX_TEXT_CHARS = 4000


def _text_field(value: object, missing: str) -> dict[str, Any]:
    """A prompt/prediction/reference for display: text, or a placeholder, plus a cut note.

    Prompts and predictions are text or ``None``; a reference is any JSON value (metric-
    defined), shown as JSON when it is not text.
    """
    if value is None:
        return {"text": missing, "placeholder": True, "more": ""}
    text = value if isinstance(value, str) else text_of(value)
    if text == "":
        return {"text": "(empty string)", "placeholder": True, "more": ""}
    more = ""
    if len(text) > MAX_TEXT_CHARS:
        more = f"… {format_number(len(text) - MAX_TEXT_CHARS)} more characters in compare.json"
        text = text[:MAX_TEXT_CHARS]
    return {"text": text, "placeholder": False, "more": more}


_FAILED = "(no prediction: the model call failed)"


def _references(refs: Sequence[object]) -> list[dict[str, Any]]:
    return [_text_field(r, "(none)") for r in refs]


def _score_delta(a: float | None, b: float | None) -> str:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return MISSING
    d = b - a
    return ("+" if d > 0 else "") + format_number(d)


def _example(ex: ExampleDiff) -> dict[str, Any]:
    return {
        "id": ex.id,
        "prompt": _text_field(ex.prompt, "(no prompt)"),
        "prediction_a": _text_field(ex.prediction_a, _FAILED),
        "prediction_b": _text_field(ex.prediction_b, _FAILED),
        "references": _references(ex.references),
        "score_a": format_number(ex.score_a),
        "score_b": format_number(ex.score_b),
        "score_delta": _score_delta(ex.score_a, ex.score_b),
    }


def example_sections(
    doc: ComparisonDoc, labels: Mapping[int, str], rows: Sequence[ComparisonRow]
) -> tuple[list[dict[str, Any]], int]:
    """Example sections, regressions first, capped at :data:`MAX_EXAMPLE_SECTIONS`.

    Args:
        doc: A comparison document; its ``examples`` hold one entry per (pair, task, metric).
        labels: Run index -> label (:func:`evalkit.report.views.run_labels`).
        rows: The document's comparison rows, which give each section its outcome.

    Returns:
        The sections shown, and how many more the cap left out.

    >>> from evalkit.report._record import typed_comparison
    >>> doc = typed_comparison({"format_version": 1, "kind": "pairwise", "runs": [],
    ...     "settings": {"test": "bootstrap", "alpha": 0.05, "confidence": 0.95},
    ...     "regressions": 1, "exit_code": 1,
    ...     "comparisons": [{"a": 0, "b": 1, "against": "baseline", "task": "t", "metric": "m",
    ...         "higher_is_better": True, "signature": "s", "n": 1, "errors_excluded": 0,
    ...         "value_a": 1.0, "value_b": 0.0, "delta": -1.0, "significant": True,
    ...         "change": "regressed"}],
    ...     "examples": [{"a": 0, "b": 1, "task": "t", "metric": "m",
    ...                   "regressed": [{"id": "x", "score_a": 1.0, "score_b": 0.0}]}]})
    >>> sections, hidden = example_sections(doc, {0: "a", 1: "b"}, doc.comparisons)
    >>> sections[0]["mark"], sections[0]["groups"][0]["shown"][0]["score_delta"], hidden
    ('▼', '-1', 0)
    """
    change_by_key: dict[tuple[int, int, str, str], str] = {}
    for row in rows:
        change_by_key.setdefault((row.a, row.b, row.task, row.metric), change_of(row))
    rank = {REGRESSED: 0, IMPROVED: 1, NO_CHANGE: 2}
    entries = []
    for pos, entry in enumerate(doc.examples):
        key = (entry.a, entry.b, entry.task, entry.metric)
        change = change_by_key.get(key, NO_CHANGE)
        entries.append((rank[change], pos, entry, change))
    entries.sort(key=lambda t: (t[0], t[1]))
    sections = []
    for _, _, entry, change in entries[:MAX_EXAMPLE_SECTIONS]:
        a_label, b_label = pair_labels(labels, entry)
        improved, regressed = entry.improved, entry.regressed
        groups = []
        for name, items in (("Most regressed", regressed), ("Most improved", improved)):
            shown = items[:MAX_EXAMPLES_PER_LIST]
            groups.append(
                {
                    "name": name,
                    "shown": [_example(x) for x in shown],
                    "hidden": len(items) - len(shown),
                }
            )
        sections.append(
            {
                "task": entry.task,
                "metric": entry.metric,
                "a_label": a_label,
                "b_label": b_label,
                "change": change,
                "change_class": change.replace(" ", "-"),
                "mark": CHANGE_MARKS[change],
                "n_improved": format_number(len(improved)),
                "n_regressed": format_number(len(regressed)),
                "groups": groups,
            }
        )
    return sections, max(0, len(entries) - MAX_EXAMPLE_SECTIONS)


def forgotten(series: SeriesInfo | None) -> list[dict[str, Any]]:
    """The forgotten examples of a checkpoint series, per (task, metric), for display.

    Args:
        series: The document's ``series`` (its ``forgotten`` entries list the samples the last
            run got wrong that an earlier run got right), or ``None`` (no series).

    Returns:
        One entry per (task, metric), with at most :data:`MAX_EXAMPLES_PER_LIST` examples.

    >>> series = SeriesInfo.model_validate({"key": "step", "order": [], "forgotten": [
    ...     {"task": "t", "metric": "m", "count": 1,
    ...      "examples": [{"id": "x", "best_run": "1"}]}]})
    >>> [(f["task"], f["count"], f["hidden"]) for f in forgotten(series)]
    [('t', '1', 0)]
    """
    out = []
    for entry in series.forgotten if series is not None else []:
        examples = entry.examples
        shown = examples[:MAX_EXAMPLES_PER_LIST]
        out.append(
            {
                "task": entry.task,
                "metric": entry.metric,
                "count": format_number(entry.count),
                "has_any": bool(examples) or bool(entry.count),
                "hidden": len(examples) - len(shown),
                "shown": [
                    {
                        "id": x.id,
                        "best_run": x.best_run,
                        "score_best": format_number(x.score_best),
                        "score_last": format_number(x.score_last),
                        "prediction_best": _text_field(x.prediction_best, _FAILED),
                        "prediction_last": _text_field(x.prediction_last, _FAILED),
                        "references": _references(x.references),
                    }
                    for x in shown
                ],
            }
        )
    return out
