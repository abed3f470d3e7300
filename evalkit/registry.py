"""One generic registry for metrics and adapters.

Builtins are a lazy table of ``name -> "module:attribute"`` so that ``import evalkit`` imports
nothing heavy; third-party packages add entries through the ``evalkit.metrics`` and
``evalkit.adapters`` entry-point groups; tests and notebooks can use the ``register`` decorator.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib import metadata
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from evalkit.errors import ConfigError, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from evalkit.adapters.base import ModelAdapter
    from evalkit.metrics.base import Metric

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object lookup with lazy builtins, entry points and did-you-mean errors.

    >>> reg = Registry("widget", "evalkit.widgets", {"bleu": "evalkit.metrics.text.bleu:BLEU"})
    >>> reg.get("bleu").__name__
    'BLEU'
    >>> reg.get("bleuu")
    Traceback (most recent call last):
    ...
    evalkit.errors.ConfigError: unknown widget 'bleuu'. Did you mean 'bleu'? Available: bleu.
    """

    def __init__(
        self,
        kind: str,
        group: str,
        builtins: dict[str, str],
        factories: dict[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.group = group
        self._lazy = dict(builtins)
        #: ``prefix -> "module:function"``: ``get("prefix:arg")`` returns ``function(arg)``.
        self._factories = dict(factories or {})
        self._loaded: dict[str, T] = {}
        self._entry_points_read = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers an object under ``name``."""

        def deco(obj: T) -> T:
            self._loaded[name] = obj
            return obj

        return deco

    def _read_entry_points(self) -> None:
        if self._entry_points_read:
            return
        self._entry_points_read = True
        for ep in metadata.entry_points(group=self.group):
            self._lazy.setdefault(ep.name, ep.value)

    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._read_entry_points()
        made = {n for n in self._loaded if n.partition(":")[0] in self._factories}
        return sorted(set(self._lazy) | (set(self._loaded) - made))

    def patterns(self) -> list[str]:
        """Parameterised names such as ``hf_evaluate:NAME``."""
        return [f"{p}:NAME" for p in sorted(self._factories)]

    def get(self, name: str) -> T:
        """Return the object registered as ``name``; raise ConfigError with a suggestion."""
        if name in self._loaded:
            return self._loaded[name]
        prefix, sep, arg = name.partition(":")
        if sep and prefix in self._factories:
            if not arg:
                raise ConfigError(f"{self.kind} '{name}': name what follows '{prefix}:'.")
            module_name, _, attr = self._factories[prefix].partition(":")
            factory = getattr(importlib.import_module(module_name), attr)
            made: T = factory(arg)
            self._loaded[name] = made
            return made
        self._read_entry_points()
        target = self._lazy.get(name)
        if target is None:
            names = self.names()
            raise ConfigError(
                f"unknown {self.kind} '{name}'.{did_you_mean(name, names)} "
                f"Available: {', '.join(names + self.patterns())}."
            )
        module_name, _, attr = target.partition(":")
        obj: T = getattr(importlib.import_module(module_name), attr)
        self._loaded[name] = obj
        return obj


METRICS: Registry[type[Metric]] = Registry(
    "metric",
    "evalkit.metrics",
    {
        "bleu": "evalkit.metrics.text.bleu:BLEU",
        "chrf": "evalkit.metrics.text.chrf:CHRF",
        "ter": "evalkit.metrics.text.ter:TER",
        "rouge": "evalkit.metrics.text.rouge:ROUGE",
        "meteor": "evalkit.metrics.text.meteor:METEOR",
        "bertscore": "evalkit.metrics.text.bertscore:BERTScore",
        "perplexity": "evalkit.metrics.lm:Perplexity",
        "choice_accuracy": "evalkit.metrics.choice:ChoiceAccuracy",
        "exact_match": "evalkit.metrics.qa:ExactMatch",
        "token_f1": "evalkit.metrics.qa:TokenF1",
        "accuracy": "evalkit.metrics.classification.labels:Accuracy",
        "f1": "evalkit.metrics.classification.labels:F1",
        "calibration": "evalkit.metrics.classification.calibration:Calibration",
        "choice_calibration": "evalkit.metrics.classification.choice_calibration:ChoiceCalibration",
        "judge": "evalkit.metrics.judges.rubric:RubricJudge",
        "judge_pairwise": "evalkit.metrics.judges.pairwise:PairwiseJudge",
        "context_precision": "evalkit.metrics.rag.context:ContextPrecision",
        "context_recall": "evalkit.metrics.rag.context:ContextRecall",
        "context_relevance": "evalkit.metrics.rag.relevance:ContextRelevance",
        "answer_relevance": "evalkit.metrics.rag.answer_relevance:AnswerRelevance",
        "precision": "evalkit.metrics.retrieval.ranking:Precision",
        "recall": "evalkit.metrics.retrieval.ranking:Recall",
        "hit_rate": "evalkit.metrics.retrieval.ranking:HitRate",
        "mrr": "evalkit.metrics.retrieval.ranking:MRR",
        "ndcg": "evalkit.metrics.retrieval.ranking:NDCG",
        "map": "evalkit.metrics.retrieval.ranking:MAP",
        "r_precision": "evalkit.metrics.retrieval.ranking:RPrecision",
        "distinct_n": "evalkit.metrics.diversity:DistinctN",
        "ngram_entropy": "evalkit.metrics.diversity:NgramEntropy",
        "repetition": "evalkit.metrics.diversity:Repetition",
        "self_bleu": "evalkit.metrics.diversity:SelfBLEU",
        "embedding_diversity": "evalkit.metrics.diversity:EmbeddingDiversity",
        "counterfactual_gap": "evalkit.metrics.bias.counterfactual:CounterfactualGap",
        "counterfactual_ll_gap": "evalkit.metrics.bias.counterfactual:CounterfactualLikelihood",
        "stereotype_preference": "evalkit.metrics.bias.stereotype:StereotypePreference",
        "weat": "evalkit.metrics.bias.weat:WEAT",
        "group_fairness": "evalkit.metrics.bias.group_fairness:GroupFairness",
        "fid": "evalkit.metrics.image.fid:FID",
        "kid": "evalkit.metrics.image.kid:KID",
        "inception_score": "evalkit.metrics.image.inception_score:InceptionScore",
        "faithfulness": "evalkit.metrics.rag.faithfulness:Faithfulness",
        "unsupported_facts": "evalkit.metrics.rag.facts:UnsupportedFacts",
        "citation_accuracy": "evalkit.metrics.rag.citations:CitationAccuracy",
    },
    factories={"hf_evaluate": "evalkit.metrics.hf_evaluate:bridge_class"},
)

ADAPTERS: Registry[type[ModelAdapter]] = Registry(
    "adapter",
    "evalkit.adapters",
    {
        "predictions": "evalkit.adapters.predictions:PredictionsAdapter",
        "python": "evalkit.adapters.callable:CallableAdapter",
        "scripted": "evalkit.adapters.scripted:ScriptedAdapter",
        "openai": "evalkit.adapters.openai_compat:OpenAICompatAdapter",
        "hf": "evalkit.adapters.hf:HFAdapter",
        "dense": "evalkit.adapters.dense:DenseAdapter",
        "bm25": "evalkit.adapters.bm25:BM25Adapter",
        "trec_run": "evalkit.adapters.trec_run:TrecRunAdapter",
        "images": "evalkit.adapters.images:ImagesAdapter",
        "features": "evalkit.adapters.features:FeaturesAdapter",
    },
)


def build_adapter(spec: str, options: dict[str, Any] | None = None) -> ModelAdapter:
    """Build an adapter from ``KIND:TARGET`` (``predictions:out.jsonl``, ``python:mod:fn``...).

    ``KIND`` is looked up in :data:`ADAPTERS`; the class gets ``TARGET`` and ``options``.

    >>> build_adapter("scripted:echo").info()["kind"]
    'scripted'
    """
    kind, sep, target = spec.partition(":")
    if not sep or not kind:
        raise ConfigError(
            f"--model '{spec}': expected KIND:TARGET, for example predictions:preds.jsonl, "
            f"python:mymodule:generate or scripted:echo. Kinds: {', '.join(ADAPTERS.names())}."
        )
    cls = ADAPTERS.get(kind)
    adapter: ModelAdapter = cls(target, **(options or {}))  # type: ignore[call-arg]
    return adapter
