"""Metric families and their functional front ends.

Each functional twin (``bleu(predictions, references, **params) -> Score``) builds the registered
metric class and scores in one call, so the class and the function share one implementation.

>>> from evalkit.metrics import exact_match
>>> exact_match(["The Cat!"], [["cat"]]).value
1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalkit.types import Score

__all__ = [
    "bleu",
    "chrf",
    "exact_match",
    "meteor",
    "perplexity",
    "rouge",
    "score",
    "ter",
    "token_f1",
]


def score(
    metric: str, predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any
) -> Score:
    """Score predictions with any registered reference-based metric by name."""
    from evalkit._validate import as_samples
    from evalkit.registry import METRICS

    cls = METRICS.get(metric)
    samples = as_samples(metric, predictions, references)
    return cls.build(params).score(samples)


def bleu(predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any) -> Score:
    """Corpus BLEU (sacrebleu); see :class:`evalkit.metrics.text_overlap.BLEU`."""
    return score("bleu", predictions, references, **params)


def chrf(predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any) -> Score:
    """Corpus chrF / chrF++ (sacrebleu); see :class:`evalkit.metrics.text_overlap.CHRF`."""
    return score("chrf", predictions, references, **params)


def ter(predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any) -> Score:
    """Corpus TER (sacrebleu); see :class:`evalkit.metrics.text_overlap.TER`."""
    return score("ter", predictions, references, **params)


def rouge(predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any) -> Score:
    """ROUGE (rouge-score); see :class:`evalkit.metrics.rouge_metric.ROUGE`."""
    return score("rouge", predictions, references, **params)


def meteor(predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any) -> Score:
    """METEOR as nltk computes it; see :class:`evalkit.metrics.meteor_metric.METEOR`."""
    return score("meteor", predictions, references, **params)


def perplexity(texts: Sequence[str], model: Any, **params: Any) -> Score:
    """Corpus perplexity of texts under a model spec (``hf:PATH``) or adapter.

    Parameters are ``max_length``, ``stride`` and ``model_options``; see
    :func:`evalkit.metrics.perplexity_metric.score_texts`.
    """
    from evalkit.metrics.perplexity_metric import score_texts

    return score_texts(texts, model, **params)


def exact_match(
    predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any
) -> Score:
    """SQuAD exact match; see :class:`evalkit.metrics.qa.ExactMatch`."""
    return score("exact_match", predictions, references, **params)


def token_f1(
    predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any
) -> Score:
    """SQuAD token F1; see :class:`evalkit.metrics.qa.TokenF1`."""
    return score("token_f1", predictions, references, **params)
