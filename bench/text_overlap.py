"""Benchmark: evalkit's BLEU, chrF, TER and ROUGE against the libraries people call directly.

Rows (each timed at every ``--sizes`` value, on the same generated corpus, in one process):

- ``BLEU``, ``chrF``, ``TER``: ``evalkit.metrics.bleu/chrf/ter(preds, [[r] for r in refs])``
  against ``sacrebleu.corpus_bleu/corpus_chrf/corpus_ter(preds, [refs])`` and against Hugging
  Face ``evaluate.load("sacrebleu"/"chrf"/"ter").compute(...)`` where that can load offline.
- ``ROUGE``: ``evalkit.metrics.rouge(preds, [[r] for r in refs], rouge_types=[...],
  use_stemmer=True)`` against ``rouge_score.rouge_scorer.RougeScorer(...).score(ref, pred)``
  looped over the pairs plus the mean of precision, recall and F (the usual way), and against
  ``evaluate.load("rouge")`` (``use_aggregator=False`` plus the mean) where it loads.

Every case builds its metric object inside the timed call (as the one-call functions do) and
returns its corpus numbers, which must agree with evalkit's before anything is timed. Only the
function-level score is timed: no bootstrap intervals, no run directory. Each group also times
evalkit's class path, the one the runner takes (``Metric.sample_stats`` on prebuilt ``Sample``
objects, then ``aggregate``), as a peer: its ratio near 1 says both paths cost the same.

evalkit computes the statistics of large inputs in forked worker processes (one per usable
CPU; ``EVALKIT_WORKERS=1`` turns that off), so ratios depend on the free cores of the machine.

Sizes: 1,000 and 10,000 pairs by default; 100,000 is opt-in (``--sizes 100000``; sacrebleu's
TER alone takes minutes there), and ``--groups BLEU,chrF`` restricts the rows.

``evaluate.load`` fetches metric scripts from the Hugging Face Hub, which an offline machine
cannot reach; the benchmark sets ``HF_HUB_OFFLINE=1`` and ``HF_DATASETS_OFFLINE=1`` before
importing ``evaluate``, gives each load a short timeout, and prints a skipped row when it fails.
To include ``evaluate`` anyway, point ``EVALKIT_BENCH_EVALUATE_DIR`` at a folder holding local
copies of the scripts (``DIR/sacrebleu/sacrebleu.py``, ``DIR/chrf/chrf.py``, ``DIR/ter/ter.py``,
``DIR/rouge/rouge.py`` from the ``huggingface/evaluate`` repository's ``metrics/`` folder).

The corpus: references are runs of consecutive words from Python's bundled help text
(``pydoc_data.topics``: prose, code, punctuation, mixed case); predictions are noisy copies
(words dropped, substituted, duplicated, swapped with their neighbour), seeded.

Usage::

    python bench/text_overlap.py [--sizes 1000,10000,100000] [--repeats 5] [--json PATH]
        [--groups BLEU,chrF,TER,ROUGE]
"""

from __future__ import annotations

import os
import random
import sys
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Case, Group, Row, Values, main, run_benchmark

__all__ = ["GROUPS", "ROUGE_TYPES", "SEED", "build", "corpus", "load_evaluate", "run"]

SEED = 20240611
#: The groups (rows) this benchmark times, in order.
GROUPS = ("BLEU", "chrF", "TER", "ROUGE")
#: The ROUGE variants timed (rouge-score's usual set; rougeLsum splits at newlines only).
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
#: Seconds to wait for one ``evaluate.load`` before reporting it skipped.
EVALUATE_TIMEOUT_S = 60.0
SKIP_OFFLINE = "evaluate.load needs the Hub; offline"


@lru_cache(maxsize=1)
def _words() -> tuple[str, ...]:
    from pydoc_data.topics import topics

    text = " ".join(topics[k] for k in sorted(topics))
    # Whitespace-separated tokens; very long ones are code or tables, not words.
    return tuple(w for w in text.split() if len(w) <= 20)


def _sentence(rng: random.Random, words: Sequence[str], lo: int = 8, hi: int = 40) -> str:
    n = rng.randint(lo, hi)
    start = rng.randrange(len(words) - n)
    return " ".join(words[start : start + n])


def _perturb(rng: random.Random, words: Sequence[str], text: str, rate: float = 0.3) -> str:
    """A noisy copy of ``text``: each word is kept or, with probability ``rate``, edited."""
    out: list[str] = []
    for w in text.split():
        r = rng.random() / rate
        if r >= 1.0:
            out.append(w)
        elif r < 0.3:
            continue  # dropped
        elif r < 0.7:
            out.append(rng.choice(words))  # substituted
        elif r < 0.8:
            out += [w, w]  # duplicated
        else:
            out.append(w)
            if len(out) >= 2:  # swapped with the previous word
                out[-1], out[-2] = out[-2], out[-1]
    return " ".join(out)


def corpus(n: int, seed: int = SEED) -> tuple[list[str], list[str]]:
    """``n`` seeded (prediction, reference) pairs, as two lists.

    >>> preds, refs = corpus(3)
    >>> len(preds), len(refs), corpus(3) == (preds, refs)
    (3, 3, True)
    """
    rng = random.Random(seed)
    words = _words()
    refs = [_sentence(rng, words) for _ in range(n)]
    preds = [_perturb(rng, words, r) for r in refs]
    return preds, refs


_evaluate_cache: dict[str, tuple[Any, str | None]] = {}


def load_evaluate(name: str, timeout_s: float = EVALUATE_TIMEOUT_S) -> tuple[Any, str | None]:
    """``evaluate.load(name)`` offline, as ``(module, None)`` or ``(None, why it was skipped)``.

    Loads from ``$EVALKIT_BENCH_EVALUATE_DIR/<name>`` when that variable is set. The load runs
    in a daemon thread so that a stuck download can never hang the benchmark. Results are
    cached per name for the process.
    """
    if name in _evaluate_cache:
        return _evaluate_cache[name]
    # Before evaluate (and huggingface_hub, datasets) read them at import time.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    local = os.environ.get("EVALKIT_BENCH_EVALUATE_DIR")
    target = os.path.join(local, name) if local else name
    box: dict[str, Any] = {}

    def load() -> None:
        try:
            import evaluate

            box["module"] = evaluate.load(target)
        except Exception as exc:  # any failure is reported as a skipped row
            box["error"] = exc

    thread = threading.Thread(target=load, name=f"evaluate.load({name})", daemon=True)
    thread.start()
    thread.join(timeout_s)
    result: tuple[Any, str | None]
    if thread.is_alive():
        result = (None, f"evaluate.load timed out after {timeout_s:g} s; offline")
    elif "module" in box:
        result = (box["module"], None)
    elif isinstance(box.get("error"), ImportError):
        result = (None, f"evaluate not importable: {box['error']}")
    elif local:
        result = (None, f"evaluate.load({target!r}) failed: {type(box['error']).__name__}")
    else:
        result = (None, SKIP_OFFLINE)
    _evaluate_cache[name] = result
    return result


def _evaluate_case(name: str, call: Callable[[Any], Values]) -> Case:
    label = f"evaluate.load({name!r})"
    module, skip = load_evaluate(name)
    if module is None:
        return Case(label, skip=skip)
    return Case(label, lambda: call(module))


def _rouge_means(totals: dict[str, list[float]], n: int) -> dict[str, float]:
    return {k: sum(v) / n for k, v in totals.items()}


def _class_path(name: str, samples: list[Any], *, headline: bool = True, **params: Any) -> Case:
    """evalkit's runner path: the registered class, ``sample_stats`` then ``aggregate``.

    Returns the headline value (as the functional twin's case does), or every value.
    """
    from evalkit.registry import METRICS

    cls = METRICS.get(name)

    def call() -> Values:
        metric = cls.build(params)
        values = metric.aggregate(metric.sample_stats(samples))
        return values[metric.value_names()[0]] if headline else values

    return Case(f"evalkit {cls.__name__} class (runner path)", call)


def build(
    size: int,
    *,
    seed: int = SEED,
    with_evaluate: bool = True,
    groups: Sequence[str] = GROUPS,
) -> list[Group]:
    """The BLEU, chrF, TER and ROUGE groups on a corpus of ``size`` pairs.

    Args:
        size: Number of (prediction, reference) pairs.
        seed: Corpus seed.
        with_evaluate: Also try the Hugging Face ``evaluate`` peers (their import takes a few
            seconds even when the load then fails offline).
        groups: Which of :data:`GROUPS` to build.
    """
    import sacrebleu
    from rouge_score.rouge_scorer import RougeScorer

    from evalkit._validate import as_samples
    from evalkit.metrics import bleu, chrf, rouge, ter

    preds, refs = corpus(size, seed)
    nested = [[r] for r in refs]  # evalkit and evaluate: one reference list per prediction
    samples = as_samples("bench", preds, nested)  # the runner builds Samples before scoring
    streams = [refs]  # sacrebleu: reference streams
    types = list(ROUGE_TYPES)

    def rouge_score_loop() -> dict[str, float]:
        scorer = RougeScorer(types, use_stemmer=True)
        totals: dict[str, list[float]] = {}
        for t in types:
            totals[t], totals[f"{t}_precision"], totals[f"{t}_recall"] = [], [], []
        for pred, ref in zip(preds, refs, strict=True):
            scores = scorer.score(ref, pred)
            for t in types:
                totals[t].append(scores[t].fmeasure)
                totals[f"{t}_precision"].append(scores[t].precision)
                totals[f"{t}_recall"].append(scores[t].recall)
        return _rouge_means(totals, len(preds))

    def evaluate_rouge(module: Any) -> dict[str, float]:
        out = module.compute(
            predictions=preds,
            references=nested,
            rouge_types=types,
            use_stemmer=True,
            use_aggregator=False,  # its aggregator reports a bootstrap median, not the mean
        )
        return {t: float(sum(out[t]) / len(out[t])) for t in types}

    def sacre_compute(**kwargs: Any) -> Callable[[Any], float]:
        return lambda m: float(m.compute(predictions=preds, references=nested, **kwargs)["score"])

    groups_all = [
        Group(
            "BLEU",
            Case("evalkit.metrics.bleu", lambda: bleu(preds, nested).value),
            [
                Case("sacrebleu.corpus_bleu", lambda: sacrebleu.corpus_bleu(preds, streams).score),
                *([_evaluate_case("sacrebleu", sacre_compute())] if with_evaluate else []),
                _class_path("bleu", samples),
            ],
            note="sacrebleu defaults (13a tokenizer, exp smoothing), one reference each.",
        ),
        Group(
            "chrF",
            Case("evalkit.metrics.chrf", lambda: chrf(preds, nested).value),
            [
                Case("sacrebleu.corpus_chrf", lambda: sacrebleu.corpus_chrf(preds, streams).score),
                *([_evaluate_case("chrf", sacre_compute())] if with_evaluate else []),
                _class_path("chrf", samples),
            ],
            note="chrF2 (char order 6, no word n-grams), sacrebleu defaults.",
        ),
        Group(
            "TER",
            Case("evalkit.metrics.ter", lambda: ter(preds, nested).value),
            [
                Case("sacrebleu.corpus_ter", lambda: sacrebleu.corpus_ter(preds, streams).score),
                *([_evaluate_case("ter", sacre_compute())] if with_evaluate else []),
                _class_path("ter", samples),
            ],
            note="sacrebleu defaults (case-insensitive, no normalisation).",
        ),
        Group(
            "ROUGE",
            Case(
                "evalkit.metrics.rouge",
                lambda: dict(rouge(preds, nested, rouge_types=types, use_stemmer=True).details),
            ),
            [
                Case("rouge_score loop + mean", rouge_score_loop),
                *([_evaluate_case("rouge", evaluate_rouge)] if with_evaluate else []),
                _class_path("rouge", samples, headline=False, rouge_types=types, use_stemmer=True),
            ],
            note=(
                f"{', '.join(types)} with the Porter stemmer; parity over P, R and F of each "
                "type (evaluate: F only)."
            ),
        ),
    ]
    return [g for g in groups_all if g.name in groups]


def run(
    sizes: Sequence[int] = (1000, 10000),
    repeats: int = 5,
    *,
    seed: int = SEED,
    with_evaluate: bool = True,
    groups: Sequence[str] = GROUPS,
) -> list[Row]:
    """Run the benchmark in-process and return the rows (no printing)."""
    return run_benchmark(
        "text_overlap",
        lambda n: build(n, seed=seed, with_evaluate=with_evaluate, groups=groups),
        sizes,
        repeats,
    )


def _pop_groups(argv: list[str]) -> tuple[list[str], tuple[str, ...]]:
    """Take ``--groups A,B`` (or ``--groups=A,B``) out of ``argv``; the harness parses the rest.

    >>> _pop_groups(["--sizes", "10", "--groups", "BLEU,TER"])
    (['--sizes', '10'], ('BLEU', 'TER'))
    """
    rest: list[str] = []
    chosen: tuple[str, ...] = GROUPS
    it = iter(argv)
    for arg in it:
        if arg == "--groups" or arg.startswith("--groups="):
            value = arg.partition("=")[2] if "=" in arg else next(it, "")
            chosen = tuple(g.strip() for g in value.split(",") if g.strip())
            unknown = sorted(set(chosen) - set(GROUPS))
            if unknown or not chosen:
                raise SystemExit(f"--groups {value!r}: choose from {', '.join(GROUPS)}.")
        else:
            rest.append(arg)
    return rest, chosen


if __name__ == "__main__":
    _argv, _groups = _pop_groups(sys.argv[1:])
    main(
        "text_overlap",
        lambda n: build(n, groups=_groups),
        default_sizes=(1000, 10000),
        default_repeats=5,
        packages=("sacrebleu", "rouge-score", "nltk", "evaluate", "numpy"),
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        argv=_argv,
    )
