"""Benchmark: evalkit's ranking metrics against pytrec_eval and ranx, on the same dicts.

One row, ``nDCG@10+MRR+R@100+MAP``: nDCG@10, MRR, Recall@100 and MAP of a run of ``size``
queries x 100 ranked documents against qrels of 1-5 graded documents per query (grades 1-3,
about two thirds of them retrieved), all four measures in one call, from the same in-memory
``{query: {doc: score}}`` and ``{query: {doc: grade}}`` dicts:

- ``evalkit``: ``evalkit.metrics.retrieval.ranking.evaluate(qrels, run, measures)`` (checks the
  inputs, then vectorised NumPy over a padded score matrix; see
  ``evalkit/metrics/retrieval/_engine.py``);
- ``pytrec_eval``: ``RelevanceEvaluator(qrels, measures).evaluate(run)`` plus the mean of each
  measure: trec_eval's C code, including pytrec_eval's conversion of the dicts;
- ``ranx (with Qrels/Run)``: ``evaluate(Qrels(qrels), Run(run), measures)``, building ranx's
  numba-typed objects inside the timed call, as a user with plain dicts does;
- ``ranx (objects prebuilt)``: only ``evaluate`` on objects built beforehand (untimed);
- ``evalkit metric classes (runner path)``: the four registered metrics over ``Sample`` objects
  (``sample_stats`` then ``aggregate``), the path a suite run takes (rankings as lists of
  ``[doc, score]`` pairs, checked per query); informative, not a peer.

ranx compiles its functions with numba on first use (about a minute on an empty numba cache; the
cache lives in ranx's ``__pycache__`` afterwards); the harness's untimed warm-up call absorbs it,
so the ranx rows are measured warm. ranx runs its metrics in numba threads on every core (here
2); evalkit and pytrec_eval use one. Every row's numbers must agree with evalkit's to 1e-9 before
anything is timed: the run has no tied scores, where ranx orders documents differently (see
``docs/retrieval.md``).

torchmetrics' ``RetrievalNormalizedDCG`` and friends are not timed: they see only the retrieved
documents (no qrels of unretrieved ones), so Recall@100 and nDCG differ, and the harness refuses
to time different numbers.

Usage::

    python bench/retrieval.py [--sizes 1000,10000] [--repeats 5] [--json PATH]
"""

from __future__ import annotations

import random
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Case, Group, Row, main, run_benchmark

__all__ = ["DEPTH", "MEASURES", "build", "data", "run"]

SEED = 20240611
DEPTH = 100
#: evalkit name -> (pytrec_eval measure, ranx name).
MEASURES = {
    "ndcg@10": ("ndcg_cut_10", "ndcg@10"),
    "mrr": ("recip_rank", "mrr"),
    "recall@100": ("recall_100", "recall@100"),
    "map": ("map", "map"),
}
_PYTREC = {"ndcg_cut.10", "recip_rank", "recall.100", "map"}

Qrels = dict[str, dict[str, int]]
RunDict = dict[str, dict[str, float]]


def data(n_queries: int, depth: int = DEPTH, seed: int = SEED) -> tuple[Qrels, RunDict]:
    """Seeded qrels (1-5 graded documents per query) and a run of ``depth`` documents each.

    >>> qrels, run = data(3)
    >>> len(qrels), len(run), {len(r) for r in run.values()}, data(3) == (qrels, run)
    (3, 3, {100}, True)
    """
    rng = random.Random(seed)
    qrels: Qrels = {}
    run: RunDict = {}
    for i in range(n_queries):
        q = f"q{i}"
        docs = [f"d{j}" for j in rng.sample(range(1_000_000), depth)]
        run[q] = {d: rng.random() for d in docs}
        judged: dict[str, int] = {}
        for _ in range(rng.randint(1, 5)):
            doc = rng.choice(docs) if rng.random() < 2 / 3 else f"u{rng.randrange(1_000_000)}"
            judged[doc] = rng.randint(1, 3)
        qrels[q] = judged
    return qrels, run


def _evalkit(qrels: Qrels, run: RunDict) -> Callable[[], dict[str, float]]:
    from evalkit.metrics.retrieval.ranking import evaluate

    def fn() -> dict[str, float]:
        return evaluate(qrels, run, list(MEASURES))

    return fn


def _evalkit_classes(qrels: Qrels, run: RunDict) -> Callable[[], dict[str, float]]:
    from evalkit.metrics.retrieval.ranking import FAMILIES
    from evalkit.types import Sample

    samples = [
        Sample(id=q, inputs={"qrels": qrels[q]}, outputs={"ranking": [list(t) for t in r.items()]})
        for q, r in run.items()
    ]
    metrics = [
        FAMILIES["ndcg"](k=10),
        FAMILIES["mrr"](),
        FAMILIES["recall"](k=100),
        FAMILIES["map"](),
    ]

    def fn() -> dict[str, float]:
        out: dict[str, float] = {}
        for m in metrics:
            out.update(m.aggregate(m.sample_stats(samples)))
        return out

    return fn


def _pytrec(qrels: Qrels, run: RunDict) -> Case:
    try:
        import pytrec_eval
    except ImportError as exc:
        return Case("pytrec_eval", skip=f"pytrec_eval not installed ({exc})")

    def fn() -> dict[str, float]:
        result = pytrec_eval.RelevanceEvaluator(qrels, _PYTREC).evaluate(run)
        n = len(result)
        return {
            ours: sum(v[theirs] for v in result.values()) / n
            for ours, (theirs, _) in MEASURES.items()
        }

    return Case("pytrec_eval", fn)


def _ranx(qrels: Qrels, run: RunDict) -> list[Case]:
    try:
        import ranx
    except ImportError as exc:
        reason = f"ranx not installed ({exc})"
        return [Case("ranx (with Qrels/Run)", skip=reason), Case("ranx (prebuilt)", skip=reason)]
    names = [ranx_name for _, ranx_name in MEASURES.values()]

    def values(result: dict[str, Any]) -> dict[str, float]:
        return {ours: float(result[r]) for ours, (_, r) in MEASURES.items()}

    def with_objects() -> dict[str, float]:
        return values(ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), names))

    prebuilt_qrels, prebuilt_run = ranx.Qrels(qrels), ranx.Run(run)

    def prebuilt() -> dict[str, float]:
        return values(ranx.evaluate(prebuilt_qrels, prebuilt_run, names, save_results_in_run=False))

    return [
        Case("ranx (with Qrels/Run)", with_objects),
        Case("ranx (objects prebuilt)", prebuilt),
    ]


def build(size: int, *, with_ranx: bool = True) -> list[Group]:
    """The benchmark's one row for ``size`` queries (data made here, untimed)."""
    warnings.filterwarnings("ignore", category=Warning, module="numba")
    qrels, run = data(size)
    peers = [_pytrec(qrels, run)]
    if with_ranx:
        peers += _ranx(qrels, run)
    peers.append(Case("evalkit metric classes (runner path)", _evalkit_classes(qrels, run)))
    return [
        Group(
            "nDCG@10+MRR+R@100+MAP",
            Case("evalkit", _evalkit(qrels, run)),
            peers,
            tolerance=1e-9,
            note=(
                f"{size} queries x {DEPTH} documents, 1-5 graded judgments per query; all four "
                "measures per call; ranx warm (JIT compiled in the untimed warm-up call)."
            ),
        )
    ]


def run(sizes: Sequence[int], repeats: int, *, with_ranx: bool = True) -> list[Row]:
    """Run in-process (for tests): the rows for each size."""
    return run_benchmark("retrieval", lambda n: build(n, with_ranx=with_ranx), sizes, repeats)


if __name__ == "__main__":
    main(
        "retrieval",
        build,
        default_sizes=(1000, 10000),
        default_repeats=5,
        packages=["numpy", "pytrec-eval-terrier", "ranx", "numba"],
        description=__doc__.split("\n\n")[0],
    )
