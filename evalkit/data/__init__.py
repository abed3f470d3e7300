"""Inputs: files to objects (task samples, retrieval judgments/runs/corpora, images, probe sets).

Modules:

- :mod:`~evalkit.data.samples`: task samples from JSONL, CSV or Parquet, and ``DatasetSpec``.
- :mod:`~evalkit.data.retrieval`: TREC, JSONL or JSON qrels and runs (``Qrels``, ``Run``), corpora.
- :mod:`~evalkit.data.images`: images from folders, arrays and per-sample image references.
- :mod:`~evalkit.data.probes`: counterfactual probe sets, expanded into text pairs.

No metric is registered here; what uses these inputs: every task (samples), the retrieval
metrics and the ``trec_run``, ``bm25`` and ``dense`` adapters (retrieval), the image metrics
and the ``images`` adapter (images), and the counterfactual bias probes (probes).

Conventions of the family: these modules read files and build plain objects, importing only
each other and evalkit's ground layer (errors, types, I/O helpers), never metrics or adapters.
A malformed input is an :class:`~evalkit.errors.InputError` that names the file and the line,
row or field, and says what to change.
"""
