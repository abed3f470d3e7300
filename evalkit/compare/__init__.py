"""A/B and checkpoint-series comparisons over run records, with paired significance.

Comparisons read records only: samples are joined by (task, id), the corpus metric is
recomputed from stored per-sample statistics for every resample, and no model is called.
Runs whose metric signatures, data or sample sets differ are refused (``--intersection``
compares the common samples and says how many were left out).

Each row is one reading: the delta on the ``n`` samples both runs scored, beside each run's
full-run value (``value_a_full``); what was left out and why (``left_out``); the interval and
the p-value with the procedures behind them (``interval_method``, ``p_method``: the same paired
bootstrap unless ``--test randomization``); and, where the Holm-adjusted verdict and the
unadjusted interval seem to disagree, a ``verdict_note`` that says why.

The modules: :mod:`~evalkit.compare.options` (settings), :mod:`~evalkit.compare.loading`
(runs, labels, what must match), :mod:`~evalkit.compare.pairing` (one task between two runs),
:mod:`~evalkit.compare.verdicts` (Holm, verdict notes), :mod:`~evalkit.compare.series`
(trend, forgotten examples) and :mod:`~evalkit.compare.document` (:func:`compare_runs`).
"""

from __future__ import annotations

from evalkit.compare.document import FORMAT_VERSION as FORMAT_VERSION
from evalkit.compare.document import compare_runs as compare_runs
from evalkit.compare.loading import build_metric as build_metric
from evalkit.compare.loading import run_label as run_label
from evalkit.compare.loading import series_value as series_value
from evalkit.compare.loading import signature_diff as signature_diff
from evalkit.compare.options import CompareOptions as CompareOptions
from evalkit.compare.options import auto_resamples as auto_resamples
from evalkit.compare.pairing import left_out_counts as left_out_counts
from evalkit.compare.verdicts import verdict_note as verdict_note
