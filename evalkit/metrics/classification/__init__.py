"""Classification and calibration: the ``accuracy``, ``f1`` and ``calibration`` metrics.

A classification sample is one input with exactly one reference label; the prediction is the
model's label (its text, stripped of surrounding whitespace by default). Each sample's
statistic is the pair ``[reference_label, predicted_label]`` (``labels.py``) or
``[confidence, correct]`` (``calibration.py``), so bootstrap intervals, paired tests and gates
resample samples, and corpus values (per-class counts, per-bin sums) are recomputed from the
resampled statistics.
"""
