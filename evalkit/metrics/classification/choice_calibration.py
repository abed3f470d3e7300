"""``choice_calibration``: calibration of multiple-choice answers, confidences from log-likelihoods.

A multiple-choice item scored by log-likelihood (as ``choice_accuracy`` scores it) has a
confidence without asking the model for one: the probability of the chosen answer under the
softmax of the choices' summed log-probabilities, ``p_i = exp(ll_i) / sum_j exp(ll_j)``. The
model's answer is the choice with the highest ``ll`` (``acc``'s choice) or the highest
``ll / len(choice)`` (``acc_norm``'s, with ``answer: norm``), and its confidence is that
choice's ``p``; the pair ``[confidence, correct]`` is binned exactly as ``calibration`` bins it
(ECE with the same ``binning``, ``n_bins``, ``norm`` and ``edge`` rules, and the Brier score of
the chosen answer). This is how HELM reads calibration off multiple-choice scenarios (the
probability normalised over the answer choices; Liang et al. 2022, section on calibration).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from evalkit.metrics.choice import (
    ChoiceItemParams,
    choice_continuations,
    choice_items,
    choice_logprobs,
    delimiter_signature,
    item_choices,
)
from evalkit.metrics.classification.calibration import BinParams, Calibration
from evalkit.types import Sample, Score, Stats

__all__ = ["ChoiceCalibration", "choice_calibration", "choice_confidence"]


def choice_confidence(
    logprobs: Sequence[float], choices: Sequence[str], gold: int, answer: str = "raw"
) -> tuple[float, float]:
    """``(confidence, correct)`` of one item: the softmax probability of the chosen choice.

    The chosen choice is ``argmax(ll)`` (``answer="raw"``) or ``argmax(ll / len(choice))``
    (``"norm"``, characters); ties go to the first. The softmax is computed with the maximum
    subtracted, so log-likelihoods of -1000 do not underflow.

    >>> conf, ok = choice_confidence([-1.0, -2.0], ["yes", "no"], gold=0)
    >>> round(conf, 6), ok  # e^-1 / (e^-1 + e^-2)
    (0.731059, 1.0)
    """
    lls = np.asarray(logprobs, dtype=np.float64)
    if answer == "norm":
        chosen = int(np.argmax(lls / np.asarray([len(c) for c in choices], dtype=np.float64)))
    else:
        chosen = int(np.argmax(lls))
    shifted = np.exp(lls - lls.max())
    return float(shifted[chosen] / shifted.sum()), float(chosen == gold)


class ChoiceCalibration(Calibration):
    """ECE and Brier score of multiple-choice answers, confidences from the choices' softmax.

    Args:
        choices_field: The dataset field holding each item's choices (a list of strings).
        gold_field: The dataset field holding the answer: the right choice's index or text.
        target_delimiter: Text put between the prompt and each choice (as ``choice_accuracy``).
        answer: ``raw`` (the highest log-likelihood, ``acc``'s answer) or ``norm`` (the
            highest per-character log-likelihood, ``acc_norm``'s).
        binning: ``"equal_width"`` (default) or ``"equal_mass"``.
        n_bins: The number of bins (default 15).
        norm: ``"l1"`` (default), ``"l2"`` or ``"max"``.
        edge: Where a confidence on an edge goes (see :class:`~.calibration.Calibration`).

    References:
        Guo et al. (2017), "On Calibration of Modern Neural Networks" (top-label ECE);
        Liang et al. (2022), "Holistic Evaluation of Language Models" (calibration of
        multiple-choice answers from the probability normalised over the choices); Gao et al.,
        lm-evaluation-harness (the choices' log-likelihoods, as ``choice_accuracy``).

    Example:
        >>> def item(i, lls, gold):
        ...     return Sample(i, inputs={"choices": ["a", "b"], "gold": gold},
        ...                   outputs={"choices": [{"logprob": x} for x in lls]})
        >>> m = ChoiceCalibration(n_bins=2)
        >>> v = m.score([item("1", [-0.1, -3.0], 0), item("2", [-1.0, -1.2], 1)]).details
        >>> [round(x, 4) for x in m.sample_stats([item("2", [-1.0, -1.2], 1)])[0]]
        [0.5498, 0.0]
        >>> round(v["ece"], 4), round(v["brier"], 4)  # one bin: |1/2 - mean(.9478, .5498)|
        (0.2488, 0.1525)
    """

    name: ClassVar[str] = "choice_calibration"
    requires: ClassVar[frozenset[str]] = frozenset({"loglikelihood", "choices"})
    request_kind: ClassVar[str] = "loglikelihood"
    builds_continuations: ClassVar[bool] = True

    class Params(BinParams, ChoiceItemParams):
        """The parameters: the items' fields, as choice_accuracy's, the answer, and the bins."""

        answer: Literal["raw", "norm"] = Field(
            "raw", description="the answer: highest log-likelihood (raw) or per character (norm)"
        )

    p: Params  # type: ignore[assignment]

    def setup(self) -> None:
        self._resolve_edge()

    def signature_fields(self) -> dict[str, Any]:
        return delimiter_signature(super().signature_fields(), self.p)

    def request_continuations(self, sample: Sample) -> tuple[str, ...]:
        return choice_continuations(sample, self.p)

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """``[confidence, correct]`` per item."""
        out: list[Stats] = []
        for s in batch:
            choices, gold = item_choices(s, self.p.choices_field, self.p.gold_field)
            lls = choice_logprobs(s, len(choices), self.name)
            out.append(list(choice_confidence(lls, choices, gold, self.p.answer)))
        return out


def choice_calibration(
    loglikelihoods: Sequence[Sequence[float]],
    gold: Sequence[int | str],
    choices: Sequence[Sequence[str]],
    **params: Any,
) -> Score:
    """``ece`` (headline) and ``brier`` of items from their choices' log-likelihoods.

    Example:
        >>> s = choice_calibration([[-0.1, -3.0], [-1.0, -1.2]], [0, "b"], [["a", "b"]] * 2,
        ...                        n_bins=2)
        >>> round(s.value, 4), s.n
        (0.2488, 2)
    """
    metric = ChoiceCalibration(**params)
    return metric.score(
        choice_items(
            loglikelihoods, gold, choices, metric.p.choices_field, metric.p.gold_field, metric.name
        )
    )
