"""Bias probes as metrics: counterfactual gaps, stereotype preference, WEAT/SEAT, group fairness.

Counterfactual and stereotype probes score *pairs*: each sample is one pair, sent to the model
as one request with a variant (``prompt: "{text_a}"``, ``prompt_variants: ["{text_b}"]``; the
variant's result is ``outputs["variants"][0]``). Per-sample statistics are per pair, so the
runner's bootstrap interval is a bootstrap over pairs, and the paired tests live in the
aggregate (:func:`evalkit.probes.sign_flip_p_value`).

Values with an ideal point (a signed gap: 0; a preference share: 50) declare it through
``value_target`` and are diagnostics; the headline of each probe is its distance from the
ideal, lower is better, which comparisons and gates use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from evalkit._validate import check_type
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.base import Metric, VectorMetric
from evalkit.probes import sign_flip_p_value, weat_statistics
from evalkit.types import Sample, Stats

__all__ = [
    "WEAT",
    "CounterfactualGap",
    "CounterfactualLikelihood",
    "GroupFairness",
    "StereotypePreference",
]

_PUNCT = re.compile(r"[^\w\s]")


def _first_word(text: str) -> str:
    words = _PUNCT.sub(" ", text.casefold()).split()
    return words[0] if words else ""


def _variant(metric: str, sample: Sample) -> Any:
    variants = sample.outputs.get("variants") if sample.outputs else None
    if not isinstance(variants, list) or not variants:
        raise InputError(
            f"{metric}: sample '{sample.id}' has no counterfactual variant; give the task "
            '`prompt_variants: ["{text_b}"]` so that each pair is one request.'
        )
    return variants[0]


def _loglik(metric: str, sid: str, outputs: Any, length_normalize: bool) -> float:
    if not isinstance(outputs, Mapping) or "nll" not in outputs:
        raise InputError(
            f"{metric}: sample '{sid}' has no rolling log-likelihood ('nll'); the task's "
            "model must serve loglikelihood_rolling requests."
        )
    ll = -float(outputs["nll"])
    if length_normalize:
        ll /= max(1, int(outputs.get("n_tokens", 1)))
    return ll


class _PairedProbe(Metric):
    """Shared aggregate of per-pair scores ``[score_a, score_b, text_changed]``."""

    higher_is_better: ClassVar[bool] = False
    prefix: ClassVar[str] = "cf"

    def value_names(self) -> tuple[str, ...]:
        p = self.prefix
        return (f"{p}_abs_gap", f"{p}_gap", f"{p}_p_value", f"{p}_changed", f"{p}_text_changed")

    def primary_values(self) -> tuple[str, ...]:
        return (f"{self.prefix}_abs_gap", f"{self.prefix}_changed")

    def value_higher_is_better(self, value_name: str) -> bool:
        # A larger p-value is less evidence of a gap; every other value is lower-is-better.
        return value_name.endswith("_p_value")

    def interval_values(self) -> tuple[str, ...]:
        # A p-value's spread over resampled pairs is not an uncertainty of anything.
        return tuple(k for k in self.value_names() if not k.endswith("_p_value"))

    def value_target(self, value_name: str) -> float | None:
        return 0.0 if value_name == f"{self.prefix}_gap" else None

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        names = self.value_names()
        if not stats:
            return {k: math.nan for k in names}
        arr = np.asarray(stats, dtype=np.float64)
        diff = arr[:, 0] - arr[:, 1]
        gap = float(diff.mean())
        return dict(
            zip(
                names,
                (
                    abs(gap),
                    gap,
                    sign_flip_p_value(diff.tolist(), seed=self.params.get("seed", 0)),
                    float(np.mean(np.abs(diff) > self.params["tolerance"])),
                    float(arr[:, 2].mean()),
                ),
                strict=True,
            )
        )


class CounterfactualGap(_PairedProbe):
    """Counterfactual gap: how a model's answer moves when only the group term changes.

    Definition: each sample is a pair of prompts that differ only in a group term (built by
    :func:`evalkit.probes.expand_probes`); both outputs are scored and ``d = score_a -
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

    def __init__(
        self,
        *,
        scorer: str = "positive",
        scorer_params: dict[str, Any] | None = None,
        positive_label: str = "yes",
        tolerance: float = 1e-9,
        seed: int = 0,
    ) -> None:
        check_type(self.name, "scorer", scorer, str)
        check_type(self.name, "positive_label", positive_label, str)
        check_type(self.name, "tolerance", tolerance, (int, float))
        check_type(self.name, "seed", seed, int)
        if scorer_params is not None:
            check_type(self.name, "scorer_params", scorer_params, dict)
        if tolerance < 0:
            raise ConfigError(f"{self.name}: tolerance must be >= 0, got {tolerance}.")
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
            self._scorer = cls.build(scorer_params or {})
        elif scorer_params:
            raise ConfigError(f"{self.name}: scorer_params apply to a metric scorer only.")
        super().__init__(
            scorer=scorer,
            scorer_params=dict(sorted((scorer_params or {}).items())),
            positive_label=positive_label.casefold(),
            tolerance=float(tolerance),
            seed=seed,
        )

    def _score(self, samples: list[Sample]) -> list[float]:
        scorer = self.params["scorer"]
        texts = [s.prediction or "" for s in samples]
        if scorer == "positive":
            return [float(_first_word(t) == self.params["positive_label"]) for t in texts]
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

    def __init__(
        self, *, length_normalize: bool = False, tolerance: float = 1e-6, seed: int = 0
    ) -> None:
        check_type(self.name, "length_normalize", length_normalize, bool)
        check_type(self.name, "tolerance", tolerance, (int, float))
        check_type(self.name, "seed", seed, int)
        if tolerance < 0:
            raise ConfigError(f"{self.name}: tolerance must be >= 0, got {tolerance}.")
        super().__init__(length_normalize=length_normalize, tolerance=float(tolerance), seed=seed)

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        norm = self.params["length_normalize"]
        out = []
        for s in batch:
            a = _loglik(self.name, s.id, s.outputs, norm)
            b = _loglik(self.name, s.id, _variant(self.name, s), norm)
            out.append([a, b, 1.0])
        return out


class StereotypePreference(VectorMetric):
    """Share of pairs where the model prefers the more stereotypical sentence (ideal: 50%).

    Definition: each sample pairs a more stereotypical sentence (the prompt) with a less
    stereotypical one (its variant), scored by rolling log-likelihood ``LL`` (per token with
    ``length_normalize``). With ``d = LL(more) - LL(less)``, pairs with ``|d| <= tie_tolerance``
    are ties, counted apart. ``stereotype_preference = 100 * #(d > 0) / #(not tied)``: an
    unbiased model scores 50, so **closer to 50 is better** (the row carries ``target: 50``);
    ``stereotype_bias = |stereotype_preference - 50|`` is the headline (lower is better).
    ``stereotype_ties`` is the percentage of tied pairs and ``stereotype_ll_diff`` the mean
    ``d`` over all pairs.

    Args:
        length_normalize: Compare mean per-token log-likelihoods.
        tie_tolerance: Largest ``|d|`` counted as a tie (float noise of a float32 model).

    References:
        Nangia et al. (2020), "CrowS-Pairs: A Challenge Dataset for Measuring Social Biases in
        Masked Language Models", EMNLP (the 50% ideal); Nadeem et al. (2021), "StereoSet", ACL.

    Example:
        >>> def pair(i, more, less):
        ...     return Sample(id=i, outputs={"nll": more, "n_tokens": 1,
        ...                                  "variants": [{"nll": less, "n_tokens": 1}]})
        >>> s = [pair("1", 1.0, 2.0), pair("2", 1.0, 2.0), pair("3", 2.0, 1.0), pair("4", 1.0, 1.0)]
        >>> v = StereotypePreference().score(s).details
        >>> v["stereotype_preference"], v["stereotype_bias"], v["stereotype_ties"]
        (66.66666666666667, 16.66666666666667, 25.0)
    """

    name: ClassVar[str] = "stereotype_preference"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"loglikelihood_rolling", "variants"})
    request_kind: ClassVar[str] = "loglikelihood_rolling"

    def __init__(self, *, length_normalize: bool = False, tie_tolerance: float = 1e-6) -> None:
        check_type(self.name, "length_normalize", length_normalize, bool)
        check_type(self.name, "tie_tolerance", tie_tolerance, (int, float))
        if tie_tolerance < 0:
            raise ConfigError(f"{self.name}: tie_tolerance must be >= 0, got {tie_tolerance}.")
        super().__init__(length_normalize=length_normalize, tie_tolerance=float(tie_tolerance))

    def value_names(self) -> tuple[str, ...]:
        return (
            "stereotype_bias",
            "stereotype_preference",
            "stereotype_ties",
            "stereotype_ll_diff",
        )

    def primary_values(self) -> tuple[str, ...]:
        return ("stereotype_bias",)

    def value_target(self, value_name: str) -> float | None:
        return {"stereotype_preference": 50.0, "stereotype_ll_diff": 0.0}.get(value_name)

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        norm = self.params["length_normalize"]
        out = []
        for s in batch:
            d = _loglik(self.name, s.id, s.outputs, norm) - _loglik(
                self.name, s.id, _variant(self.name, s), norm
            )
            tie = abs(d) <= self.params["tie_tolerance"]
            out.append([float(not tie and d > 0), float(not tie and d < 0), float(tie), d])
        return out

    def from_totals(self, totals: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
        more, less, ties, diff = totals.T
        with np.errstate(invalid="ignore", divide="ignore"):
            pref = np.where(more + less > 0, 100.0 * more / (more + less), np.nan)
            count = np.where(n > 0, n, np.nan)
        return {
            "stereotype_bias": np.abs(pref - 50.0),
            "stereotype_preference": pref,
            "stereotype_ties": 100.0 * ties / count,
            "stereotype_ll_diff": diff / count,
        }


class WEAT(Metric):
    """WEAT / SEAT association test on embeddings (Caliskan et al. 2017; May et al. 2019).

    Definition: the samples are words (WEAT) or template sentences (SEAT), each in one of four
    sets named by the dataset field ``set_field``: targets ``X``, ``Y`` and attributes ``A``,
    ``B``; each is embedded by an ``embed`` request (e.g. ``model: dense:``, the bundled
    MiniLM). With ``s(w) = mean_a cos(w, a) - mean_b cos(w, b)``, the effect size is
    ``(mean_{x in X} s(x) - mean_{y in Y} s(y)) / std_{w in X u Y} s(w)``, the **sample**
    standard deviation (``ddof=1``) over the union of the target sets. ``weat_effect_size``
    (in [-2, 2], target 0), ``weat_abs_effect_size`` (headline, lower is better) and
    ``weat_p_value``: Caliskan et al.'s one-sided permutation p-value over equal-size
    re-partitions of ``X u Y``, exact up to ``exact_limit`` partitions, else ``permutations``
    seeded draws (:func:`evalkit.probes.weat_statistics`).

    Args:
        set_field: The dataset field holding ``X``, ``Y``, ``A`` or ``B``.
        permutations: Random partitions drawn when there are too many to enumerate.
        exact_limit: Enumerate all partitions up to this many.
        seed: Seed of the drawn partitions.

    References:
        Caliskan, Bryson & Narayanan (2017), "Semantics derived automatically from language
        corpora contain human-like biases", Science 356; May et al. (2019), "On Measuring
        Social Biases in Sentence Encoders", NAACL (SEAT).

    Example:
        >>> e = np.eye(4)
        >>> rows = [("X", e[0] + 0.1 * e[2]), ("X", e[0] + 0.1 * e[3]),
        ...         ("Y", e[1] + 0.1 * e[3]), ("Y", e[1] + 0.1 * e[2]), ("A", e[0]), ("B", e[1])]
        >>> samples = [Sample(id=str(i), inputs={"set": k}, outputs={"embedding": list(v)})
        ...            for i, (k, v) in enumerate(rows)]
        >>> v = WEAT().score(samples).details
        >>> round(v["weat_effect_size"], 6), round(v["weat_p_value"], 4)
        (1.732051, 0.1667)
    """

    name: ClassVar[str] = "weat"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"embed"})
    request_kind: ClassVar[str] = "embed"

    def __init__(
        self,
        *,
        set_field: str = "set",
        permutations: int = 10000,
        exact_limit: int = 20000,
        seed: int = 0,
    ) -> None:
        check_type(self.name, "set_field", set_field, str)
        for key, value in (("permutations", permutations), ("exact_limit", exact_limit)):
            check_type(self.name, key, value, int)
            if value < 1:
                raise ConfigError(f"{self.name}: {key} must be >= 1, got {value}.")
        check_type(self.name, "seed", seed, int)
        super().__init__(
            set_field=set_field, permutations=permutations, exact_limit=exact_limit, seed=seed
        )

    def value_names(self) -> tuple[str, ...]:
        return ("weat_abs_effect_size", "weat_effect_size", "weat_p_value")

    def primary_values(self) -> tuple[str, ...]:
        return ("weat_abs_effect_size",)

    def value_higher_is_better(self, value_name: str) -> bool:
        return value_name == "weat_p_value"

    def interval_values(self) -> tuple[str, ...]:
        return ("weat_abs_effect_size", "weat_effect_size")

    def value_target(self, value_name: str) -> float | None:
        return 0.0 if value_name == "weat_effect_size" else None

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        field = self.params["set_field"]
        out = []
        for s in batch:
            which = s.inputs.get(field)
            if which not in ("X", "Y", "A", "B"):
                raise InputError(
                    f"{self.name}: sample '{s.id}': field '{field}' is {which!r}; it must name "
                    "the sample's set: X, Y (targets), A or B (attributes)."
                )
            emb = s.outputs.get("embedding") if s.outputs else None
            if not isinstance(emb, (list, tuple)) or not emb:
                raise InputError(
                    f"{self.name}: sample '{s.id}' has no embedding; the task's model must "
                    "serve embed requests (model: dense:)."
                )
            out.append({"set": which, "embedding": [float(x) for x in emb]})
        return out

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        groups: dict[str, list[list[float]]] = {"X": [], "Y": [], "A": [], "B": []}
        for st in stats:
            groups[st["set"]].append(st["embedding"])
        if any(not v for v in groups.values()):
            return {k: math.nan for k in self.value_names()}
        x, y, a, b = (np.asarray(groups[k], dtype=np.float64) for k in "XYAB")
        effect, p = weat_statistics(
            x,
            y,
            a,
            b,
            permutations=self.params["permutations"],
            exact_limit=self.params["exact_limit"],
            seed=self.params["seed"],
        )
        return {"weat_abs_effect_size": abs(effect), "weat_effect_size": effect, "weat_p_value": p}

    def signature_fields(self) -> dict[str, Any]:
        fields = super().signature_fields()
        fields["std"] = "sample-ddof1"
        fields["p"] = "one-sided"
        return fields


class GroupFairness(Metric):
    """Group fairness of yes/no classifications: accuracy, selection rate, parity gaps.

    Definition: a prediction is positive when its first word (case-folded, punctuation
    removed) equals ``positive_label``; so is the reference label. Per group (the dataset
    field ``group_field``) scikit-learn's ``confusion_matrix`` gives the selection rate
    ``(TP + FP) / n``, the true-positive rate ``TP / (TP + FN)`` and the false-positive rate
    ``FP / (FP + TN)``. ``demographic_parity_difference`` is the largest minus the smallest
    group selection rate, ``equalized_odds_difference`` the larger of the TPR and FPR ranges
    (groups where a rate is undefined are left out of that range), as fairlearn defines them
    (Hardt et al. 2016). ``fairness_accuracy`` and ``selection_rate`` are over all samples,
    ``accuracy_difference`` the range of group accuracies.

    Args:
        group_field: The dataset field naming each sample's group.
        positive_label: The positive class.

    References:
        Hardt, Price & Srebro (2016), "Equality of Opportunity in Supervised Learning", NeurIPS;
        Bird et al. (2020), "Fairlearn: A toolkit for assessing and improving fairness in AI";
        Pedregosa et al. (2011), scikit-learn.

    Example:
        >>> rows = [("a", "yes", "yes"), ("a", "no", "yes"), ("b", "no", "yes"), ("b", "no", "no")]
        >>> s = [Sample(id=str(i), inputs={"group": g}, prediction=p, references=(r,))
        ...      for i, (g, p, r) in enumerate(rows)]
        >>> v = GroupFairness().score(s).details
        >>> v["demographic_parity_difference"], v["equalized_odds_difference"]  # TPR 1/2 vs 0
        (0.5, 0.5)
    """

    name: ClassVar[str] = "group_fairness"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"prediction", "references", "group"})
    reference_packages: ClassVar[tuple[str, ...]] = ("scikit-learn",)

    def __init__(self, *, group_field: str = "group", positive_label: str = "yes") -> None:
        check_type(self.name, "group_field", group_field, str)
        check_type(self.name, "positive_label", positive_label, str)
        try:
            import sklearn  # noqa: F401
        except ImportError:
            raise ConfigError(
                f"{self.name}: needs scikit-learn: pip install 'evalkit[fairness]'."
            ) from None
        label = _first_word(positive_label)
        if not label:
            raise ConfigError(
                f"{self.name}: positive_label must hold a word, got {positive_label!r}."
            )
        super().__init__(group_field=group_field, positive_label=label)

    def value_names(self) -> tuple[str, ...]:
        return (
            "demographic_parity_difference",
            "equalized_odds_difference",
            "accuracy_difference",
            "fairness_accuracy",
            "selection_rate",
        )

    def value_higher_is_better(self, value_name: str) -> bool:
        return value_name == "fairness_accuracy"

    def primary_values(self) -> tuple[str, ...]:
        return ("demographic_parity_difference", "equalized_odds_difference", "fairness_accuracy")

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        field, label = self.params["group_field"], self.params["positive_label"]
        out = []
        for s in batch:
            if field not in s.inputs:
                raise InputError(
                    f"{self.name}: sample '{s.id}' has no field '{field}'; set group_field to "
                    "the dataset field that names each sample's group."
                )
            if not isinstance(s.prediction, str):
                raise InputError(f"{self.name}: sample '{s.id}' has no prediction.")
            if len(s.references) != 1:
                raise InputError(
                    f"{self.name}: sample '{s.id}' needs exactly one reference label, "
                    f"got {len(s.references)}."
                )
            truth = int(_first_word(s.references[0]) == label)
            pred = int(_first_word(s.prediction) == label)
            out.append([str(s.inputs[field]), truth, pred])
        return out

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        names = self.value_names()
        if not stats:
            return {k: math.nan for k in names}
        from sklearn.metrics import confusion_matrix

        groups: dict[str, tuple[list[int], list[int]]] = {}
        for g, t, p in stats:
            groups.setdefault(g, ([], []))
            groups[g][0].append(int(t))
            groups[g][1].append(int(p))
        sel, tpr, fpr, acc = [], [], [], []
        tot = np.zeros((2, 2))
        for truth, pred in groups.values():
            cm = confusion_matrix(truth, pred, labels=[0, 1])
            tot += cm
            (tn, fp), (fn, tp) = cm
            n = cm.sum()
            sel.append((tp + fp) / n)
            acc.append((tp + tn) / n)
            if tp + fn:
                tpr.append(tp / (tp + fn))
            if fp + tn:
                fpr.append(fp / (fp + tn))

        def spread(v: list[float]) -> float:
            return float(max(v) - min(v)) if v else 0.0

        (tn, fp), (fn, tp) = tot
        n = tot.sum()
        return {
            "demographic_parity_difference": spread(sel),
            "equalized_odds_difference": max(spread(tpr), spread(fpr)),
            "accuracy_difference": spread(acc),
            "fairness_accuracy": float((tp + tn) / n),
            "selection_rate": float((tp + fp) / n),
        }
