"""Corpus translation edit rate as sacrebleu computes it: the ``ter`` metric (:class:`TER`).

The plumbing TER shares with BLEU and chrF (statistics, sacrebleu's score formula, signatures)
is in :mod:`evalkit.metrics.text._sacre`. What is TER's own: each segment is preprocessed by
sacrebleu's own TER tokenizer and its edits are counted by
:func:`~evalkit.metrics.text._ter_fast.translation_edit_rate` (sacrebleu's algorithm, exact and
faster). A segment costs milliseconds, so worker processes start at 200 samples. The signature
is sacrebleu's fields alone, with no extra field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field
from sacrebleu.metrics.ter import TER as _SacreTER

from evalkit.metrics.params import MetricParams
from evalkit.metrics.text._sacre import _plain, _SacreMetricWrapper
from evalkit.metrics.text._ter_fast import translation_edit_rate
from evalkit.types import Stats

__all__ = ["TER"]


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

    class Params(MetricParams):
        """TER's parameters (sacrebleu's names and defaults)."""

        normalized: bool = Field(False, description="apply Tercom's normalisation")
        no_punct: bool = Field(False, description="remove punctuation")
        asian_support: bool = Field(False, description="treat CJK characters specially")
        case_sensitive: bool = Field(False, description="keep case (default: lowercase)")

    p: Params

    def setup(self) -> None:
        self._metric = _SacreTER(**self.p.model_dump())

    #: TER's segments cost milliseconds each, so a pool pays off early.
    parallel_min_samples: ClassVar[int] = 200

    def value_names(self) -> tuple[str, ...]:
        return ("ter",)

    def _segment_stats(self, pairs: Sequence[tuple[str, list[str]]]) -> list[Stats]:
        """sacrebleu's ``[edits, average reference length]``, with sacrebleu's tokenizer and
        :func:`evalkit.metrics.text._ter_fast.translation_edit_rate` (exact, faster)."""
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
        if self.p.normalized and self.p.asian_support:
            return None
        return (
            "ter: CJK text scored without normalized=true and asian_support=true, so a run of "
            "CJK characters is one word; set both to split CJK characters."
        )
