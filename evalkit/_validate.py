"""Input checks shared by the functional metric front ends, with one message template.

Messages read ``<metric>: <what is wrong>; <how to fix it>.``
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalkit.errors import ConfigError, InputError
from evalkit.types import Sample


def as_samples(
    metric: str, predictions: Sequence[str], references: Sequence[Sequence[str]]
) -> list[Sample]:
    """Check predictions against per-prediction reference lists and build Samples.

    ``references[i]`` must be a list of reference strings for ``predictions[i]``. A bare string
    there is refused: sacrebleu reads a flat list of strings as reference *streams* and silently
    mis-scores, so evalkit never guesses.

    >>> [s.references for s in as_samples("bleu", ["a", "b"], [["x"], ["y", "z"]])]
    [('x',), ('y', 'z')]
    >>> as_samples("bleu", ["a", "b"], ["x", "y"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.errors.InputError: bleu: references[0] is a string, ... [[ref] for ref in references].
    """
    if isinstance(predictions, str):
        raise InputError(f"{metric}: predictions is a string; pass a list of strings.")
    if isinstance(references, str):
        raise InputError(
            f"{metric}: references is a string; pass one list of strings per prediction."
        )
    if len(predictions) != len(references):
        raise InputError(
            f"{metric}: predictions and references differ in length "
            f"({len(predictions)} vs {len(references)}); pass one list of references per "
            "prediction (sacrebleu-style reference streams must be transposed first)."
        )
    samples = []
    for i, (pred, refs) in enumerate(zip(predictions, references, strict=True)):
        if not isinstance(pred, str):
            raise InputError(f"{metric}: predictions[{i}] is {type(pred).__name__}, not a string.")
        if isinstance(refs, str):
            raise InputError(
                f"{metric}: references[{i}] is a string, but each prediction needs a list of "
                "references; wrap them: [[ref] for ref in references]."
            )
        refs = list(refs)
        if not refs:
            raise InputError(f"{metric}: references[{i}] is empty; give at least one reference.")
        for j, r in enumerate(refs):
            if not isinstance(r, str):
                raise InputError(
                    f"{metric}: references[{i}][{j}] is {type(r).__name__}, not a string."
                )
        samples.append(Sample(id=str(i), references=tuple(refs), prediction=pred))
    return samples


def check_choice(metric: str, param: str, value: Any, choices: Sequence[Any]) -> None:
    """Raise ConfigError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(
            f"{metric}: {param}={value!r} is not allowed; choose one of "
            f"{', '.join(repr(c) for c in choices)}."
        )


def check_type(metric: str, param: str, value: Any, kind: type | tuple[type, ...]) -> None:
    """Raise ConfigError unless ``value`` is an instance of ``kind`` (bool is not an int)."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        names = " or ".join(k.__name__ for k in kinds)
        raise ConfigError(
            f"{metric}: {param} must be {names}, got {type(value).__name__} {value!r}."
        )


def sample_texts(metric: str, batch: Sequence[Sample]) -> tuple[list[str], list[list[str]]]:
    """Predictions and reference lists of a batch, refusing samples that cannot be scored.

    The runner builds Samples itself (the functional front ends go through
    :func:`evalkit._validate.as_samples`), so this is the last check before a library sees the
    text: a missing prediction is an error, never an empty string.

    >>> sample_texts("bleu", [Sample(id="q1", references=("a b",), prediction="a")])
    (['a'], [['a b']])
    >>> sample_texts("bleu", [Sample(id="q1", prediction="a")])
    Traceback (most recent call last):
    ...
    evalkit.errors.InputError: bleu: sample 'q1' has no references; give at least one reference.
    """
    predictions: list[str] = []
    references: list[list[str]] = []
    for sample in batch:
        if not isinstance(sample.prediction, str):
            raise InputError(
                f"{metric}: sample '{sample.id}' has no prediction "
                f"({type(sample.prediction).__name__}); score samples after generation."
            )
        refs = sample.references
        if isinstance(refs, str):
            raise InputError(
                f"{metric}: sample '{sample.id}' has a string as references; "
                "pass a list of reference strings."
            )
        if len(refs) == 0:
            raise InputError(
                f"{metric}: sample '{sample.id}' has no references; give at least one reference."
            )
        for j, ref in enumerate(refs):
            if not isinstance(ref, str):
                raise InputError(
                    f"{metric}: sample '{sample.id}': references[{j}] is "
                    f"{type(ref).__name__}, not a string."
                )
        predictions.append(sample.prediction)
        references.append(list(refs))
    return predictions, references
