"""Multiple choice by log-likelihood: the ``choice_accuracy`` metric (:class:`ChoiceAccuracy`).

A multiple-choice item is a context (the task's prompt), a list of choices (a dataset field)
and the gold answer (a dataset field: the index of the right choice, or its text). The model
scores every choice as a continuation of the context, one ``loglikelihood`` request each, and
the item is answered by the best-scored choice. This is lm-evaluation-harness'
``output_type: multiple_choice`` (``ConfigurableTask.construct_requests`` and
``process_results`` in ``lm_eval/api/task.py``), side by side:

- context: lm-eval ``doc_to_text(doc)``; evalkit the task's ``prompt``.
- choices: lm-eval ``doc_to_choice(doc)``, a list of strings; evalkit the dataset field
  ``choices_field``, a list of strings.
- one request per choice: lm-eval ``(ctx, target_delimiter + choice)``; evalkit
  ``(prompt, target_delimiter + choice)``, ``target_delimiter`` defaulting to ``" "`` in both.
- a choice's score ``ll``: the summed log-probability of the continuation's tokens given the
  context, in both (the ``logprob`` of a ``loglikelihood`` result).
- ``acc``: ``argmax(lls) == gold`` in both.
- ``acc_norm``: lm-eval ``argmax(lls / completion_len) == gold`` with
  ``completion_len = len(choice)``, the choice's characters without the delimiter; evalkit the
  same with ``length: chars`` (the default).
- gold given as text: ``choices.index(gold)`` in both.
- gold out of range or not among the choices: lm-eval logs a warning and the item scores 0;
  evalkit refuses the data (InputError, exit 2, naming the file, line and field) before any
  model call.
- ties: ``np.argmax`` (the first best choice) in both.

``length: bytes`` divides by the choice's UTF-8 byte length instead (what descriptions of
``acc_norm`` often call byte-length normalisation; lm-evaluation-harness' code counts
characters); for ASCII choices both give the same number. How the adapter splits context
and continuation into tokens is the adapter's (``hf:`` moves trailing context whitespace
into the continuation and tokenises the pair together, as lm-evaluation-harness'
``_encode_pair`` does; its ``loglikelihood_prefix: empty_context`` also leaves out the
prefix token before a non-empty context, as lm-evaluation-harness does for GPT-2).

Per-sample statistics are ``[acc, acc_norm]`` (each 0 or 1), so bootstrap intervals, paired
tests between two models and gates work as for any mean.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from evalkit.errors import InputError
from evalkit.metrics.base import MeanMetric
from evalkit.metrics.params import MetricParams
from evalkit.types import Sample, Score, Stats

__all__ = [
    "ChoiceAccuracy",
    "ChoiceItemParams",
    "choice_accuracy",
    "choice_continuations",
    "choice_items",
    "choice_logprobs",
    "choice_scores",
    "delimiter_signature",
    "item_choices",
]


def _where(sample: Sample) -> str:
    return sample.where or f"sample '{sample.id}'"


def item_choices(sample: Sample, choices_field: str, gold_field: str) -> tuple[list[str], int]:
    """``(choices, gold index)`` of a multiple-choice sample, checked.

    Raises:
        InputError: A missing field, choices that are not a list of at least two non-empty
            strings, a gold index out of range or a gold text that is none of the choices; the
            message names the file and line (``sample.where``) and the field.

    >>> item_choices(Sample("1", inputs={"c": ["yes", "no"], "g": "no"}), "c", "g")
    (['yes', 'no'], 1)
    """
    where, inputs = _where(sample), sample.inputs
    for f in (choices_field, gold_field):
        if f not in inputs:
            raise InputError(
                f"{where}: field '{f}' is missing; choice_accuracy reads the "
                f"{'choices' if f == choices_field else 'answer'} from '{f}' "
                f"(fields here: {', '.join(sorted(inputs))})."
            )
    choices = inputs[choices_field]
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise InputError(
            f"{where}: field '{choices_field}' must be a list of strings (the choices), got "
            f"{type(choices).__name__}{'' if isinstance(choices, list) else f' {choices!r:.60}'}."
        )
    if len(choices) < 2:
        raise InputError(
            f"{where}: field '{choices_field}' holds {len(choices)} choice(s); a "
            "multiple-choice item needs at least two."
        )
    for i, c in enumerate(choices):
        if not c:
            raise InputError(
                f"{where}: field '{choices_field}': choice {i} is empty; acc_norm divides by "
                "the choice's length, so every choice needs text."
            )
    gold = inputs[gold_field]
    if isinstance(gold, bool) or not isinstance(gold, (int, str)):
        raise InputError(
            f"{where}: field '{gold_field}' must be the right choice's index (an integer from "
            f"0) or its text, got {type(gold).__name__}."
        )
    if isinstance(gold, int):
        if not 0 <= gold < len(choices):
            raise InputError(
                f"{where}: field '{gold_field}': index {gold} is out of range for "
                f"{len(choices)} choices (indices start at 0: 0..{len(choices) - 1})."
            )
        return list(choices), gold
    if gold not in choices:
        hint = " (an index must be a JSON integer, not a string)" if gold.isdigit() else ""
        raise InputError(
            f"{where}: field '{gold_field}': {gold!r:.80} is none of the choices in "
            f"'{choices_field}'{hint}."
        )
    return list(choices), choices.index(gold)


def choice_scores(
    logprobs: Sequence[float], choices: Sequence[str], gold: int, length: str = "chars"
) -> tuple[float, float]:
    """``(acc, acc_norm)`` of one item from its choices' summed log-probabilities.

    ``acc = [argmax(ll) == gold]``; ``acc_norm = [argmax(ll / len(choice)) == gold]`` with
    ``len`` in characters (``length="chars"``, lm-evaluation-harness) or UTF-8 bytes; ties go
    to the first best choice (``np.argmax``).

    >>> choice_scores([-4.0, -6.0], ["no", "yes sir"], gold=1)  # -6/7 > -4/2
    (0.0, 1.0)
    """
    lls = np.asarray(logprobs, dtype=np.float64)
    if length == "bytes":
        sizes = [len(c.encode("utf-8")) for c in choices]
    else:
        sizes = [len(c) for c in choices]
    lengths = np.asarray(sizes, dtype=np.float64)
    return float(np.argmax(lls) == gold), float(np.argmax(lls / lengths) == gold)


class ChoiceItemParams(MetricParams):
    """Where a multiple-choice item's choices and answer are, and how a choice follows the
    prompt: the parameters every metric over choice log-likelihoods takes."""

    choices_field: str = Field(
        "choices", min_length=1, description="dataset field with the choices (a list)"
    )
    gold_field: str = Field(
        "gold", min_length=1, description="dataset field with the answer: index or text"
    )
    target_delimiter: str = Field(" ", description="text between the prompt and a choice")


def choice_continuations(sample: Sample, p: ChoiceItemParams) -> tuple[str, ...]:
    """The continuations scored for ``sample``: the delimiter and each choice."""
    choices, _ = item_choices(sample, p.choices_field, p.gold_field)
    return tuple(p.target_delimiter + c for c in choices)


def delimiter_signature(fields: dict[str, Any], p: ChoiceItemParams) -> dict[str, Any]:
    """``fields`` with the delimiter as a JSON string, spaces escaped (signatures hold no
    spaces): ``" "`` is ``"\\u0020"``."""
    fields["target_delimiter"] = json.dumps(p.target_delimiter).replace(" ", "\\u0020")
    return fields


class ChoiceAccuracy(MeanMetric):
    """Multiple-choice accuracy by log-likelihood: ``acc`` and ``acc_norm``.

    Definition (lm-evaluation-harness' ``multiple_choice``; see the module docstring for the
    side-by-side table): for an item with context ``x``, choices ``c_1..c_k`` and gold ``g``,
    ``ll_i = log P(d + c_i | x)`` summed over the continuation's tokens, with ``d`` the target
    delimiter (``" "``). ``acc = [argmax_i ll_i = g]`` and
    ``acc_norm = [argmax_i ll_i / len(c_i) = g]`` (``len`` in characters of the choice without
    the delimiter; ``length: bytes`` for UTF-8 bytes); ties go to the first best choice. Corpus
    values are means over items, in ``[0, 1]``.

    Args:
        choices_field: The dataset field holding each item's choices (a list of strings).
        gold_field: The dataset field holding the answer: the right choice's index (from 0) or
            its text.
        target_delimiter: Text put between the prompt and each choice.
        length: What ``acc_norm`` divides by: ``chars`` (lm-evaluation-harness) or ``bytes``.

    References:
        Gao et al., "A framework for few-shot language model evaluation" (lm-evaluation-harness,
        ``lm_eval/api/task.py``); Biderman et al. (2024), "Lessons from the Trenches on
        Reproducible Evaluation of Language Models", section on normalisation.

    Example:
        >>> item = Sample("q1", inputs={"choices": ["no", "yes sir"], "gold": 1},
        ...               outputs={"choices": [{"logprob": -4.0}, {"logprob": -6.0}]})
        >>> m = ChoiceAccuracy()
        >>> m.request_continuations(item)
        (' no', ' yes sir')
        >>> m.score([item]).details
        {'acc': 0.0, 'acc_norm': 1.0}
    """

    name: ClassVar[str] = "choice_accuracy"
    higher_is_better: ClassVar[bool] = True
    requires: ClassVar[frozenset[str]] = frozenset({"loglikelihood", "choices"})
    request_kind: ClassVar[str] = "loglikelihood"
    builds_continuations: ClassVar[bool] = True

    class Params(ChoiceItemParams):
        """The choice accuracy's parameters."""

        length: Literal["chars", "bytes"] = Field(
            "chars", description="acc_norm divides by the choice's characters or UTF-8 bytes"
        )

    p: Params

    def value_names(self) -> tuple[str, ...]:
        return ("acc", "acc_norm")

    def signature_fields(self) -> dict[str, Any]:
        return delimiter_signature(super().signature_fields(), self.p)

    def request_continuations(self, sample: Sample) -> tuple[str, ...]:
        return choice_continuations(sample, self.p)

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        out: list[Stats] = []
        for s in batch:
            choices, gold = item_choices(s, self.p.choices_field, self.p.gold_field)
            lls = choice_logprobs(s, len(choices), self.name)
            acc, acc_norm = choice_scores(lls, choices, gold, self.p.length)
            out.append([acc, acc_norm])
        return out


def choice_logprobs(sample: Sample, n_choices: int, metric: str = "choice_accuracy") -> list[float]:
    """The summed log-probability of each choice, from ``outputs["choices"]``.

    Raises:
        InputError: No per-choice log-likelihoods, or another number of them than choices.
    """
    results = sample.outputs.get("choices") if sample.outputs else None
    if not isinstance(results, list) or not all(
        isinstance(r, Mapping) and "logprob" in r for r in results
    ):
        raise InputError(
            f"{metric}: {_where(sample)} has no per-choice log-likelihoods "
            "(outputs['choices'][i]['logprob']); the task's model must serve loglikelihood "
            "requests."
        )
    if len(results) != n_choices:
        raise InputError(
            f"{metric}: {_where(sample)}: {len(results)} log-likelihoods for {n_choices} choices."
        )
    return [float(r["logprob"]) for r in results]


def choice_accuracy(
    loglikelihoods: Sequence[Sequence[float]],
    gold: Sequence[int | str],
    choices: Sequence[Sequence[str]],
    **params: Any,
) -> Score:
    """``acc`` (headline) and ``acc_norm`` of items from their choices' log-likelihoods.

    Args:
        loglikelihoods: Per item, the summed log-probability of each choice's continuation.
        gold: Per item, the right choice's index or text.
        choices: Per item, the choices' texts (without the target delimiter).
        **params: :class:`ChoiceAccuracy` parameters (``length``).

    Example:
        >>> lls = [[-4.0, -6.0], [-1.0, -3.0]]
        >>> s = choice_accuracy(lls, [1, "a"], [["no", "yes sir"], ["a", "b"]])
        >>> s.value, s.details["acc_norm"], s.n
        (0.5, 1.0, 2)
    """
    metric = ChoiceAccuracy(**params)
    cf, gf = metric.p.choices_field, metric.p.gold_field
    return metric.score(choice_items(loglikelihoods, gold, choices, cf, gf))


def choice_items(
    loglikelihoods: Sequence[Sequence[float]],
    gold: Sequence[int | str],
    choices: Sequence[Sequence[str]],
    choices_field: str = "choices",
    gold_field: str = "gold",
    metric: str = "choice_accuracy",
) -> list[Sample]:
    """Samples for the functional twins: each item's choices, answer and log-likelihoods.

    Raises:
        InputError: The sequences differ in length.
    """
    if not len(loglikelihoods) == len(gold) == len(choices):
        raise InputError(
            f"{metric}: loglikelihoods, gold and choices differ in length "
            f"({len(loglikelihoods)}, {len(gold)}, {len(choices)})."
        )
    return [
        Sample(
            id=str(i),
            inputs={choices_field: list(c), gold_field: g},
            outputs={"choices": [{"logprob": float(x)} for x in ll]},
            where=f"item {i}",
        )
        for i, (ll, g, c) in enumerate(zip(loglikelihoods, gold, choices, strict=True))
    ]
