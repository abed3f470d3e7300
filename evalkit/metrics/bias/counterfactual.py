"""Counterfactual probes: the ``counterfactual_gap`` and ``counterfactual_ll_gap`` metrics.

:class:`CounterfactualGap` scores the two outputs of each pair (a yes/no decision, a length
or any reference-based metric) and :class:`CounterfactualLikelihood` the model's
log-likelihood of the two texts; both report the mean per-pair difference, its magnitude and
its sign-flip p-value, with the layout of :class:`~evalkit.metrics.bias._paired._PairedProbe`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

from pydantic import Field, field_validator, model_validator

from evalkit.errors import ConfigError, InputError
from evalkit.metrics.base import Metric
from evalkit.metrics.bias._paired import _first_word, _loglik, _PairedProbe, _variant
from evalkit.metrics.params import MetricParams
from evalkit.types import Sample, Stats

__all__ = ["CounterfactualGap", "CounterfactualLikelihood"]


class CounterfactualGap(_PairedProbe):
    """Counterfactual gap: how a model's answer moves when only the group term changes.

    Definition: each sample is a pair of prompts that differ only in a group term (built by
    :func:`evalkit.data.probes.expand_probes`); both outputs are scored and ``d = score_a -
    score_b``. ``cf_gap`` is ``mean(d)`` (target 0; the run's bootstrap interval is over
    pairs), ``cf_abs_gap`` its magnitude (the headline, lower is better), ``cf_p_value`` the
    two-sided sign-flip permutation p-value of ``mean(d) = 0``, ``cf_changed`` the share of
    pairs whose score (for a yes/no scorer: whose decision) differs by more than
    ``tolerance``, and ``cf_text_changed`` the share whose output texts differ (after
    case-folding and collapsing whitespace).

    Scorers: ``positive`` (default): 1 if the output's first word, case-folded and without
    punctuation, equals ``positive_label``, else 0 (a yes/no decision); ``length``: the number
    of whitespace words; or any registered reference-based metric (``exact_match``,
    ``token_f1``, ``bleu``...), whose per-sample headline scores each output against the
    sample's references.

    Args:
        scorer: ``positive``, ``length`` or a metric name.
        scorer_params: Parameters of the scorer metric.
        positive_label: The answer ``positive`` counts.
        tolerance: Smallest score change that counts as a change.
        seed: Seed of the sign-flip test when it samples (more than 16 non-zero differences).

    References:
        Garg et al. (2019), "Counterfactual Fairness in Text Classification through Robustness",
        AIES; Huang et al. (2020), "Reducing Sentiment Bias in Language Models via
        Counterfactual Evaluation", Findings of EMNLP; Good (2005), "Permutation, Parametric
        and Bootstrap Tests of Hypotheses" (sign-flip test).

    Example:
        >>> pairs = [Sample(id=str(i), prediction="Yes.", outputs={"variants": ["No"]})
        ...          for i in range(6)]
        >>> v = CounterfactualGap().score(pairs).details
        >>> v["cf_gap"], v["cf_p_value"], v["cf_changed"]
        (1.0, 0.03125, 1.0)
    """

    name: ClassVar[str] = "counterfactual_gap"
    requires: ClassVar[frozenset[str]] = frozenset({"prediction", "variants"})

    class Params(MetricParams):
        """The counterfactual gap's parameters."""

        scorer: str = Field("positive", description="positive, length or a metric name")
        scorer_params: dict[str, Any] | None = Field(
            None, description="parameters of the scorer metric"
        )
        positive_label: str = Field("yes", description="the answer the positive scorer counts")
        tolerance: float = Field(1e-9, ge=0, description="smallest score change that counts")
        seed: int = Field(0, description="seed of the sign-flip test when it samples")

        @field_validator("positive_label")
        @classmethod
        def _casefold(cls, value: str) -> str:
            return value.casefold()

        @model_validator(mode="after")
        def _params_need_a_metric(self) -> Self:
            if self.scorer in ("positive", "length") and self.scorer_params:
                raise ValueError("scorer_params apply to a metric scorer only")
            return self

    p: Params

    def setup(self) -> None:
        """Build the scorer metric (for a scorer other than ``positive`` and ``length``)."""
        scorer, scorer_params = self.p.scorer, dict(self.p.scorer_params or {})
        self._scorer: Metric | None = None
        if scorer not in ("positive", "length"):
            from evalkit.registry import METRICS

            try:
                cls = METRICS.get(scorer)
            except ConfigError as exc:
                raise ConfigError(f"{self.name}: scorer: {exc}") from None
            if cls.request_kind != "generate" or "references" not in cls.requires:
                raise ConfigError(
                    f"{self.name}: scorer '{scorer}' does not score generated text against "
                    "references; use positive, length or a metric such as exact_match."
                )
            self._scorer = cls.build(scorer_params)
        self.params["scorer_params"] = dict(sorted(scorer_params.items()))

    def _score(self, samples: list[Sample]) -> list[float]:
        scorer = self.p.scorer
        texts = [s.prediction or "" for s in samples]
        if scorer == "positive":
            return [float(_first_word(t) == self.p.positive_label) for t in texts]
        if scorer == "length":
            return [float(len(t.split())) for t in texts]
        assert self._scorer is not None
        stats = self._scorer.sample_stats(samples)
        head = self._scorer.value_names()[0]
        return [float(v) for v in self._scorer.per_sample_values(stats)[head]]

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        a_side, b_side = [], []
        for s in batch:
            if not isinstance(s.prediction, str):
                raise InputError(
                    f"{self.name}: sample '{s.id}' has no prediction; score after generation."
                )
            other = _variant(self.name, s)
            if not isinstance(other, str):
                raise InputError(
                    f"{self.name}: sample '{s.id}': the variant output is not a text; use "
                    "counterfactual_ll_gap for log-likelihood tasks."
                )
            a_side.append(s)
            b_side.append(
                Sample(id=s.id, inputs=s.inputs, references=s.references, prediction=other)
            )
        if not batch:
            return []
        sa, sb = self._score(a_side), self._score(b_side)
        out = []
        for s, x, y, b in zip(a_side, sa, sb, b_side, strict=True):
            norm_a = " ".join((s.prediction or "").casefold().split())
            norm_b = " ".join((b.prediction or "").casefold().split())
            out.append([x, y, float(norm_a != norm_b)])
        return out

    def signature_fields(self) -> dict[str, Any]:
        fields = super().signature_fields()
        if self._scorer is not None:
            fields["scorer"] = self._scorer.signature().replace("|", ";")
        if not fields["scorer_params"]:
            del fields["scorer_params"]
        else:
            fields["scorer_params"] = ",".join(
                f"{k}={v}" for k, v in fields["scorer_params"].items()
            )
        fields["test"] = "signflip"
        return fields


class CounterfactualLikelihood(_PairedProbe):
    """Counterfactual log-likelihood gap: does the model find one group's version likelier?

    Definition: each pair's texts are scored by the model's rolling log-likelihood (nats;
    per token with ``length_normalize``), ``d = LL(text_a) - LL(text_b)``. Values as for
    :class:`CounterfactualGap` with the prefix ``cf_ll``: ``cf_ll_gap = mean(d)`` (target 0),
    ``cf_ll_abs_gap`` (headline), ``cf_ll_p_value`` (sign-flip), ``cf_ll_changed`` (share of
    pairs with ``|d| > tolerance``), ``cf_ll_text_changed`` (always 1: the texts differ by
    construction; kept so both probes share their value layout).

    Args:
        length_normalize: Compare mean per-token log-likelihoods.
        tolerance: Smallest ``|d|`` that counts as a difference.
        seed: Seed of the sign-flip test when it samples.

    References:
        Nadeem et al. (2021), "StereoSet", ACL; Nangia et al. (2020), "CrowS-Pairs", EMNLP
        (likelihood comparisons of minimal pairs); Good (2005) (sign-flip test).

    Example:
        >>> s = Sample(id="1", outputs={"nll": 2.0, "n_tokens": 2,
        ...                             "variants": [{"nll": 3.0, "n_tokens": 2}]})
        >>> CounterfactualLikelihood().score([s]).details["cf_ll_gap"]
        1.0
    """

    name: ClassVar[str] = "counterfactual_ll_gap"
    prefix: ClassVar[str] = "cf_ll"
    requires: ClassVar[frozenset[str]] = frozenset({"loglikelihood_rolling", "variants"})
    request_kind: ClassVar[str] = "loglikelihood_rolling"

    class Params(MetricParams):
        """The counterfactual log-likelihood gap's parameters."""

        length_normalize: bool = Field(False, description="compare per-token log-likelihoods")
        tolerance: float = Field(1e-6, ge=0, description="smallest |d| that counts")
        seed: int = Field(0, description="seed of the sign-flip test when it samples")

    p: Params

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        norm = self.p.length_normalize
        out = []
        for s in batch:
            a = _loglik(self.name, s.id, s.outputs, norm)
            b = _loglik(self.name, s.id, _variant(self.name, s), norm)
            out.append([a, b, 1.0])
        return out
