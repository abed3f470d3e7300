"""Corpus BLEU, chrF/chrF++ and TER, computed by sacrebleu from per-sample statistics.

Each metric wraps one sacrebleu metric object built from the user's parameters (sacrebleu's own
names and defaults). ``sample_stats`` asks sacrebleu for its per-segment sufficient statistics
(the numbers its ``corpus_score`` sums), and ``from_totals`` hands summed statistics back to
sacrebleu's own score formula, so evalkit's corpus value is sacrebleu's corpus value, and
bootstrap resampling reuses statistics without re-tokenising.

The per-segment statistics are sacrebleu's numbers, computed by evalkit's exact re-implementations
(:mod:`evalkit.metrics._sacre_fast` for BLEU and chrF, :mod:`evalkit.metrics._ter_fast` for TER;
sacrebleu's own tokenizers except for a faster ``13a``) and, for large batches, by forked worker
processes (:mod:`evalkit.metrics._parallel`). ``tests/parity`` compares them segment by segment
with sacrebleu's ``_extract_corpus_statistics``, and corpus scores with ``corpus_score``.

Signatures embed sacrebleu's signature fields verbatim in sacrebleu's order (``case``, ``eff``,
``tok``, ``smooth``, ``version``...) followed by what sacrebleu's signature leaves out but
changes the number (BLEU's ``max_ngram_order``, chrF's ``beta``) and the evalkit version.
sacrebleu's ``nrefs`` field is left out on purpose: it describes the data, not the metric
(evalkit records the references of every sample in ``samples.jsonl``), and a signature must be
known before any data is scored.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any, ClassVar, cast

import numpy as np
from sacrebleu.metrics import BLEU as _SacreBLEU
from sacrebleu.metrics import CHRF as _SacreCHRF
from sacrebleu.metrics import TER as _SacreTER
from sacrebleu.metrics.base import Metric as _SacreMetric

from evalkit import __version__
from evalkit._validate import check_choice, check_type, sample_texts
from evalkit.errors import AssetError, ConfigError
from evalkit.metrics._parallel import map_chunks
from evalkit.metrics._sacre_fast import (
    bleu_statistics,
    chrf_statistics,
    fast_13a_available,
)
from evalkit.metrics._ter_fast import translation_edit_rate
from evalkit.metrics._text import check_nonempty_references, sample_has_cjk
from evalkit.metrics.base import VectorMetric
from evalkit.types import Sample, Stats

__all__ = ["BLEU", "CHRF", "TER"]


def _reference_streams(references: Sequence[Sequence[str]]) -> Sequence[Sequence[str]]:
    """Transpose per-sample reference lists into sacrebleu's reference streams.

    Samples with fewer references than the longest list are padded with ``None``, which
    sacrebleu drops per segment (its documented way to pass a variable number of references,
    although its type hints say ``str``).
    """
    width = max(len(refs) for refs in references)
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(width)]
    return cast(Sequence[Sequence[str]], streams)


def _check_bool(metric: str, **values: Any) -> None:
    for param, value in values.items():
        check_type(metric, param, value, bool)


def _check_int(metric: str, param: str, value: Any, minimum: int) -> None:
    check_type(metric, param, value, int)
    if value < minimum:
        raise ConfigError(f"{metric}: {param} must be >= {minimum}, got {value}.")


class _SacreMetricWrapper(VectorMetric):
    """Shared plumbing: per-segment statistics and the score formula come from sacrebleu."""

    reference_packages: ClassVar[tuple[str, ...]] = ("sacrebleu",)
    _metric: _SacreMetric
    #: Below this many samples, statistics are computed in-process (no worker pool).
    parallel_min_samples: ClassVar[int] = 2000

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """sacrebleu's per-segment statistics, one list of numbers per sample.

        Large batches are computed by forked worker processes (see
        :mod:`evalkit.metrics._parallel`); the statistics are the same either way.
        """
        predictions, references = sample_texts(self.name, batch)
        check_nonempty_references(self.name, batch, references)
        if not predictions:
            return []
        pairs = list(zip(predictions, references, strict=True))
        return map_chunks(self._segment_stats, pairs, min_items=self.parallel_min_samples)

    def _segment_stats(self, pairs: Sequence[tuple[str, list[str]]]) -> list[Stats]:
        """Statistics of ``(prediction, references)`` pairs, by sacrebleu itself."""
        streams = _reference_streams([refs for _, refs in pairs])
        stats = self._metric._extract_corpus_statistics([p for p, _ in pairs], streams)
        # Plain Python numbers, so the statistics are JSON as they are.
        return [[_plain(x) for x in row] for row in stats]

    def sample_warnings(self, batch: Sequence[Sample]) -> list[str | None]:
        """A warning for samples with CJK text when the tokenizer does not segment it."""
        message = self._cjk_warning()
        if message is None:
            return [None] * len(batch)
        return [message if sample_has_cjk(s) else None for s in batch]

    def _cjk_warning(self) -> str | None:
        return None

    def _score_row(self, row: list[Any]) -> float:
        return float(self._metric._compute_score_from_stats(row).score)

    def _row(self, totals: np.ndarray) -> list[Any]:
        """One row of summed statistics as sacrebleu's own summation would give it."""
        return [_plain(x) for x in totals.tolist()]

    def from_totals(self, totals: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
        totals = np.atleast_2d(np.asarray(totals, dtype=np.float64))
        # A fresh list per row: sacrebleu's add-k smoothing adds to the counts in place.
        values = [self._score_row(self._row(row)) for row in totals]
        return {self.value_names()[0]: np.asarray(values, dtype=np.float64)}

    def _extra_signature_fields(self) -> dict[str, Any]:
        return {}

    def signature_fields(self) -> dict[str, Any]:
        """sacrebleu's signature fields (without ``nrefs``), extra fields, evalkit version."""
        # sacrebleu only builds a signature after scoring, when it knows the reference count;
        # build it from the metric's settings with a placeholder count and drop that field.
        sig = self._metric._SIGNATURE_TYPE({**vars(self._metric), "num_refs": 1})
        info = {k: v for k, v in sig.info.items() if k != "nrefs" and v is not None}
        version = info.pop("version")
        fields: dict[str, Any] = {**info, "version": version}
        fields.update(self._extra_signature_fields())
        fields["evalkit"] = __version__
        return fields


def _plain(x: Any) -> int | float:
    """An integral count as ``int``, anything else as ``float``."""
    if isinstance(x, int):
        return x
    f = float(x)
    return int(f) if f.is_integer() and abs(f) < 2**53 else f


# sacrebleu tokenizers that keep a run of CJK characters as one token.
_NO_CJK_SEGMENTATION = frozenset({"13a", "intl", "none"})

# The SentencePiece tokenizers download a model on first use; evalkit never downloads
# behind the user's back (DESIGN.md, "Offline first"), so a missing model is an AssetError.
_SPM_TOKENIZERS = ("spm", "flores101", "flores200", "spBLEU-1K")
# Optional packages of sacrebleu's tokenizers (sacrebleu's setup.py extras).
_TOKENIZER_EXTRAS = {
    "ja-mecab": "'sacrebleu[ja]'",
    "ko-mecab": "'sacrebleu[ko]'",
    **{name: "sentencepiece" for name in _SPM_TOKENIZERS},
}


def _check_spm_model(tokenize: str) -> None:
    from sacrebleu.tokenizers.tokenizer_spm import SPM_MODELS
    from sacrebleu.utils import SACREBLEU_DIR

    url = SPM_MODELS[tokenize]["url"]
    path = os.path.join(SACREBLEU_DIR, "models", os.path.basename(url))
    if not os.path.exists(path):
        raise AssetError(
            f"bleu: tokenizer {tokenize!r} needs the SentencePiece model {path}, which is "
            f"missing (evalkit does not download it); download {url} to that path (or set "
            "SACREBLEU to a folder holding models/<file>), and pip install sentencepiece."
        )


class BLEU(_SacreMetricWrapper):
    """Corpus BLEU (Papineni et al., 2002) exactly as sacrebleu computes it.

    With clipped n-gram counts summed over the corpus, ``p_n = matches_n / total_n`` for
    ``n = 1..N`` (``N = max_ngram_order``), hypothesis length ``c`` and closest reference
    length ``r``::

        BLEU = 100 * BP * exp(mean_n log p_n),   BP = 1 if c >= r else exp(1 - r / c)

    where ``smooth_method`` decides what zero counts become and ``effective_order`` drops
    orders with no n-grams. Multiple references clip against the maximum count per n-gram over
    a sample's references; samples may have different numbers of references.

    The per-sample statistic is sacrebleu's ``[hyp_len, ref_len, matches_1..N, totals_1..N]``;
    the value is on sacrebleu's 0-100 scale.

    Degenerate input is scored as sacrebleu scores it, never an error, except references
    that are all empty:

    - an empty or whitespace-only prediction has length 0 (brevity penalty 0): a corpus of
      them scores 0;
    - punctuation is a token for ``13a`` and ``intl``, so a punctuation-only prediction can
      match punctuation in the reference;
    - a single-word sentence has no 2-, 3- or 4-grams; without ``effective_order`` their
      precision counts as zero and BLEU is 0 even for an exact match (sacrebleu's corpus
      rule). Use ``effective_order=True`` for sentence-level scores of short texts;
    - a sample whose references are all empty or whitespace raises InputError (``evalkit run``
      refuses such samples when loading data); an empty reference beside non-empty ones
      counts, as in sacrebleu, as a length-0 candidate for the closest reference length.

    CJK text scored with a tokenizer that does not split it (``13a``, ``intl``, ``none``)
    gets a per-sample warning (:meth:`sample_warnings`) that a run counts per task: use
    ``zh``, ``ja-mecab`` or ``ko-mecab`` (``pip install 'sacrebleu[ja]'`` / ``'sacrebleu[ko]'``),
    ``char``, or chrF.

    Args:
        lowercase: Lowercase hypotheses and references first.
        tokenize: sacrebleu tokenizer name; ``None`` means ``'13a'`` (or the default for
            ``trg_lang`` zh/ja/ko, as in sacrebleu).
        smooth_method: ``'exp'``, ``'floor'``, ``'add-k'`` or ``'none'``.
        smooth_value: Value for ``floor`` (default 0.1) and ``add-k`` (default 1).
        max_ngram_order: Highest n-gram order ``N``.
        effective_order: Leave out n-gram orders with no hypothesis n-grams.
        trg_lang: Target language code; only picks the default tokenizer.

    Raises:
        ConfigError: On a parameter of the wrong type or an unknown choice.
        AssetError: When the tokenizer needs a package or model file that is missing.

    References:
        Papineni et al. (2002), "BLEU: a Method for Automatic Evaluation of Machine
        Translation", ACL. Post (2018), "A Call for Clarity in Reporting BLEU Scores", WMT
        (sacrebleu). Chen and Cherry (2014), "A Systematic Comparison of Smoothing Techniques
        for Sentence-Level BLEU", WMT (smoothing methods).

    Example:
        >>> from evalkit.metrics import bleu
        >>> s = bleu(["the cat sat on the mat"], [["the cat sat on the mat", "a cat sat"]])
        >>> round(s.value, 2)
        100.0
        >>> s.signature  # doctest: +ELLIPSIS
        'bleu|case:mixed|eff:no|tok:13a|smooth:exp|version:...|max_ngram_order:4|evalkit:...'
    """

    name: ClassVar[str] = "bleu"
    higher_is_better: ClassVar[bool] = True

    def __init__(
        self,
        *,
        lowercase: bool = False,
        tokenize: str | None = None,
        smooth_method: str = "exp",
        smooth_value: float | None = None,
        max_ngram_order: int = 4,
        effective_order: bool = False,
        trg_lang: str = "",
    ) -> None:
        n = self.name
        _check_bool(n, lowercase=lowercase, effective_order=effective_order)
        if tokenize is not None:
            check_type(n, "tokenize", tokenize, str)
            check_choice(n, "tokenize", tokenize, list(_SacreBLEU.TOKENIZERS))
        check_type(n, "smooth_method", smooth_method, str)
        check_choice(n, "smooth_method", smooth_method, list(_SacreBLEU.SMOOTH_DEFAULTS))
        if smooth_value is not None:
            check_type(n, "smooth_value", smooth_value, (int, float))
            if not math.isfinite(smooth_value) or smooth_value < 0:
                raise ConfigError(f"{n}: smooth_value must be a number >= 0, got {smooth_value}.")
            if _SacreBLEU.SMOOTH_DEFAULTS[smooth_method] is None:
                raise ConfigError(
                    f"{n}: smooth_value applies to smooth_method 'floor' or 'add-k', not "
                    f"{smooth_method!r}; drop smooth_value or change smooth_method."
                )
        _check_int(n, "max_ngram_order", max_ngram_order, 1)
        check_type(n, "trg_lang", trg_lang, str)
        super().__init__(
            lowercase=lowercase,
            tokenize=tokenize,
            smooth_method=smooth_method,
            smooth_value=smooth_value,
            max_ngram_order=max_ngram_order,
            effective_order=effective_order,
            trg_lang=trg_lang,
        )
        # What sacrebleu will pick: the named tokenizer, else the default for trg_lang.
        effective = tokenize or _SacreBLEU._TOKENIZER_MAP.get(
            trg_lang, _SacreBLEU.TOKENIZER_DEFAULT
        )
        self._tokenizer_name = effective
        if effective in _SPM_TOKENIZERS:
            _check_spm_model(effective)
        try:
            self._metric = _SacreBLEU(
                lowercase=lowercase,
                tokenize=tokenize,
                smooth_method=smooth_method,
                smooth_value=smooth_value,
                max_ngram_order=max_ngram_order,
                effective_order=effective_order,
                trg_lang=trg_lang,
            )
        except (ImportError, RuntimeError) as exc:
            hint = _TOKENIZER_EXTRAS.get(effective, "the packages sacrebleu names")
            raise AssetError(
                f"{n}: tokenizer {effective!r} needs packages that are not installed; "
                f"pip install {hint}."
            ) from exc

    def value_names(self) -> tuple[str, ...]:
        return ("bleu",)

    def _segment_stats(self, pairs: Sequence[tuple[str, list[str]]]) -> list[Stats]:
        """sacrebleu's statistics, computed by :func:`~evalkit.metrics._sacre_fast.bleu_statistics`
        (exact; with a faster ``13a`` tokenizer, sacrebleu's own tokenizer otherwise)."""
        tokenize: Any = cast(Any, self._metric).tokenizer
        if self._tokenizer_name == "13a" and fast_13a_available():
            tokenize = None
        return bleu_statistics(
            pairs,
            tokenize=tokenize,
            lowercase=self.params["lowercase"],
            max_order=self.params["max_ngram_order"],
        )

    def _cjk_warning(self) -> str | None:
        if self._tokenizer_name not in _NO_CJK_SEGMENTATION:
            return None
        return (
            f"bleu: CJK text scored with tokenize={self._tokenizer_name!r}, which does not split "
            "it into words (a run of CJK characters is one token); use tokenize 'zh', "
            "'ja-mecab', 'ko-mecab' or 'char' (or set trg_lang), or chrf."
        )

    def _row(self, totals: np.ndarray) -> list[Any]:
        # Summed counts are integers; sacrebleu sums Python ints, so hand it ints.
        return [round(x) for x in totals.tolist()]

    def _extra_signature_fields(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"max_ngram_order": self.params["max_ngram_order"]}
        value = self.params["smooth_value"]
        # sacrebleu prints the smoothing value with two decimals; keep the exact one too when
        # two decimals would hide it.
        if value is not None and float(f"{value:.2f}") != value:
            extra["smooth_value"] = repr(float(value))
        return extra


class CHRF(_SacreMetricWrapper):
    """Corpus chrF and chrF++ (Popović 2015, 2017) exactly as sacrebleu computes it.

    For each character n-gram order ``1..char_order`` and word n-gram order ``1..word_order``,
    hypothesis, reference and matching n-gram counts are summed over the corpus (for several
    references, each sample keeps the reference with the best sentence-level score). With the
    precisions ``P`` and recalls ``R`` averaged over orders::

        chrF_beta = 100 * (1 + beta^2) * P * R / (beta^2 * P + R)

    ``word_order=2`` is chrF++. ``eps_smoothing=True`` averages per-order F-scores with epsilon
    smoothing (chrF++.py, Moses, NLTK) instead of sacrebleu's effective-order averaging. The
    value is on sacrebleu's 0-100 scale.

    Degenerate input, as sacrebleu scores it: an empty, whitespace-only (unless
    ``whitespace=True``, where spaces are characters) or punctuation-only prediction has
    character n-grams only where it has characters, so it scores 0 unless its characters
    occur in the reference; a one-character text has no 2-grams and is averaged over the
    orders it has. A sample whose references are all empty or whitespace raises InputError,
    as in ``evalkit run``. chrF works on characters, so CJK text needs no tokenizer.

    Args:
        char_order: Highest character n-gram order.
        word_order: Highest word n-gram order (0 for chrF, 2 for chrF++).
        beta: Weight of recall relative to precision.
        lowercase: Lowercase hypotheses and references first.
        whitespace: Keep whitespace inside character n-grams.
        eps_smoothing: Use epsilon smoothing (see above).

    Raises:
        ConfigError: On a parameter of the wrong type or out of range.

    References:
        Popović (2015), "chrF: character n-gram F-score for automatic MT evaluation", WMT.
        Popović (2017), "chrF++: words helping character n-grams", WMT. Post (2018), WMT
        (sacrebleu).

    Example:
        >>> from evalkit.metrics import chrf
        >>> s = chrf(["the cat sat on the mat"], [["the cat sat on a mat"]], word_order=2)
        >>> round(s.value, 4)
        72.0304
        >>> s.signature  # doctest: +ELLIPSIS
        'chrf|case:mixed|eff:yes|nc:6|nw:2|space:no|version:...|beta:2|evalkit:...'
    """

    name: ClassVar[str] = "chrf"
    higher_is_better: ClassVar[bool] = True

    def __init__(
        self,
        *,
        char_order: int = 6,
        word_order: int = 0,
        beta: int = 2,
        lowercase: bool = False,
        whitespace: bool = False,
        eps_smoothing: bool = False,
    ) -> None:
        n = self.name
        _check_int(n, "char_order", char_order, 0)
        _check_int(n, "word_order", word_order, 0)
        if char_order + word_order == 0:
            raise ConfigError(f"{n}: char_order and word_order are both 0; set one of them >= 1.")
        _check_int(n, "beta", beta, 0)
        _check_bool(n, lowercase=lowercase, whitespace=whitespace, eps_smoothing=eps_smoothing)
        super().__init__(
            char_order=char_order,
            word_order=word_order,
            beta=beta,
            lowercase=lowercase,
            whitespace=whitespace,
            eps_smoothing=eps_smoothing,
        )
        self._metric = _SacreCHRF(
            char_order=char_order,
            word_order=word_order,
            beta=beta,
            lowercase=lowercase,
            whitespace=whitespace,
            eps_smoothing=eps_smoothing,
        )

    def value_names(self) -> tuple[str, ...]:
        return ("chrf",)

    def _segment_stats(self, pairs: Sequence[tuple[str, list[str]]]) -> list[Stats]:
        """sacrebleu's statistics, computed by :func:`~evalkit.metrics._sacre_fast.chrf_statistics`
        (exact)."""
        return chrf_statistics(pairs, metric=self._metric)

    def _row(self, totals: np.ndarray) -> list[Any]:
        return [round(x) for x in totals.tolist()]

    def _extra_signature_fields(self) -> dict[str, Any]:
        # sacrebleu puts beta in the score's name (chrF2), not in the signature.
        return {"beta": self.params["beta"]}


class TER(_SacreMetricWrapper):
    """Corpus translation edit rate (Snover et al., 2006) exactly as sacrebleu computes it.

    For each sample, the fewest edits (insertions, deletions, substitutions and shifts of word
    sequences) turning the hypothesis into one of its references, and the average reference
    length, are summed over the corpus::

        TER = 100 * sum(edits) / sum(average reference length)

    Lower is better; the value can exceed 100. The per-sample statistic is sacrebleu's
    ``[edits, average_reference_length]``.

    Degenerate input, as sacrebleu scores it: an empty or whitespace-only prediction needs one
    insertion per reference word (TER 100 on its own); punctuation is part of the words
    unless ``no_punct``. A sample whose references are all empty or whitespace raises
    InputError, as in ``evalkit run``. CJK text has no spaces between words: unless
    ``normalized`` and ``asian_support`` are both on, a run of CJK characters is one word, and
    :meth:`sample_warnings` says so per sample.

    Args:
        normalized: Apply Tercom's normalisation (punctuation tokenisation, XML entities).
        no_punct: Remove punctuation.
        asian_support: Treat CJK characters specially (with ``normalized`` or ``no_punct``).
        case_sensitive: Keep case (the default lowercases, as Tercom does).

    Raises:
        ConfigError: On a parameter of the wrong type.

    References:
        Snover et al. (2006), "A Study of Translation Edit Rate with Targeted Human
        Annotation", AMTA. Post (2018), WMT (sacrebleu).

    Example:
        >>> from evalkit.metrics import ter
        >>> s = ter(["the cat sat on mat"], [["the cat sat on the mat"]])
        >>> round(s.value, 4)
        16.6667
        >>> s.signature  # doctest: +ELLIPSIS
        'ter|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:...|evalkit:...'
    """

    name: ClassVar[str] = "ter"
    higher_is_better: ClassVar[bool] = False

    def __init__(
        self,
        *,
        normalized: bool = False,
        no_punct: bool = False,
        asian_support: bool = False,
        case_sensitive: bool = False,
    ) -> None:
        _check_bool(
            self.name,
            normalized=normalized,
            no_punct=no_punct,
            asian_support=asian_support,
            case_sensitive=case_sensitive,
        )
        super().__init__(
            normalized=normalized,
            no_punct=no_punct,
            asian_support=asian_support,
            case_sensitive=case_sensitive,
        )
        self._metric = _SacreTER(
            normalized=normalized,
            no_punct=no_punct,
            asian_support=asian_support,
            case_sensitive=case_sensitive,
        )

    #: TER's segments cost milliseconds each, so a pool pays off early.
    parallel_min_samples: ClassVar[int] = 200

    def value_names(self) -> tuple[str, ...]:
        return ("ter",)

    def _segment_stats(self, pairs: Sequence[tuple[str, list[str]]]) -> list[Stats]:
        """sacrebleu's ``[edits, average reference length]``, with sacrebleu's tokenizer and
        :func:`evalkit.metrics._ter_fast.translation_edit_rate` (exact, faster)."""
        prep = self._metric._preprocess_segment
        out: list[Stats] = []
        for hyp, refs in pairs:
            words_hyp = prep(hyp).split()
            # sacrebleu's TER._compute_segment_statistics: fewest edits over the references,
            # average reference length.
            best = int(1e16)
            ref_lengths = 0
            for ref in refs:
                edits, ref_len = translation_edit_rate(words_hyp, prep(ref).split())
                ref_lengths += ref_len
                if edits < best:
                    best = edits
            out.append([best, _plain(ref_lengths / len(refs))])
        return out

    def _cjk_warning(self) -> str | None:
        p = self.params
        if p["normalized"] and p["asian_support"]:
            return None
        return (
            "ter: CJK text scored without normalized=true and asian_support=true, so a run of "
            "CJK characters is one word; set both to split CJK characters."
        )
