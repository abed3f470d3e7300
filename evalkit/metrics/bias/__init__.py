"""The bias-probe family: counterfactual gaps, stereotype preference, WEAT/SEAT, group fairness.

Registered metrics (:data:`evalkit.registry.METRICS`): ``counterfactual_gap``,
``counterfactual_ll_gap``, ``stereotype_preference``, ``weat`` and ``group_fairness``.

Modules:

- :mod:`~evalkit.metrics.bias.counterfactual`: ``counterfactual_gap``, ``counterfactual_ll_gap``.
- :mod:`~evalkit.metrics.bias.stereotype`: ``stereotype_preference`` (ideal 50).
- :mod:`~evalkit.metrics.bias.weat`: ``weat``, association tests on embeddings.
- :mod:`~evalkit.metrics.bias.group_fairness`: ``group_fairness``, parity gaps between groups.
- :mod:`~evalkit.metrics.bias._paired`: how pair probes read a pair and aggregate it.
- :mod:`~evalkit.metrics.bias._stats`: the paired sign-flip test and WEAT's statistics.

The counterfactual pairs come from probe sets expanded by :mod:`evalkit.data.probes`.

Conventions of the family: values with an ideal point (a signed gap: 0; a preference share: 50)
declare it through ``value_target`` and are diagnostics; the headline of each probe is its
distance from the ideal, lower is better, which comparisons and gates use.
"""
