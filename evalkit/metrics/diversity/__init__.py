"""Diversity of generated text: distinct-n, n-gram entropy, repetition, self-BLEU, embeddings.

These metrics need no references. Each sample contributes its *outputs*: the ``n`` samples a
task asked for (``generation: {n: 5, temperature: 1.0}``; kept in ``outputs["samples"]``), or
its one prediction. Two readings are reported where both make sense:

- **corpus-level**: over every output of every prompt (Li et al. 2016 count distinct n-grams
  over all generated responses);
- **per prompt** (``..._per_prompt``): over the ``n`` outputs of each prompt, then the mean
  over prompts; this is the diversity that sampling settings change.

Corpus-level values are not additive: the per-sample statistic keeps what the aggregate needs
(n-gram counts, the texts, the embeddings), and the aggregate does the corpus work. A bootstrap
resample that draws a prompt twice would count its outputs twice (distinct-n, entropy), so
their corpus-level values get no bootstrap interval (``interval_values``; the per-prompt values
do); self-BLEU and embedding diversity never compare an output with its own copy (outputs are
identified by sample id and sample index).

Tokenisation is part of every signature: ``tok:whitespace`` (``str.split``) or ``tok:13a``
(sacrebleu's default BLEU tokenizer), with ``lowercase``.

The n-gram metrics take one order or a list of them, as the ranking metrics take cutoffs:
``distinct_n: {n: [1, 2]}`` reports ``distinct_1``, ``distinct_1_per_prompt``, ``distinct_2``
and ``distinct_2_per_prompt`` from one tokenisation of each output (a list is sorted, its
signature reads ``n:1,2``; a list of one order is that order).

The metrics live in :mod:`~evalkit.metrics.diversity.ngram` (distinct-n, n-gram entropy,
repetition), :mod:`~evalkit.metrics.diversity.self_bleu` and
:mod:`~evalkit.metrics.diversity.embedding`; what they share (a sample's outputs, tokenisation,
the n-gram orders) is in :mod:`~evalkit.metrics.diversity._inputs`.
"""

from __future__ import annotations

# The helpers the metrics share, importable from here as before the split.
from evalkit.metrics.diversity._inputs import MAX_ORDER as MAX_ORDER
from evalkit.metrics.diversity._inputs import MIN_ORDER as MIN_ORDER
from evalkit.metrics.diversity._inputs import TOKENIZERS as TOKENIZERS
from evalkit.metrics.diversity._inputs import Orders as Orders
from evalkit.metrics.diversity._inputs import TokenizerName as TokenizerName
from evalkit.metrics.diversity._inputs import canonical_orders as canonical_orders
from evalkit.metrics.diversity._inputs import order_list as order_list
from evalkit.metrics.diversity._inputs import sample_outputs
from evalkit.metrics.diversity._inputs import tokenizer as tokenizer
from evalkit.metrics.diversity.embedding import EmbeddingDiversity
from evalkit.metrics.diversity.ngram import DistinctN, NgramEntropy, Repetition
from evalkit.metrics.diversity.self_bleu import SelfBLEU

__all__ = [
    "DistinctN",
    "EmbeddingDiversity",
    "NgramEntropy",
    "Repetition",
    "SelfBLEU",
    "sample_outputs",
]
