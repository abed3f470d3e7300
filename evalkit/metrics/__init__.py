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
    "bertscore",
    "bleu",
    "chrf",
    "exact_match",
    "hit_rate",
    "meteor",
    "mrr",
    "ndcg",
    "perplexity",
    "precision",
    "r_precision",
    "recall",
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


def bertscore(
    predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any
) -> Score:
    """BERTScore (bert-score's numbers); see :class:`evalkit.metrics.bertscore_metric.BERTScore`."""
    return score("bertscore", predictions, references, **params)


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


# Ranking metrics: ``qrels`` and ``run`` are Qrels/Run objects, {query: {doc: grade or score}}
# mappings or TREC/JSONL/JSON files; see evalkit.metrics.retrieval.score_run. ``map`` is left
# out of __all__ so that ``from evalkit.metrics import *`` does not shadow the builtin.


def precision(qrels: Any, run: Any, **params: Any) -> Score:
    """Precision@k (trec_eval ``P_k``); see :class:`evalkit.metrics.retrieval.Precision`."""
    from evalkit.metrics.retrieval import score_run

    return score_run("precision", qrels, run, **params)


def recall(qrels: Any, run: Any, **params: Any) -> Score:
    """Recall@k (trec_eval ``recall_k``); see :class:`evalkit.metrics.retrieval.Recall`."""
    from evalkit.metrics.retrieval import score_run

    return score_run("recall", qrels, run, **params)


def hit_rate(qrels: Any, run: Any, **params: Any) -> Score:
    """Hit rate@k (trec_eval ``success_k``); see :class:`evalkit.metrics.retrieval.HitRate`."""
    from evalkit.metrics.retrieval import score_run

    return score_run("hit_rate", qrels, run, **params)


def mrr(qrels: Any, run: Any, **params: Any) -> Score:
    """Mean reciprocal rank (@k); see :class:`evalkit.metrics.retrieval.MRR`."""
    from evalkit.metrics.retrieval import score_run

    return score_run("mrr", qrels, run, **params)


def ndcg(qrels: Any, run: Any, **params: Any) -> Score:
    """nDCG@k (trec_eval ``ndcg_cut``); see :class:`evalkit.metrics.retrieval.NDCG`.

    >>> ndcg({"q1": {"d1": 1}}, {"q1": {"d2": 0.9, "d1": 0.5}}, k=10).details
    {'ndcg@10': 0.6309297535714575}
    """
    from evalkit.metrics.retrieval import score_run

    return score_run("ndcg", qrels, run, **params)


def map(qrels: Any, run: Any, **params: Any) -> Score:
    """Mean average precision (@k); see :class:`evalkit.metrics.retrieval.MAP`."""
    from evalkit.metrics.retrieval import score_run

    return score_run("map", qrels, run, **params)


def r_precision(qrels: Any, run: Any, **params: Any) -> Score:
    """R-precision (trec_eval ``Rprec``); see :class:`evalkit.metrics.retrieval.RPrecision`."""
    from evalkit.metrics.retrieval import score_run

    return score_run("r_precision", qrels, run, **params)
