"""Benchmark: evalkit's METEOR against nltk's ``meteor_score`` looped over the pairs.

Rows (each timed at every ``--sizes`` value, on the same generated corpus, in one process):

- ``METEOR``: ``METEOR().score(samples)`` (what ``evalkit.metrics.meteor`` runs: tokenize,
  align, score, mean) against the usual nltk loop: for each pair,
  ``meteor_score([wordpunct_tokenize(ref)], wordpunct_tokenize(pred), wordnet=reader)``, then
  the mean. Both use the same WordNet reader, loaded once before anything is timed (its load
  time is printed separately), and the same tokenizer, so the numbers agree exactly.
- ``METEOR (cold memos)``: the same, but evalkit forgets its per-process memos of stems and
  WordNet synonyms before every call, so each call pays for every lookup once: what the first
  scoring call of a process costs. (nltk keeps no such memos; its reader's synset cache stays
  warm for both.)

Hugging Face ``evaluate``'s ``meteor`` is not a row: it tokenizes with ``nltk.word_tokenize``,
whose ``punkt`` model is not available offline, and downloads WordNet on load.

The corpus is ``bench/text_overlap.py``'s: references are 8 to 40 consecutive words of
Python's bundled help text, predictions noisy copies of them, seeded; one reference each.

Usage::

    python bench/meteor.py [--sizes 1000,10000] [--repeats 5] [--json PATH]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Case, Group, Row, main, run_benchmark
from text_overlap import SEED, corpus

__all__ = ["build", "load_wordnet", "run"]

_loaded: dict[str, Any] = {}


def load_wordnet() -> tuple[Any, float]:
    """evalkit's WordNet reader and the seconds its first load took (nltk import included)."""
    if "reader" not in _loaded:
        start = time.perf_counter()
        from evalkit.assets.wordnet import wordnet

        _loaded["reader"] = wordnet()
        _loaded["seconds"] = time.perf_counter() - start
    return _loaded["reader"], _loaded["seconds"]


def _forget_memos() -> None:
    from evalkit.metrics.text import meteor as meteor_metric

    for aligner in meteor_metric._aligners.values():
        aligner._forms.clear()
        aligner._synonyms.clear()


def build(size: int, *, seed: int = SEED) -> list[Group]:
    """The METEOR groups on a corpus of ``size`` (prediction, reference) pairs."""
    from nltk.tokenize import wordpunct_tokenize
    from nltk.translate.meteor_score import meteor_score

    from evalkit._validate import as_samples
    from evalkit.metrics.text.meteor import METEOR

    reader, load_s = load_wordnet()
    preds, refs = corpus(size, seed)
    nested = [[r] for r in refs]

    def evalkit_meteor() -> float:
        return METEOR().score(as_samples("meteor", preds, nested)).value

    def evalkit_cold() -> float:
        _forget_memos()
        return evalkit_meteor()

    def nltk_loop() -> float:
        scores = [
            meteor_score([wordpunct_tokenize(r)], wordpunct_tokenize(p), wordnet=reader)
            for p, r in zip(preds, refs, strict=True)
        ]
        return sum(scores) / len(scores)

    load_note = (
        f"WordNet loaded once before timing, in {load_s:.2f} s (nltk import and the first "
        "copy into the cache included when they happened in this process)."
    )
    return [
        Group(
            "METEOR",
            Case("evalkit METEOR().score", evalkit_meteor),
            [Case("nltk meteor_score loop", nltk_loop)],
            tolerance=1e-12,
            note=f"nltk defaults (alpha 0.9, beta 3, gamma 0.5), wordpunct tokens. {load_note}",
        ),
        Group(
            "METEOR (cold memos)",
            Case("evalkit METEOR().score", evalkit_cold),
            [Case("nltk meteor_score loop", nltk_loop)],
            tolerance=1e-12,
            note="evalkit's stem and synonym memos are emptied before each evalkit call.",
        ),
    ]


def run(sizes: Sequence[int] = (1000, 10000), repeats: int = 5, *, seed: int = SEED) -> list[Row]:
    """Run the benchmark in-process and return the rows (no printing)."""
    return run_benchmark("meteor", lambda n: build(n, seed=seed), sizes, repeats)


if __name__ == "__main__":
    main(
        "meteor",
        build,
        default_sizes=(1000, 10000),
        default_repeats=5,
        packages=("nltk",),
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
