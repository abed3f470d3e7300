"""The retrieval family: ranking metrics with trec_eval's numbers.

Registered metrics (:data:`evalkit.registry.METRICS`): ``precision``, ``recall``,
``hit_rate``, ``mrr``, ``ndcg``, ``map`` and ``r_precision``.

Modules:

- :mod:`~evalkit.metrics.retrieval.ranking`: the registered metrics (every public name of the
  family is importable from here).
- :mod:`~evalkit.metrics.retrieval.conventions`: the parameters and conventions (order,
  cutoffs, relevance, missing queries) recorded in every signature.
- :mod:`~evalkit.metrics.retrieval.functional`: ``score_run``, ``evaluate`` and
  ``evaluate_per_query`` over whole runs.
- :mod:`~evalkit.metrics.retrieval._inputs`: a batch's judgments and rankings, checked and
  prepared once for all the ranking metrics of a task.
- :mod:`~evalkit.metrics.retrieval._engine`: the vectorised engine that computes every measure
  from the ranks of the judged documents.

Conventions of the family: a sample is one query, with its judgments in ``inputs["qrels"]``
and the ranking a ``retrieve`` request returned (adapters ``dense``, ``bm25``, ``trec_run``)
in ``outputs["ranking"]``; the files behind both are read by :mod:`evalkit.data.retrieval`.
Every value is higher-is-better, and ``tests/parity`` checks them against pytrec_eval.
"""
