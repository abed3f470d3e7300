"""The retrieval family: ranking metrics with trec_eval's numbers.

Registered metrics (:data:`evalkit.registry.METRICS`): ``precision``, ``recall``,
``hit_rate``, ``mrr``, ``ndcg``, ``map`` and ``r_precision``.

Modules:

- :mod:`~evalkit.metrics.retrieval.ranking`: the registered metrics, their cutoffs and the
  conventions (order, relevance, missing queries) recorded in every signature.
- :mod:`~evalkit.metrics.retrieval._engine`: the vectorised engine that computes every measure
  from the ranks of the judged documents.

Conventions of the family: a sample is one query, with its judgments in ``inputs["qrels"]``
and the ranking a ``retrieve`` request returned (adapters ``dense``, ``bm25``, ``trec_run``)
in ``outputs["ranking"]``; the files behind both are read by :mod:`evalkit.data.retrieval`.
Every value is higher-is-better, and ``tests/parity`` checks them against pytrec_eval.
"""
