"""Metric families and their functional front ends.

Each functional twin (``bleu(predictions, references, **params) -> Score``) builds the registered
metric class and scores in one call, so the class and the function share one implementation.

>>> from evalkit.metrics import exact_match
>>> exact_match(["The Cat!"], [["cat"]]).value
1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.types import Score

__all__ = [
    "accuracy",
    "answer_relevance",
    "bertscore",
    "bleu",
    "choice_accuracy",
    "choice_calibration",
    "chrf",
    "citation_accuracy",
    "context_precision",
    "context_recall",
    "context_relevance",
    "counterfactual_gap",
    "counterfactual_ll_gap",
    "distinct_n",
    "embedding_diversity",
    "exact_match",
    "f1",
    "faithfulness",
    "fid",
    "group_fairness",
    "hit_rate",
    "inception_score",
    "judge",
    "judge_pairwise",
    "kid",
    "meteor",
    "mrr",
    "ndcg",
    "ngram_entropy",
    "perplexity",
    "precision",
    "r_precision",
    "recall",
    "repetition",
    "rouge",
    "score",
    "self_bleu",
    "stereotype_preference",
    "ter",
    "token_f1",
    "unsupported_facts",
    "weat",
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
    """BERTScore (bert-score's numbers); see :class:`evalkit.metrics.text.bertscore.BERTScore`."""
    return score("bertscore", predictions, references, **params)


def bleu(predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any) -> Score:
    """Corpus BLEU (sacrebleu); see :class:`evalkit.metrics.text.bleu.BLEU`."""
    return score("bleu", predictions, references, **params)


def chrf(predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any) -> Score:
    """Corpus chrF / chrF++ (sacrebleu); see :class:`evalkit.metrics.text.chrf.CHRF`."""
    return score("chrf", predictions, references, **params)


def ter(predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any) -> Score:
    """Corpus TER (sacrebleu); see :class:`evalkit.metrics.text.ter.TER`."""
    return score("ter", predictions, references, **params)


def rouge(predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any) -> Score:
    """ROUGE (rouge-score); see :class:`evalkit.metrics.text.rouge.ROUGE`."""
    return score("rouge", predictions, references, **params)


def meteor(predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any) -> Score:
    """METEOR as nltk computes it; see :class:`evalkit.metrics.text.meteor.METEOR`."""
    return score("meteor", predictions, references, **params)


def perplexity(texts: Sequence[str], model: Any, **params: Any) -> Score:
    """Corpus perplexity of texts under a model spec (``hf:PATH``) or adapter.

    Parameters are ``max_length``, ``stride`` and ``model_options``; see
    :func:`evalkit.metrics.lm.score_texts`.
    """
    from evalkit.metrics.lm import score_texts

    return score_texts(texts, model, **params)


def choice_accuracy(
    loglikelihoods: Sequence[Sequence[float]],
    gold: Sequence[int | str],
    choices: Sequence[Sequence[str]],
    **params: Any,
) -> Score:
    """Multiple-choice ``acc`` / ``acc_norm`` (lm-evaluation-harness) from choice log-likelihoods.

    See :class:`evalkit.metrics.choice.ChoiceAccuracy`.
    """
    from evalkit.metrics.choice import choice_accuracy as _choice_accuracy

    return _choice_accuracy(loglikelihoods, gold, choices, **params)


def choice_calibration(
    loglikelihoods: Sequence[Sequence[float]],
    gold: Sequence[int | str],
    choices: Sequence[Sequence[str]],
    **params: Any,
) -> Score:
    """ECE and Brier score of multiple-choice answers, confidences from the choices' softmax;
    see :class:`~.classification.choice_calibration.ChoiceCalibration`."""
    from evalkit.metrics.classification.choice_calibration import (
        choice_calibration as _choice_calibration,
    )

    return _choice_calibration(loglikelihoods, gold, choices, **params)


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


def accuracy(
    predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any
) -> Score:
    """Label accuracy; see :class:`evalkit.metrics.classification.labels.Accuracy`."""
    return score("accuracy", predictions, references, **params)


def f1(predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any) -> Score:
    """Precision, recall and F1 over labels; see :class:`~.classification.labels.F1`."""
    return score("f1", predictions, references, **params)


def calibration(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    confidences: Sequence[float],
    **params: Any,
) -> Score:
    """ECE and Brier score; see :class:`~.classification.calibration.Calibration`.

    ``confidences[i]`` is the model's probability for ``predictions[i]`` (or for the positive
    label with ``target="positive"``).
    """
    from evalkit.metrics._twins import confidence_samples
    from evalkit.registry import METRICS

    samples = confidence_samples("calibration", predictions, references, confidences)
    return METRICS.get("calibration").build(params).score(samples)


def judge(
    predictions: Sequence[str],
    judgments: Sequence[Sequence[str | None]],
    *,
    human: Sequence[Any] | None = None,
    **params: Any,
) -> Score:
    """Rubric grading from judge answers given directly; see :class:`~.judges.rubric.RubricJudge`.

    ``judgments[i]`` holds the judge's ``repeats`` answers about ``predictions[i]`` (None: a
    failed call); ``human[i]``, with ``human_label="human"``, a person's label.
    """
    from evalkit.metrics.judges.rubric import judge_score

    return judge_score(predictions, judgments, human=human, **params)


def judge_pairwise(
    predictions: Sequence[str],
    judgments: Sequence[Sequence[str | None]],
    *,
    against: Mapping[str, Sequence[str | None]],
    **params: Any,
) -> Score:
    """Pairwise preference from judge verdicts given directly; see
    :class:`~.judges.pairwise.PairwiseJudge`.

    ``against[X][i]`` is system X's output for ``predictions[i]``; ``judgments[i]`` the
    judge's answers about sample ``i`` in request order (per opponent, the repeats with the
    run as A, then as B).
    """
    from evalkit.metrics.judges.pairwise import pairwise_score

    return pairwise_score(predictions, judgments, against=against, **params)


def context_precision(contexts: Any, relevant: Any, **params: Any) -> Score:
    """ragas' Context Precision@K over judged passage ids.

    ``contexts[i]`` is question i's retrieved passages in rank order (ids or ``{"id", "text"}``
    objects), ``relevant[i]`` its judged passages (ids or ``{id: grade}``); see
    :class:`evalkit.metrics.rag.context.ContextPrecision`.
    """
    from evalkit.metrics.rag.context import score_contexts

    return score_contexts("context_precision", contexts, relevant, **params)


def context_recall(contexts: Any, relevant: Any, **params: Any) -> Score:
    """Judged relevant passages retrieved over all (ragas' ``IDBasedContextRecall``).

    Arguments as :func:`context_precision`; see :class:`~.rag.context.ContextRecall`.
    """
    from evalkit.metrics.rag.context import score_contexts

    return score_contexts("context_recall", contexts, relevant, **params)


def faithfulness(answers: Sequence[str], contexts: Sequence[Any], **params: Any) -> Score:
    """Supported claims over claims of each answer against its passages; see
    :class:`evalkit.metrics.rag.faithfulness.Faithfulness` (``contexts[i]``: answer i's
    passages, strings or ``{"id", "text"}`` objects)."""
    from evalkit.metrics.rag.answers import score_answers

    return score_answers("faithfulness", answers, contexts, **params)


def unsupported_facts(answers: Sequence[str], contexts: Sequence[Any], **params: Any) -> Score:
    """Numbers, dates and names of each answer absent from its passages; see
    :class:`evalkit.metrics.rag.facts.UnsupportedFacts`."""
    from evalkit.metrics.rag.answers import score_answers

    return score_answers("unsupported_facts", answers, contexts, **params)


def citation_accuracy(
    answers: Sequence[str], contexts: Sequence[Any], citations: Sequence[Any], **params: Any
) -> Score:
    """Cited passage ids that were retrieved and support the answer; see
    :class:`evalkit.metrics.rag.citations.CitationAccuracy` (``citations[i]``: answer i's ids)."""
    from evalkit.metrics.rag.answers import score_answers

    return score_answers("citation_accuracy", answers, contexts, citations, **params)


# Ranking metrics: ``qrels`` and ``run`` are Qrels/Run objects, {query: {doc: grade or score}}
# mappings or TREC/JSONL/JSON files; see evalkit.metrics.retrieval.ranking.score_run.
# ``map`` is left
# out of __all__ so that ``from evalkit.metrics import *`` does not shadow the builtin.


def precision(qrels: Any, run: Any, **params: Any) -> Score:
    """Precision@k (trec_eval ``P_k``); see :class:`evalkit.metrics.retrieval.ranking.Precision`."""
    from evalkit.metrics.retrieval.ranking import score_run

    return score_run("precision", qrels, run, **params)


def recall(qrels: Any, run: Any, **params: Any) -> Score:
    """Recall@k (trec_eval ``recall_k``); see :class:`evalkit.metrics.retrieval.ranking.Recall`."""
    from evalkit.metrics.retrieval.ranking import score_run

    return score_run("recall", qrels, run, **params)


def hit_rate(qrels: Any, run: Any, **params: Any) -> Score:
    """Hit rate@k (trec_eval ``success_k``); see :class:`~.retrieval.ranking.HitRate`."""
    from evalkit.metrics.retrieval.ranking import score_run

    return score_run("hit_rate", qrels, run, **params)


def mrr(qrels: Any, run: Any, **params: Any) -> Score:
    """Mean reciprocal rank (@k); see :class:`evalkit.metrics.retrieval.ranking.MRR`."""
    from evalkit.metrics.retrieval.ranking import score_run

    return score_run("mrr", qrels, run, **params)


def ndcg(qrels: Any, run: Any, **params: Any) -> Score:
    """nDCG@k (trec_eval ``ndcg_cut``); see :class:`evalkit.metrics.retrieval.ranking.NDCG`.

    >>> ndcg({"q1": {"d1": 1}}, {"q1": {"d2": 0.9, "d1": 0.5}}, k=10).details
    {'ndcg@10': 0.6309297535714575}
    """
    from evalkit.metrics.retrieval.ranking import score_run

    return score_run("ndcg", qrels, run, **params)


def map(qrels: Any, run: Any, **params: Any) -> Score:
    """Mean average precision (@k); see :class:`evalkit.metrics.retrieval.ranking.MAP`."""
    from evalkit.metrics.retrieval.ranking import score_run

    return score_run("map", qrels, run, **params)


def r_precision(qrels: Any, run: Any, **params: Any) -> Score:
    """R-precision (trec_eval ``Rprec``); see :class:`~.retrieval.ranking.RPrecision`."""
    from evalkit.metrics.retrieval.ranking import score_run

    return score_run("r_precision", qrels, run, **params)


# Image metrics: ``generated`` and ``reference`` are folders of PNG/JPEG, .npz/.npy image files,
# arrays (N, H, W[, C]) or lists of images; see evalkit.metrics.image.


def fid(generated: Any, reference: Any, **params: Any) -> Score:
    """Fréchet distance of image features; see :class:`evalkit.metrics.image.fid.FID`."""
    from evalkit.metrics.image._base import score_images

    return score_images("fid", generated, reference, **params)


def kid(generated: Any, reference: Any, **params: Any) -> Score:
    """Kernel Inception Distance; see :class:`evalkit.metrics.image.kid.KID`."""
    from evalkit.metrics.image._base import score_images

    return score_images("kid", generated, reference, **params)


def inception_score(images: Any, **params: Any) -> Score:
    """Inception Score; see :class:`evalkit.metrics.image.inception_score.InceptionScore`."""
    from evalkit.metrics.image._base import score_images

    return score_images("inception_score", images, None, **params)


# Diversity and bias probes: reference-free or pair-based inputs; see
# evalkit.metrics.diversity and evalkit.metrics.bias.


def _outputs_score(metric: str, outputs: Sequence[Any], **params: Any) -> Score:
    from evalkit.metrics._twins import outputs_samples
    from evalkit.registry import METRICS

    return METRICS.get(metric).build(params).score(outputs_samples(metric, outputs))


def distinct_n(outputs: Sequence[Any], **params: Any) -> Score:
    """Distinct-n; ``outputs[i]`` is prompt i's text or list of samples.

    >>> distinct_n([["a b", "a b"]], n=1).details["distinct_1"]
    0.5
    """
    return _outputs_score("distinct_n", outputs, **params)


def ngram_entropy(outputs: Sequence[Any], **params: Any) -> Score:
    """N-gram entropy in bits; see :class:`evalkit.metrics.diversity.NgramEntropy`."""
    return _outputs_score("ngram_entropy", outputs, **params)


def repetition(outputs: Sequence[Any], **params: Any) -> Score:
    """Repeated n-gram share; see :class:`~evalkit.metrics.diversity.Repetition`."""
    return _outputs_score("repetition", outputs, **params)


def self_bleu(outputs: Sequence[Any], **params: Any) -> Score:
    """Self-BLEU; see :class:`evalkit.metrics.diversity.SelfBLEU`."""
    return _outputs_score("self_bleu", outputs, **params)


def embedding_diversity(outputs: Sequence[Any], **params: Any) -> Score:
    """Mean pairwise cosine distance of sentence embeddings of the outputs.

    See :class:`~evalkit.metrics.diversity.EmbeddingDiversity`.
    """
    return _outputs_score("embedding_diversity", outputs, **params)


def counterfactual_gap(
    outputs_a: Sequence[str],
    outputs_b: Sequence[str],
    references: Sequence[Sequence[str]] | None = None,
    **params: Any,
) -> Score:
    """Counterfactual gap of paired outputs.

    See :class:`~evalkit.metrics.bias.counterfactual.CounterfactualGap`.

    ``details`` adds ``cf_gap_ci_low`` / ``cf_gap_ci_high``: a seeded bootstrap over pairs.
    """
    from evalkit.metrics._twins import paired_text_score

    return paired_text_score(outputs_a, outputs_b, references, **params)


def counterfactual_ll_gap(
    loglik_a: Sequence[float], loglik_b: Sequence[float], **params: Any
) -> Score:
    """Counterfactual log-likelihood gap of paired texts.

    See :class:`~evalkit.metrics.bias.counterfactual.CounterfactualLikelihood`.
    """
    from evalkit.metrics._twins import paired_ll_score

    return paired_ll_score("counterfactual_ll_gap", loglik_a, loglik_b, **params)


def stereotype_preference(
    loglik_more: Sequence[float], loglik_less: Sequence[float], **params: Any
) -> Score:
    """Stereotype preference (ideal 50).

    See :class:`~evalkit.metrics.bias.stereotype.StereotypePreference`.
    """
    from evalkit.metrics._twins import paired_ll_score

    return paired_ll_score("stereotype_preference", loglik_more, loglik_less, **params)


def weat(x: Any, y: Any, a: Any, b: Any, **params: Any) -> Score:
    """WEAT effect size and p-value of four sets of embeddings (rows).

    See :class:`~evalkit.metrics.bias.weat.WEAT`.
    """
    from evalkit.metrics._twins import weat_score

    return weat_score(x, y, a, b, **params)


def group_fairness(
    predictions: Sequence[str], labels: Sequence[str], groups: Sequence[Any], **params: Any
) -> Score:
    """Group fairness of yes/no outputs; see :class:`~.bias.group_fairness.GroupFairness`."""
    from evalkit.metrics._twins import fairness_score

    return fairness_score(predictions, labels, groups, **params)


def context_relevance(
    contexts: Sequence[Sequence[Any]],
    judgments: Sequence[Sequence[str | None]],
    **params: Any,
) -> Score:
    """Relevance of retrieved passages from judge verdicts given directly; see
    :class:`~.rag.relevance.ContextRelevance`.

    ``contexts[i]`` holds sample ``i``'s passages (strings or ``{"id", "text"}``), best first;
    ``judgments[i]`` the judge's answers, ``repeats`` per passage in rank order (None: a failed
    call).

    Example:
        >>> context_relevance([["Paris is in France.", "Lyon."]],
        ...                   [['{"relevant": true}', '{"relevant": false}']]).value
        0.5
    """
    from evalkit.errors import InputError
    from evalkit.metrics.rag.relevance import ContextRelevance
    from evalkit.types import Sample

    if len(contexts) != len(judgments):
        raise InputError(
            f"context_relevance: contexts and judgments differ in length ({len(contexts)}, "
            f"{len(judgments)})."
        )
    samples = [
        Sample(
            id=str(i),
            outputs={
                "contexts": list(ctx),
                "judgments": [
                    {"text": a, "error": None if a is not None else "the judge call failed"}
                    for a in answers
                ],
            },
        )
        for i, (ctx, answers) in enumerate(zip(contexts, judgments, strict=True))
    ]
    return ContextRelevance(**params).score(samples)


def answer_relevance(
    questions: Sequence[str],
    predictions: Sequence[str],
    judgments: Sequence[Sequence[str | None]],
    **params: Any,
) -> Score:
    """Relevance of answers to their questions from judge verdicts given directly; see
    :class:`~.rag.answer_relevance.AnswerRelevance`.

    ``judgments[i]`` holds the judge's ``repeats`` answers about ``predictions[i]`` (None: a
    failed call).

    Example:
        >>> answer_relevance(["Capital of France?"], ["Paris."], [['{"relevance": 4}']]).value
        0.75
    """
    from evalkit.errors import InputError
    from evalkit.metrics.rag.answer_relevance import AnswerRelevance
    from evalkit.types import Sample

    if not len(questions) == len(predictions) == len(judgments):
        raise InputError(
            f"answer_relevance: questions, predictions and judgments differ in length "
            f"({len(questions)}, {len(predictions)}, {len(judgments)})."
        )
    samples = [
        Sample(
            id=str(i),
            inputs={"question": q},
            prediction=pred,
            outputs={
                "judgments": [
                    {"text": a, "error": None if a is not None else "the judge call failed"}
                    for a in answers
                ]
            },
        )
        for i, (q, pred, answers) in enumerate(zip(questions, predictions, judgments, strict=True))
    ]
    return AnswerRelevance(**{"question_field": "question", **params}).score(samples)
