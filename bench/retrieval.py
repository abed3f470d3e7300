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
  (``sample_stats``, ``sample_warnings`` then ``aggregate``, on a fresh batch per call as the
  runner makes one per batch), with rankings as plain lists of ``[doc, score]`` pairs (what a
  record or a cached response holds; checked per batch); informative, not a peer;
- ``evalkit metric classes (trec_run samples)``: the same, on the samples that the ``trec_run:``
  adapter serves from a run file of the same run (its rankings come checked, see
  ``CheckedRanking``): the path of ``evalkit run --model trec_run:PATH``.

A second row, ``through the runner``, times a whole ``run_suite`` (the CLI's ``evalkit run``
in process): a suite task with ``dataset: {path: queries.jsonl, qrels_file: qrels.trec}`` and
the four metrics, over ``--model trec_run:run.trec`` (the files are written untimed; the run
reads them, serves and scores every query, bootstraps 1000 resamples, writes the record and
the reports). Its peers are ``pytrec_eval`` (``RelevanceEvaluator`` built + ``evaluate`` on the
in-memory dicts, as in the first row) and the ``trec_run`` metric classes, so the ratios of
that row read as "pytrec_eval time / whole-run time".

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

import atexit
import json
import random
import shutil
import sys
import tempfile
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
    from evalkit.types import Sample

    samples = [
        Sample(id=q, inputs={"qrels": qrels[q]}, outputs={"ranking": [list(t) for t in r.items()]})
        for q, r in run.items()
    ]
    return _score_classes(samples)


def _trec_files(qrels: Qrels, run: RunDict, folder: Path) -> Path:
    """Write the run, qrels, queries and a suite into ``folder``; return the suite's path."""
    with open(folder / "run.trec", "w", encoding="utf-8") as fh:
        for q, ranking in run.items():
            for i, (d, score) in enumerate(ranking.items(), start=1):
                fh.write(f"{q} Q0 {d} {i} {score!r} bench\n")
    with open(folder / "qrels.trec", "w", encoding="utf-8") as fh:
        fh.writelines(f"{q} 0 {d} {g}\n" for q, judged in qrels.items() for d, g in judged.items())
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"id": q, "query": q}) + "\n" for q in qrels)
    suite = folder / "suite.yaml"
    suite.write_text(
        "name: bench-retrieval\ntasks:\n  - name: ranking\n"
        "    dataset: {path: queries.jsonl, qrels_file: qrels.trec}\n"
        '    prompt: "{query}"\n'
        "    metrics: [{ndcg: {k: [10]}}, mrr, {recall: {k: [100]}}, map]\n",
        encoding="utf-8",
    )
    return suite


def _trec_run_classes(qrels: Qrels, folder: Path) -> Callable[[], dict[str, float]]:
    from evalkit.adapters.trec_run import TrecRunAdapter
    from evalkit.types import GenerateRequest, Sample

    adapter = TrecRunAdapter(str(folder / "run.trec"))
    gens = adapter.retrieve([GenerateRequest("", sample_id=q, kind="retrieve") for q in qrels])
    samples = [
        Sample(id=q, inputs={"qrels": qrels[q]}, outputs=g.outputs)
        for q, g in zip(qrels, gens, strict=True)
    ]
    return _score_classes(samples)


def _score_classes(samples: list[Any]) -> Callable[[], dict[str, float]]:
    from evalkit.metrics.retrieval.ranking import FAMILIES

    metrics = [
        FAMILIES["ndcg"](k=10),
        FAMILIES["mrr"](),
        FAMILIES["recall"](k=100),
        FAMILIES["map"](),
    ]

    def fn() -> dict[str, float]:
        out: dict[str, float] = {}
        batch = list(samples)  # a fresh batch per call, as the runner makes one per batch
        for m in metrics:
            out.update(m.aggregate(m.sample_stats(batch)))
            m.sample_warnings(batch)
        return out

    return fn


def _run_suite(suite: Path, folder: Path) -> Callable[[], dict[str, float]]:
    from evalkit.runner import run_suite

    def fn() -> dict[str, float]:
        out = folder / "record"
        shutil.rmtree(out, ignore_errors=True)
        outcome = run_suite(suite, f"trec_run:{folder / 'run.trec'}", out, use_cache=False)
        return {r["metric"]: float(r["value"]) for r in outcome.results}

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
    """The benchmark's rows for ``size`` queries (data and files made here, untimed)."""
    warnings.filterwarnings("ignore", category=Warning, module="numba")
    qrels, run = data(size)
    folder = Path(tempfile.mkdtemp(prefix="evalkit-bench-retrieval-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    suite = _trec_files(qrels, run, folder)
    peers = [_pytrec(qrels, run)]
    if with_ranx:
        peers += _ranx(qrels, run)
    classes = Case("evalkit metric classes (runner path)", _evalkit_classes(qrels, run))
    trec_classes = Case(
        "evalkit metric classes (trec_run samples)", _trec_run_classes(qrels, folder)
    )
    peers += [classes, trec_classes]
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
        ),
        Group(
            "through the runner",
            Case("evalkit run_suite (trec_run file)", _run_suite(suite, folder)),
            [_pytrec(qrels, run), trec_classes],
            tolerance=1e-9,
            note=(
                "a whole run_suite over a TREC run file and a qrels file (read, serve, score, "
                "bootstrap 1000 resamples, record, reports); ratio = peer time / run_suite time."
            ),
        ),
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
