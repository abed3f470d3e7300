"""Corpus BLEU as sacrebleu computes it: the ``bleu`` metric (:class:`BLEU`).

The plumbing BLEU shares with chrF and TER (statistics, sacrebleu's score formula,
signatures) is in :mod:`evalkit.metrics.text._sacre`. What is BLEU's own:

- the per-segment statistics come from
  :func:`~evalkit.metrics.text._sacre_fast.bleu_statistics` (exact), with sacrebleu's own
  tokenizers except ``13a``, which it replaces (when available) by a faster one giving the
  same tokens;
- the tokenizer names are sacrebleu's; the SentencePiece ones need a model file that evalkit
  never downloads, and ``ja-mecab`` and ``ko-mecab`` need sacrebleu's extras, so whatever is
  missing is an :class:`~evalkit.errors.AssetError` that says how to get it;
- the signature adds ``max_ngram_order`` to sacrebleu's fields (and the exact
  ``smooth_value`` where sacrebleu's two decimals would hide it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, Self, cast

import numpy as np
from pydantic import Field, model_validator
from sacrebleu.metrics.bleu import BLEU as _SacreBLEU

from evalkit.errors import AssetError
from evalkit.metrics.params import MetricParams
from evalkit.metrics.text._sacre import _SacreMetricWrapper
from evalkit.metrics.text._sacre_fast import bleu_statistics, fast_13a_available
from evalkit.types import Stats

__all__ = ["BLEU"]

# sacrebleu tokenizers that keep a run of CJK characters as one token.
_NO_CJK_SEGMENTATION = frozenset({"13a", "intl", "none"})

#: sacrebleu's tokenizer names, in the order of ``sacrebleu.metrics.bleu.BLEU.TOKENIZERS``
#: (checked by the doctest of ``BLEU.Params``).
_Tokenizer = Literal[
    "none",
    "zh",
    "13a",
    "intl",
    "char",
    "ja-mecab",
    "ko-mecab",
    "spm",
    "flores101",
    "flores200",
    "spBLEU-1K",
]

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
        ConfigError: On a parameter of the wrong type, out of range or an unknown choice.
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

    class Params(MetricParams):
        """BLEU's parameters (sacrebleu's names and defaults).

        >>> from typing import get_args
        >>> list(get_args(_Tokenizer)) == list(_SacreBLEU.TOKENIZERS)  # sacrebleu's names
        True
        """

        lowercase: bool = Field(False, description="lowercase hypotheses and references first")
        tokenize: _Tokenizer | None = Field(
            None, description="sacrebleu tokenizer (None: '13a', or trg_lang's default)"
        )
        smooth_method: Literal["none", "floor", "add-k", "exp"] = Field(
            "exp", description="what zero n-gram counts become"
        )
        smooth_value: int | float | None = Field(
            None,
            ge=0,
            allow_inf_nan=False,
            description="value for 'floor' (default 0.1) and 'add-k' (default 1)",
        )
        max_ngram_order: int = Field(4, ge=1, description="highest n-gram order")
        effective_order: bool = Field(
            False, description="leave out n-gram orders with no hypothesis n-grams"
        )
        trg_lang: str = Field("", description="target language code (picks the tokenizer)")

        @model_validator(mode="after")
        def _smooth_value_applies(self) -> Self:
            if (
                self.smooth_value is not None
                and _SacreBLEU.SMOOTH_DEFAULTS[self.smooth_method] is None
            ):
                raise ValueError(
                    "smooth_value applies to smooth_method 'floor' or 'add-k', not "
                    f"{self.smooth_method!r}; drop smooth_value or change smooth_method"
                )
            return self

    p: Params

    def setup(self) -> None:
        # What sacrebleu will pick: the named tokenizer, else the default for trg_lang.
        p = self.p
        effective = p.tokenize or _SacreBLEU._TOKENIZER_MAP.get(
            p.trg_lang, _SacreBLEU.TOKENIZER_DEFAULT
        )
        self._tokenizer_name = effective
        if effective in _SPM_TOKENIZERS:
            _check_spm_model(effective)
        try:
            self._metric = _SacreBLEU(**p.model_dump())
        except (ImportError, RuntimeError) as exc:
            hint = _TOKENIZER_EXTRAS.get(effective, "the packages sacrebleu names")
            raise AssetError(
                f"{self.name}: tokenizer {effective!r} needs packages that are not installed; "
                f"pip install {hint}."
            ) from exc

    def value_names(self) -> tuple[str, ...]:
        return ("bleu",)

    def _segment_stats(self, pairs: Sequence[tuple[str, list[str]]]) -> list[Stats]:
        """sacrebleu's statistics, computed by :func:`~.text._sacre_fast.bleu_statistics`
        (exact; with a faster ``13a`` tokenizer, sacrebleu's own tokenizer otherwise)."""
        tokenize: Any = cast(Any, self._metric).tokenizer
        if self._tokenizer_name == "13a" and fast_13a_available():
            tokenize = None
        return bleu_statistics(
            pairs,
            tokenize=tokenize,
            lowercase=self.p.lowercase,
            max_order=self.p.max_ngram_order,
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
        extra: dict[str, Any] = {"max_ngram_order": self.p.max_ngram_order}
        value = self.p.smooth_value
        # sacrebleu prints the smoothing value with two decimals; keep the exact one too when
        # two decimals would hide it.
        if value is not None and float(f"{value:.2f}") != value:
            extra["smooth_value"] = repr(float(value))
        return extra
