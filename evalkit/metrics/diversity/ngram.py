"""The n-gram diversity metrics: distinct-n, n-gram entropy and repetition (seq-rep-n).

Each takes one n-gram order or a list of them (``distinct_n: {n: [1, 2]}`` reports
``distinct_1``, ``distinct_1_per_prompt``, ``distinct_2`` and ``distinct_2_per_prompt`` from one
tokenisation of each output). Distinct-n and entropy are set-level: their corpus-level values get
no bootstrap interval (a resample that draws a prompt twice counts its outputs twice).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from evalkit.metrics._ratio_block import ratio_block
from evalkit.metrics.base import Metric, VectorMetric
from evalkit.metrics.diversity._corpus_block import CorpusGrams
from evalkit.metrics.diversity._inputs import (
    _N_HELP,
    MAX_ORDER,
    MIN_ORDER,
    Orders,
    _ngrams,
    _order_fields,
    _OrderParams,
    order_list,
    sample_outputs,
    tokenizer,
)
from evalkit.types import Sample, Stats

__all__ = ["DistinctN", "NgramEntropy", "Repetition"]


class _NgramCounts(Metric):
    """Shared parameters and statistic: the n-gram counts of a sample's outputs.

    The statistic of a sample is ``{"ngrams": {gram: count}, "total": count}`` for one order
    and ``{"1": {...}, "2": {...}}`` (one such statistic per order) for a list of orders.
    """

    requires: ClassVar[frozenset[str]] = frozenset({"prediction"})
    reference_packages: ClassVar[tuple[str, ...]] = ()
    per_sample_outcomes: ClassVar[bool] = False  # set-level: no per-sample wins or losses
    #: The values are ``{prefix}_{n}`` (corpus-level) and ``{prefix}_{n}_per_prompt``, per order.
    prefix: ClassVar[str]

    Params = _OrderParams

    p: _OrderParams

    def setup(self) -> None:
        self._split = tokenizer(self.p.tokenize, self.p.lowercase)

    @property
    def orders(self) -> list[int]:
        """The n-gram orders, ascending."""
        return order_list(self.p.n)

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        out: list[Stats] = []
        for s in batch:
            tokens = [self._split(text) for text in sample_outputs(self.name, s)]
            by_order: dict[str, Stats] = {}
            for k in self.orders:
                counts: Counter[str] = Counter()
                total = 0
                for toks in tokens:
                    grams = _ngrams(toks, k)
                    counts.update(grams)
                    total += len(grams)
                by_order[str(k)] = {"ngrams": dict(sorted(counts.items())), "total": total}
            out.append(by_order[str(self.p.n)] if isinstance(self.p.n, int) else by_order)
        return out

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        names = self.value_names()
        out: dict[str, float] = {}
        for i, k in enumerate(self.orders):
            own = stats if isinstance(self.p.n, int) else [st[str(k)] for st in stats]
            out[names[2 * i]], out[names[2 * i + 1]] = self._order_values(own)
        return out

    @abstractmethod
    def _order_values(self, stats: Sequence[Stats]) -> tuple[float, float]:
        """The corpus-level and per-prompt values of one order, from its statistics."""

    @abstractmethod
    def _prompt_value(self, stat: Stats) -> float:
        """One prompt's own value of one order (its statistic has at least one n-gram)."""

    def resample_block(self, stats: Sequence[Stats]) -> Callable[..., dict[str, np.ndarray]] | None:
        """Bootstrap values from the ``(B, n)`` resample counts. The per-prompt values are
        means over the prompts with an n-gram: each order is one ratio of two matrix
        products. The corpus-level values (no run-level interval, see
        :meth:`interval_values`; the paired tests use them) come from
        :class:`~evalkit.metrics.diversity._corpus_block.CorpusGrams`, built on the first
        block that asks for them."""
        if not stats:
            return None
        names = self.value_names()
        num = np.zeros((len(stats), len(self.orders)))
        den = np.zeros_like(num)
        per_order = []
        for j, k in enumerate(self.orders):
            own = stats if isinstance(self.p.n, int) else [st[str(k)] for st in stats]
            per_order.append(own)
            for i, st in enumerate(own):
                if st["total"]:
                    num[i, j] = self._prompt_value(st)
                    den[i, j] = 1.0
        per_prompt = ratio_block(num, den, names[1::2])
        corpus_names = names[0::2]
        corpus: dict[str, CorpusGrams] = {}

        def block(counts: np.ndarray, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
            out = per_prompt(counts)  # names: the values asked for (None: every value)
            for j, own in enumerate(per_order):
                name = corpus_names[j]
                if names is not None and name not in names:
                    continue
                if name not in corpus:
                    corpus[name] = CorpusGrams(
                        [st["ngrams"] for st in own], [st["total"] for st in own]
                    )
                out[name] = self._corpus_values(corpus[name], counts)
            return out

        return block

    @abstractmethod
    def _corpus_values(self, grams: CorpusGrams, counts: np.ndarray) -> np.ndarray:
        """The corpus-level value of one order in each resample of ``counts``."""

    def signature_fields(self) -> dict[str, Any]:
        return _order_fields(super().signature_fields())

    def value_names(self) -> tuple[str, ...]:
        return tuple(
            name
            for k in self.orders
            for name in (f"{self.prefix}_{k}", f"{self.prefix}_{k}_per_prompt")
        )

    def interval_values(self) -> tuple[str, ...]:
        # Corpus-level counts: a resample that draws a prompt twice counts its outputs twice,
        # which lowers the value, so a bootstrap interval would sit below it. Per-prompt means
        # resample like any mean.
        return self.value_names()[1::2]


class DistinctN(_NgramCounts):
    """Distinct-n: distinct n-grams divided by all n-grams (Li et al. 2016).

    Definition: ``distinct_n = |set of n-grams| / (number of n-grams)``, over every output of
    every prompt (corpus-level, as Li et al. define it) and, as ``distinct_n_per_prompt``, over
    each prompt's ``n`` outputs, averaged over prompts (prompts whose outputs have no n-gram are
    left out). ``n`` identical outputs without repeated n-grams give ``1 / n``; outputs sharing
    no n-gram give 1.

    Args:
        n: The n-gram order (1-10), or a list of orders; each names its values
            (``distinct_2``...).
        tokenize: ``whitespace`` (``str.split``) or ``13a`` (sacrebleu's BLEU tokenizer).
        lowercase: Lower-case before tokenising.

    References:
        Li et al. (2016), "A Diversity-Promoting Objective Function for Neural Conversation
        Models", NAACL (distinct-1, distinct-2).

    Example:
        >>> s = Sample(id="1", prediction="a b c", outputs={"samples": ["a b c", "a b d"]})
        >>> DistinctN(n=1).score([s]).details
        {'distinct_1': 0.6666666666666666, 'distinct_1_per_prompt': 0.6666666666666666}
        >>> DistinctN(n=[2, 1]).value_names()
        ('distinct_1', 'distinct_1_per_prompt', 'distinct_2', 'distinct_2_per_prompt')
    """

    name: ClassVar[str] = "distinct_n"
    higher_is_better: ClassVar[bool] = True
    prefix: ClassVar[str] = "distinct"

    def _prompt_value(self, stat: Stats) -> float:
        return float(len(stat["ngrams"]) / stat["total"])

    def _corpus_values(self, grams: CorpusGrams, counts: np.ndarray) -> np.ndarray:
        return grams.distinct(counts)

    def _order_values(self, stats: Sequence[Stats]) -> tuple[float, float]:
        seen: set[str] = set()
        total = 0
        ratios = []
        for st in stats:
            seen.update(st["ngrams"])
            total += st["total"]
            if st["total"]:
                ratios.append(self._prompt_value(st))
        return (
            len(seen) / total if total else math.nan,
            float(np.mean(ratios)) if ratios else math.nan,
        )


def _entropy_bits(counts: Sequence[int]) -> float:
    arr = np.asarray(counts, dtype=np.float64)
    total = arr.sum()
    if total <= 0:
        return math.nan
    p = arr / total
    return float(-(p * np.log2(p)).sum())


class NgramEntropy(_NgramCounts):
    """Shannon entropy (bits) of the n-gram frequency distribution (Zhang et al. 2018's Ent-n).

    Definition: with ``p(g)`` the share of n-gram ``g`` among all n-grams,
    ``entropy_n = -sum_g p(g) log2 p(g)``: over every output of every prompt, and as
    ``entropy_n_per_prompt`` over each prompt's outputs, averaged over prompts. Identical
    outputs have the entropy of one of them; more varied outputs have more.

    Args:
        n: The n-gram order (1-10), or a list of orders.
        tokenize: ``whitespace`` or ``13a``.
        lowercase: Lower-case before tokenising.

    References:
        Zhang et al. (2018), "Generating Informative and Diverse Conversational Responses via
        Adversarial Information Maximization", NeurIPS (Ent-n); Shannon (1948).

    Example:
        >>> s = Sample(id="1", prediction="a b", outputs={"samples": ["a b", "c d"]})
        >>> NgramEntropy(n=1).score([s]).value
        2.0
    """

    name: ClassVar[str] = "ngram_entropy"
    higher_is_better: ClassVar[bool] = True
    prefix: ClassVar[str] = "entropy"

    def _prompt_value(self, stat: Stats) -> float:
        return _entropy_bits(list(stat["ngrams"].values()))

    def _corpus_values(self, grams: CorpusGrams, counts: np.ndarray) -> np.ndarray:
        return grams.entropy(counts)

    def _order_values(self, stats: Sequence[Stats]) -> tuple[float, float]:
        merged: Counter[str] = Counter()
        each = []
        for st in stats:
            merged.update(st["ngrams"])
            if st["total"]:
                each.append(self._prompt_value(st))
        return (
            _entropy_bits(list(merged.values())) if merged else math.nan,
            float(np.mean(each)) if each else math.nan,
        )

    def signature_fields(self) -> dict[str, Any]:
        fields = super().signature_fields()
        fields["base"] = 2
        return fields


class Repetition(VectorMetric):
    """Share of repeated n-grams within an output (seq-rep-n, Welleck et al. 2019).

    Definition: for one output, ``rep_n = 1 - |distinct n-grams| / |n-grams|``; the value is the
    mean over all outputs that have at least one n-gram (all ``n`` samples of every prompt).
    ``"a a a a"`` with ``n=1`` repeats 3 of its 4 unigrams: 0.75. Lower is better.

    Args:
        n: The n-gram order (1-10; Welleck et al. report n=4), or a list of orders.
        tokenize: ``whitespace`` or ``13a``.
        lowercase: Lower-case before tokenising.

    References:
        Welleck et al. (2020), "Neural Text Generation with Unlikelihood Training", ICLR
        (seq-rep-n).

    Example:
        >>> Repetition(n=1).score([Sample(id="1", prediction="a a a a")]).value
        0.75
        >>> Repetition(n=[1, 2]).score([Sample(id="1", prediction="a a a a")]).details
        {'repetition_1': 0.75, 'repetition_2': 0.6666666666666667}
    """

    name: ClassVar[str] = "repetition"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"prediction"})

    class Params(_OrderParams):
        """The n-gram metrics' parameters, with Welleck et al.'s order 4 as the default."""

        n: Orders = Field(4, ge=MIN_ORDER, le=MAX_ORDER, description=_N_HELP)

    p: Params

    def setup(self) -> None:
        self._split = tokenizer(self.p.tokenize, self.p.lowercase)

    @property
    def orders(self) -> list[int]:
        """The n-gram orders, ascending."""
        return order_list(self.p.n)

    def value_names(self) -> tuple[str, ...]:
        return tuple(f"repetition_{k}" for k in self.orders)

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """``[rep, counted]`` per order: summed ``rep_n`` and the outputs with an n-gram."""
        out = []
        for s in batch:
            tokens = [self._split(text) for text in sample_outputs(self.name, s)]
            row: list[float] = []
            for k in self.orders:
                rep, counted = 0.0, 0
                for toks in tokens:
                    grams = _ngrams(toks, k)
                    if grams:
                        rep += 1.0 - len(set(grams)) / len(grams)
                        counted += 1
                row += [rep, counted]
            out.append(row)
        return out

    def from_totals(self, totals: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            for i, name in enumerate(self.value_names()):
                rep, counted = totals[:, 2 * i], totals[:, 2 * i + 1]
                out[name] = np.where(counted > 0, rep / counted, np.nan)
        return out

    def signature_fields(self) -> dict[str, Any]:
        return _order_fields(super().signature_fields())
