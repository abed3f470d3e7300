"""Scoring lists of answers directly (the functional twins of the grounding metrics)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalkit.errors import InputError
from evalkit.registry import METRICS
from evalkit.types import Sample, Score

__all__ = ["score_answers"]


def score_answers(
    name: str,
    answers: Sequence[str],
    contexts: Sequence[Any],
    citations: Sequence[Any] | None = None,
    **params: Any,
) -> Score:
    """Score ``answers[i]`` against its retrieved ``contexts[i]`` (and cited ids ``citations[i]``).

    Each ``contexts[i]`` is a list of passages (strings or ``{"id", "text"}`` objects), each
    ``citations[i]`` a list of passage ids, as a predictions file's ``outputs`` holds them.

    Raises:
        InputError: The lists differ in length, or an item has the wrong shape.

    Example:
        >>> score_answers("faithfulness", ["Paris is in France."], [["Paris is in France."]]).value
        1.0
    """
    if len(answers) != len(contexts) or (citations is not None and len(citations) != len(answers)):
        sizes = f"{len(answers)} answers, {len(contexts)} contexts"
        if citations is not None:
            sizes += f", {len(citations)} citations"
        raise InputError(f"{name}: one context list per answer is needed ({sizes}).")
    samples = []
    for i, (answer, ctx) in enumerate(zip(answers, contexts, strict=True)):
        if not isinstance(answer, str):
            raise InputError(f"{name}: answer {i} is {type(answer).__name__}; answers are strings.")
        outputs: dict[str, Any] = {"contexts": ctx}
        if citations is not None:
            outputs["citations"] = citations[i]
        samples.append(Sample(id=str(i), prediction=answer, outputs=outputs, where=f"item {i}"))
    return METRICS.get(name).build(params).score(samples)
