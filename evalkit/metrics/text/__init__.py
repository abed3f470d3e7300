"""The text-overlap family: metrics that score a predicted text against reference texts.

Registered metrics (:data:`evalkit.registry.METRICS`): ``bleu``, ``chrf``, ``ter``, ``rouge``,
``meteor`` and ``bertscore``.

Modules:

- :mod:`~evalkit.metrics.text.bleu`: corpus BLEU (``bleu``), sacrebleu's numbers.
- :mod:`~evalkit.metrics.text.chrf`: corpus chrF and chrF++ (``chrf``), sacrebleu's numbers.
- :mod:`~evalkit.metrics.text.ter`: corpus translation edit rate (``ter``), sacrebleu's numbers.
- :mod:`~evalkit.metrics.text._sacre`: the base of those three: statistics, formula, signatures.
- :mod:`~evalkit.metrics.text._sacre_fast`: exact, faster BLEU and chrF segment statistics.
- :mod:`~evalkit.metrics.text._ter_fast`: exact, faster translation edit rate.
- :mod:`~evalkit.metrics.text.rouge`: ROUGE-N, -L and -Lsum (``rouge``), rouge-score's numbers.
- :mod:`~evalkit.metrics.text._rouge_impl`: exact, faster ROUGE (memoised stems, bit-parallel LCS).
- :mod:`~evalkit.metrics.text.meteor`: METEOR (``meteor``), nltk's numbers.
- :mod:`~evalkit.metrics.text.bertscore`: BERTScore (``bertscore``), bert-score's numbers.
- :mod:`~evalkit.metrics.text._bertscore_encoder`: BERTScore's tokenisation, model, embeddings.
- :mod:`~evalkit.metrics.text._bertscore_stats`: BERTScore's matching, idf and baseline files.
- :mod:`~evalkit.metrics.text._checks`: the empty-reference and CJK checks the family shares.

Conventions of the family:

- A sample's ``prediction`` is scored against its ``references`` (one or more per sample).
- Each metric gives the numbers of one reference package (its ``reference_packages``:
  sacrebleu, rouge-score, nltk, bert-score); evalkit's faster implementations are checked
  against that package in ``tests/parity``.
- Each registered name has a functional twin in :mod:`evalkit.metrics`
  (``bleu(predictions, references, **params) -> Score``).
"""
