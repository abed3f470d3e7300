"""Self-BLEU: each output scored by sentence BLEU against all the other outputs."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from evalkit.errors import ConfigError
from evalkit.metrics._ratio_block import ratio_block
from evalkit.metrics.base import Metric
from evalkit.metrics.diversity._inputs import _ngrams, _renamed, sample_outputs, unique_outputs
from evalkit.metrics.params import MetricParams
from evalkit.types import Sample, Stats

__all__ = ["SelfBLEU"]


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
        self._prompt_means: dict[tuple[str, ...], float] = {}

    def value_names(self) -> tuple[str, ...]:
        return ("self_bleu", "self_bleu_per_prompt")

    def interval_values(self) -> tuple[str, ...]:
        # The corpus value scores each output against every *other distinct* output. A
        # bootstrap resample holds about 63% of the distinct outputs (the rest are repeats), so
        # each hypothesis has fewer references and its clipped matches can only drop: resampled
        # values sit below the value, and a percentile interval would not cover it. The
        # per-prompt value is a mean of each prompt's own score and resamples like any mean.
        return ("self_bleu_per_prompt",)

    def resample_block(
        self, stats: Sequence[Stats]
    ) -> Callable[[np.ndarray], dict[str, np.ndarray]] | None:
        """Bootstrap values from the ``(B, n)`` resample counts: the per-prompt value is a
        weighted mean of each prompt's own self-BLEU (computed once). The corpus value is left
        out: it has no run-level interval (see :meth:`interval_values`), and paired tests
        aggregate it resample by resample."""
        if not stats or len({str(st["id"]) for st in stats}) != len(stats):
            return None  # statistics that share an id merge their outputs: aggregate them
        own = np.zeros((len(stats), 1))
        has = np.zeros((len(stats), 1))
        for i, st in enumerate(stats):
            _, texts, _ = unique_outputs([st], "outputs")
            if len(texts) >= 2:
                own[i, 0] = self._prompt_mean(texts)
                has[i, 0] = 1.0
        return ratio_block(own, has, ["self_bleu_per_prompt"])

    def _prompt_mean(self, texts: Sequence[str]) -> float:
        """The mean self-BLEU of one prompt's distinct outputs (at least two), computed once
        per set of outputs: :meth:`aggregate` computes them all, and the bootstrap that
        follows it in a run reads them back instead of scoring every prompt again."""
        key = tuple(texts)
        mean = self._prompt_means.get(key)
        if mean is None:
            mean = self._prompt_means[key] = float(np.mean(self._scores(texts, range(len(texts)))))
        return mean

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
        if not rows:
            return []
        # The n-grams as sparse (row, column, count) triples: no texts x n-grams matrix.
        sizes = [len(r[0]) for r in rows]
        row_of = np.repeat(np.arange(len(rows)), sizes)
        cols = np.concatenate([r[0] for r in rows])
        vals = np.concatenate([r[1] for r in rows])
        used, col = np.unique(cols, return_inverse=True)
        orders = np.asarray(self._col_order, dtype=np.int64)[used]
        max_order = self.p.max_ngram_order
        # Largest count of each n-gram over all texts (``top``, in text ``arg``: the first
        # text holding it), and over all texts but that one (``second``; 0 where no other text
        # has it): the clipping count for h is the maximum over the others.
        by = np.lexsort((row_of, -vals, col))
        first = np.ones(len(by), dtype=bool)
        first[1:] = col[by][1:] != col[by][:-1]
        top = np.zeros(len(used))
        arg = np.full(len(used), -1)
        top[col[by][first]] = vals[by][first]
        arg[col[by][first]] = row_of[by][first]
        second = np.zeros(len(used))
        after = np.flatnonzero(first) + 1
        after = after[after < len(by)]
        nxt = after[~first[after]]  # the second entry of each column that has one
        second[col[by][nxt]] = vals[by][nxt]
        lengths = np.array([r[2] for r in rows])
        starts = np.concatenate([[0], np.cumsum(sizes)])
        metric: Any = self._bleu._metric
        out = []
        for h in hyps:
            own = slice(starts[h], starts[h + 1])
            c = col[own]
            ref_max = np.where(arg[c] == h, second[c], top[c])
            clipped = np.minimum(vals[own], ref_max)
            correct = np.bincount(orders[c], weights=clipped, minlength=max_order)
            correct_list = correct[:max_order].round().astype(int).tolist()
            sys_len = int(lengths[h])
            total = [max(0, sys_len - k) for k in range(max_order)]
            # sacrebleu's closest reference length over the others; ties go to the shorter.
            others = np.delete(lengths, h)
            diff = np.abs(others - sys_len)
            ref_len = int(others[diff == diff.min()].min())
            score = metric.compute_bleu(
                correct_list,
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
        keys, texts, weight = unique_outputs(stats, "outputs")
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
                per.append(self._prompt_mean([texts[i] for i in members]))
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
