"""Extractive question answering: SQuAD exact match and token F1.

Answers are compared after the normalisation of the official SQuAD v1.1 evaluation script
(``normalize_answer`` in ``evaluate-v1.1.py``), applied in this order:

1. lowercase;
2. drop every ASCII punctuation character (``string.punctuation``);
3. drop the articles ``a``, ``an``, ``the`` as whole words (``\\b(a|an|the)\\b``);
4. collapse runs of whitespace to one space and strip the ends.

Each sample scores the maximum over its references. Values are fractions in ``[0, 1]``; the
SQuAD script and torchmetrics report the same numbers multiplied by 100.
"""

from __future__ import annotations

import re
import string
from abc import abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence
from typing import ClassVar, Literal

from pydantic import Field

from evalkit._validate import sample_texts
from evalkit.metrics.base import MeanMetric
from evalkit.metrics.params import MetricParams
from evalkit.types import Sample, Stats

__all__ = ["ExactMatch", "TokenF1", "normalize_answer", "normalize_answers"]

#: Deletes every ASCII punctuation character (``str.translate``: one pass in C).
_DROP_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 answer normalisation (see the module docstring).

    >>> normalize_answer("  The Cat's  (big) hat!")
    'cats big hat'
    """
    text = text.lower().translate(_DROP_PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


#: Joins a batch's answers for :func:`normalize_answers`: not a word character (so ``\\b``
#: sees an answer's ends as it sees a string's), not whitespace, not cased and not
#: case-ignorable (so ``str.lower``'s final-sigma rule sees an end of string there).
_SEPARATOR = "\x00"


def normalize_answers(texts: Sequence[str]) -> list[str]:
    """:func:`normalize_answer` of each text, in one pass over them all.

    The texts are joined with a separator that each step treats as it treats the end of a
    string, normalised together and split again: the per-text result exactly, without a
    regular-expression call per text. Texts that hold the separator are normalised one by one.

    >>> normalize_answers(["The Cat!", "an  Apple", "ΟΔΟΣ"])
    ['cat', 'apple', 'οδος']
    """
    if not texts:
        return []
    joined = _SEPARATOR.join(texts)
    if joined.count(_SEPARATOR) != len(texts) - 1:
        return [normalize_answer(t) for t in texts]
    joined = _ARTICLES.sub(" ", joined.lower().translate(_DROP_PUNCTUATION))
    return [" ".join(part.split()) for part in joined.split(_SEPARATOR)]


def _identities(texts: Sequence[str]) -> list[str]:
    return list(texts)


def _normalizer(name: str) -> Callable[[Sequence[str]], list[str]]:
    return normalize_answers if name == "squad" else _identities


def token_f1_score(prediction_tokens: Sequence[str], reference_tokens: Sequence[str]) -> float:
    """F1 of the bag-of-tokens overlap between a prediction and one reference.

    When either side has no tokens the score is 1.0 if both are empty and 0.0 otherwise (the
    rule of the SQuAD v2.0 script and of torchmetrics; the v1.1 script returns 0.0 for two
    empty answers, so its F1 could be below its exact match).

    >>> token_f1_score(["cat", "sat"], ["cat", "sat", "down"])
    0.8
    >>> token_f1_score([], [])
    1.0
    """
    if not prediction_tokens or not reference_tokens:
        return float(list(prediction_tokens) == list(reference_tokens))
    common = Counter(prediction_tokens) & Counter(reference_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(prediction_tokens)
    recall = same / len(reference_tokens)
    return 2 * precision * recall / (precision + recall)


class _QAMetric(MeanMetric):
    """Shared parameters of the SQuAD metrics."""

    class Params(MetricParams):
        """The SQuAD metrics' parameters."""

        normalize: Literal["squad", "none"] = Field(
            "squad", description="answer normalisation: squad (SQuAD v1.1's) or none"
        )

    p: Params

    def setup(self) -> None:
        self._normalize = _normalizer(self.p.normalize)

    def value_names(self) -> tuple[str, ...]:
        return (self.name,)

    @abstractmethod
    def _pair_score(self, prediction: str, reference: str) -> float:
        """The score of one normalised prediction against one normalised reference."""

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """``[score]`` per sample: the best score over its references."""
        predictions, references = sample_texts(self.name, batch)
        # Every answer of the batch normalised in one pass, then split back per sample.
        flat = self._normalize([*predictions, *(r for refs in references for r in refs)])
        preds, rest = flat[: len(predictions)], iter(flat[len(predictions) :])
        score = self._pair_score
        return [
            [max(score(pred, next(rest)) for _ in refs)]
            for pred, refs in zip(preds, references, strict=True)
        ]


class ExactMatch(_QAMetric):
    """Exact match after SQuAD normalisation, as a fraction of samples.

    ``EM = mean over samples of max over references [normalize(prediction) ==
    normalize(reference)]``, where ``normalize`` is SQuAD v1.1's answer normalisation
    (``normalize="squad"``, see the module docstring) or nothing (``normalize="none"``).
    The value is in ``[0, 1]`` (the SQuAD script reports it times 100).

    Args:
        normalize: ``"squad"`` (default) or ``"none"`` for strict string equality.

    Raises:
        ConfigError: On an unknown ``normalize`` value.

    References:
        Rajpurkar et al. (2016), "SQuAD: 100,000+ Questions for Machine Comprehension of
        Text", EMNLP; the official ``evaluate-v1.1.py`` script.

    Example:
        >>> from evalkit.metrics import exact_match
        >>> exact_match(["The Eiffel Tower.", "Paris"], [["eiffel tower"], ["Lyon", "Nice"]]).value
        0.5
    """

    name: ClassVar[str] = "exact_match"
    higher_is_better: ClassVar[bool] = True

    def _pair_score(self, prediction: str, reference: str) -> float:
        return float(prediction == reference)


class TokenF1(_QAMetric):
    """Token-overlap F1 after SQuAD normalisation, averaged over samples.

    With ``p`` and ``r`` the normalised prediction and reference split on whitespace and
    ``common`` the size of their multiset intersection::

        P = common / |p|,  R = common / |r|,  F1 = 2 * P * R / (P + R)

    maximised over a sample's references and averaged over samples. If either token list is
    empty, F1 is 1 when both are empty and 0 otherwise (SQuAD v2.0 script and torchmetrics;
    SQuAD v1.1's script gives 0 for two empty answers). The value is in ``[0, 1]`` (the SQuAD
    script reports it times 100).

    Args:
        normalize: ``"squad"`` (default) or ``"none"`` (whitespace tokens, no normalisation).

    Raises:
        ConfigError: On an unknown ``normalize`` value.

    References:
        Rajpurkar et al. (2016), "SQuAD: 100,000+ Questions for Machine Comprehension of
        Text", EMNLP; the official ``evaluate-v1.1.py`` and ``evaluate-v2.0.py`` scripts.

    Example:
        >>> from evalkit.metrics import token_f1
        >>> token_f1(["the cat sat"], [["a cat sat down", "dog"]]).value
        0.8
    """

    name: ClassVar[str] = "token_f1"
    higher_is_better: ClassVar[bool] = True

    def _pair_score(self, prediction: str, reference: str) -> float:
        return token_f1_score(prediction.split(), reference.split())
