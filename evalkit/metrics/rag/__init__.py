"""Retrieval-augmented generation: the retrieved contexts, and how grounded the answer is.

Deterministic metrics over judged passages (``context.py``): ``context_precision`` and
``context_recall``, as ragas defines them for reference judgments. Grounding metrics
(``faithfulness``, ``unsupported_facts``, ``citation_accuracy``) check the answer's claims and
citations against the retrieved passages. Every metric reads the passages a pipeline logged
through ``_contexts.py`` (``outputs["contexts"]`` of a predictions file row, or a dataset field).
"""
