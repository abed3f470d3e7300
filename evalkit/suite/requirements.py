"""Metric requirements that a task's own settings provide, checked before any model call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evalkit.data.samples import default_reference_field
from evalkit.suite.built import Task
from evalkit.suite.schema import TaskSpec


@dataclass(frozen=True)
class _Requirement:
    """What a task must set for a metric's requirement token, and how to say it is missing."""

    satisfied: Callable[[TaskSpec, Path], bool]
    missing: str
    fix: str


#: Requirement tokens (``Metric.requires``) that a task's own settings provide, checked by
#: :func:`load_suite`. Tokens that the model provides (``prediction``, ``ranking``, ``image``,
#: ``embed``, ``loglikelihood_rolling``...) are checked by the runner against the adapter's
#: capabilities once the model is known; tokens not listed here (a third-party metric's own)
#: are left to run time too.
SUITE_REQUIREMENTS: dict[str, _Requirement] = {
    "references": _Requirement(
        lambda t, data: (
            t.dataset.references is not None
            or default_reference_field(data, t.dataset.format) is not None
        ),
        "reference texts, but the task's dataset maps no `references:` field (and its first "
        "row has no `references` or `reference` field)",
        "add `references: FIELD` to the task's dataset (the field holding each sample's "
        "reference: a string or a list of strings)",
    ),
    "qrels": _Requirement(
        lambda t, data: t.dataset.qrels is not None or t.dataset.qrels_file is not None,
        "relevance judgments, but the task's dataset maps no `qrels:` field or `qrels_file:`",
        "add `qrels: FIELD` to the task's dataset (the field holding {doc_id: grade}), or "
        "`qrels_file: PATH` (a TREC qrels file or BEIR's qrels TSV)",
    ),
    "variants": _Requirement(
        lambda t, data: bool(t.prompt_variants),
        "a second version of each prompt, but the task has no `prompt_variants:`",
        'add `prompt_variants: ["{field}"]` to the task (the counterfactual prompt)',
    ),
}


def _requirement_errors(task: Task) -> list[str]:
    """One line per metric requirement that the task's settings cannot provide."""
    errors = []
    for entry in task.metrics:
        declared = getattr(entry.metric, "requires", ())
        tokens = {declared} if isinstance(declared, str) else set(declared)
        for token in sorted(tokens):
            need = SUITE_REQUIREMENTS.get(token)
            if need is None or need.satisfied(task.spec, task.dataset_path):
                continue  # provided, or checked at run time (see SUITE_REQUIREMENTS)
            errors.append(
                f"{entry.where}: {entry.key} requires '{token}': {need.missing}; {need.fix}."
            )
    return errors


#: The last line of a requirement error: what is checked now and what is left to run time.
_RUN_TIME_NOTE = (
    "(A suite's own settings are checked before any model call; what the model must serve "
    "(predictions, rankings, images, embeddings, log-likelihoods) is checked by `evalkit run` "
    "once the model is known.)"
)
