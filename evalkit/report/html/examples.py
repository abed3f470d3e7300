"""The example sections of ``compare.html``: per-sample diffs and forgotten examples.

Each section shows, for one (task, metric, pair of runs), the samples whose score improved or
regressed most, with prompt, both predictions and the references; a checkpoint series also
lists the examples the last run forgot (right in an earlier run, wrong in the last). Sections
are ordered regressions first and capped (:data:`MAX_EXAMPLE_SECTIONS`,
:data:`MAX_EXAMPLES_PER_LIST`, :data:`MAX_TEXT_CHARS`); the page says what it left out, and
``compare.json`` keeps everything. Every value is plain text for the autoescaping template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.report._format import (
    MISSING,
    as_dict,
    as_list,
    finite_number,
    format_number,
    is_number,
    text_of,
)
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


def _text_field(value: Any, missing: str) -> dict[str, Any]:
    """A prompt/prediction/reference for display: text, or a placeholder, plus a cut note."""
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


def _references(value: Any) -> list[dict[str, Any]]:
    refs = value if isinstance(value, (list, tuple)) else ([] if value is None else [value])
    return [_text_field(r, "(none)") for r in refs]


def _score_delta(a: Any, b: Any) -> str:
    fa, fb = finite_number(a), finite_number(b)
    if fa is None or fb is None:
        return MISSING
    d = fb - fa
    return ("+" if d > 0 else "") + format_number(d)


def _example(ex: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": text_of(ex.get("id")),
        "prompt": _text_field(ex.get("prompt"), "(no prompt)"),
        "prediction_a": _text_field(ex.get("prediction_a"), _FAILED),
        "prediction_b": _text_field(ex.get("prediction_b"), _FAILED),
        "references": _references(ex.get("references")),
        "score_a": format_number(ex.get("score_a")),
        "score_b": format_number(ex.get("score_b")),
        "score_delta": _score_delta(ex.get("score_a"), ex.get("score_b")),
    }


def example_sections(
    doc: Mapping[str, Any], labels: Mapping[int, str], rows: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """Example sections, regressions first, capped at :data:`MAX_EXAMPLE_SECTIONS`.

    Args:
        doc: A comparison document; its ``examples`` hold one entry per (pair, task, metric).
        labels: Run index -> label (:func:`evalkit.report.views.run_labels`).
        rows: The document's comparison rows, which give each section its outcome.

    Returns:
        The sections shown, and how many more the cap left out.

    >>> sections, hidden = example_sections(
    ...     {"examples": [{"a": 0, "b": 1, "task": "t", "metric": "m",
    ...                    "regressed": [{"id": "x", "score_a": 1.0, "score_b": 0.0}]}]},
    ...     {0: "a", 1: "b"}, [{"a": 0, "b": 1, "task": "t", "metric": "m", "change": "regressed"}])
    >>> sections[0]["mark"], sections[0]["groups"][0]["shown"][0]["score_delta"], hidden
    ('▼', '-1', 0)
    """
    change_by_key: dict[tuple[Any, Any, str, str], str] = {}
    for row in rows:
        key = (row.get("a"), row.get("b"), text_of(row.get("task")), text_of(row.get("metric")))
        change_by_key.setdefault(key, change_of(row))
    rank = {REGRESSED: 0, IMPROVED: 1, NO_CHANGE: 2}
    entries = []
    for pos, entry in enumerate(as_list(doc.get("examples"))):
        entry = as_dict(entry)
        task, metric = text_of(entry.get("task")), text_of(entry.get("metric"))
        change = change_by_key.get((entry.get("a"), entry.get("b"), task, metric), NO_CHANGE)
        entries.append((rank[change], pos, entry, change))
    entries.sort(key=lambda t: (t[0], t[1]))
    sections = []
    for _, _, entry, change in entries[:MAX_EXAMPLE_SECTIONS]:
        a_label, b_label = pair_labels(labels, entry)
        improved = [as_dict(x) for x in as_list(entry.get("improved"))]
        regressed = [as_dict(x) for x in as_list(entry.get("regressed"))]
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
                "task": text_of(entry.get("task")),
                "metric": text_of(entry.get("metric")),
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


def forgotten(series: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The forgotten examples of a checkpoint series, per (task, metric), for display.

    Args:
        series: The document's ``series`` (its ``forgotten`` entries list the samples the last
            run got wrong that an earlier run got right).

    Returns:
        One entry per (task, metric), with at most :data:`MAX_EXAMPLES_PER_LIST` examples.

    >>> [(f["task"], f["count"], f["hidden"]) for f in forgotten({"forgotten": [
    ...     {"task": "t", "metric": "m", "count": 1, "examples": [{"id": "x"}]}]})]
    [('t', '1', 0)]
    """
    out = []
    for entry in as_list(series.get("forgotten")):
        entry = as_dict(entry)
        examples = [as_dict(x) for x in as_list(entry.get("examples"))]
        shown = examples[:MAX_EXAMPLES_PER_LIST]
        out.append(
            {
                "task": text_of(entry.get("task")),
                "metric": text_of(entry.get("metric")),
                "count": format_number(entry.get("count", len(examples))),
                "has_any": bool(examples) or (is_number(entry.get("count")) and entry["count"]),
                "hidden": len(examples) - len(shown),
                "shown": [
                    {
                        "id": text_of(x.get("id")),
                        "best_run": text_of(x.get("best_run")),
                        "score_best": format_number(x.get("score_best")),
                        "score_last": format_number(x.get("score_last")),
                        "prediction_best": _text_field(x.get("prediction_best"), _FAILED),
                        "prediction_last": _text_field(x.get("prediction_last"), _FAILED),
                        "references": _references(x.get("references")),
                    }
                    for x in shown
                ],
            }
        )
    return out
