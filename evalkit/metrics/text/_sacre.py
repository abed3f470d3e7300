"""What BLEU, chrF and TER share: sacrebleu's per-sample statistics, score formula, signatures.

The three sacrebleu metrics compute corpus BLEU, chrF/chrF++ and TER from per-sample
statistics, with :class:`_SacreMetricWrapper` as their base. Each wraps one sacrebleu metric
object built from the user's parameters (sacrebleu's own names and defaults). ``sample_stats``
asks sacrebleu for its per-segment sufficient statistics (the numbers its ``corpus_score``
sums), and ``from_totals`` hands summed statistics back to sacrebleu's own score formula, so
evalkit's corpus value is sacrebleu's corpus value, and bootstrap resampling reuses statistics
without re-tokenising.

The per-segment statistics are sacrebleu's numbers, computed by each metric's exact
re-implementation (its ``_segment_stats``, described in its own module) and, for batches of
``parallel_min_samples`` or more, by forked worker processes (:mod:`evalkit.metrics._parallel`).
They are kept as plain Python numbers, so they are JSON as they are. ``tests/parity`` compares
them segment by segment with sacrebleu's ``_extract_corpus_statistics``, and corpus scores with
``corpus_score``.

Signatures embed sacrebleu's signature fields verbatim in sacrebleu's order (``case``, ``eff``,
``tok``, ``smooth``, ``version``...) followed by what sacrebleu's signature leaves out but
changes the number (each metric's ``_extra_signature_fields``) and the evalkit version.
sacrebleu's ``nrefs`` field is left out on purpose: it describes the data, not the metric
(evalkit records the references of every sample in ``samples.jsonl``), and a signature must be
known before any data is scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, cast

import numpy as np
from sacrebleu.metrics.base import Metric as _SacreMetric

from evalkit._validate import sample_texts
from evalkit._version import __version__
from evalkit.metrics._parallel import map_chunks
from evalkit.metrics.base import VectorMetric
from evalkit.metrics.text._checks import check_nonempty_references, sample_has_cjk
from evalkit.types import Sample, Stats


def _reference_streams(references: Sequence[Sequence[str]]) -> Sequence[Sequence[str]]:
    """Transpose per-sample reference lists into sacrebleu's reference streams.

    Samples with fewer references than the longest list are padded with ``None``, which
    sacrebleu drops per segment (its documented way to pass a variable number of references,
    although its type hints say ``str``).
    """
    width = max(len(refs) for refs in references)
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(width)]
    return cast(Sequence[Sequence[str]], streams)


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
