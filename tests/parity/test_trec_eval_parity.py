"""evalkit's ranking metrics equal trec_eval's, as pytrec_eval computes them, on every measure.

Covered: graded relevance (negative, zero and positive grades) at relevance levels 1 and 2;
ties in scores (integer scores), including ties across the cut; queries missing from the run
(``missing: zero`` is trec_eval ``-c``, ``missing: skip`` its default); empty rankings;
queries without relevant documents; unjudged documents; cutoffs below, at and beyond the run
depth; TREC files read by both tools. Measures with no trec_eval counterpart are compared
through an equivalent input: ``mrr@k`` as ``recip_rank`` of the run cut at ``k`` (in trec_eval's
order), the exponential nDCG gain as ``ndcg`` over qrels whose grades are ``2**g - 1``, and
``hit_rate`` without a cutoff as ``success`` at a cutoff beyond the depth.

ranx (0.3.21) is not imported here: its numba JIT takes about a minute on an empty cache. Its
differences are documented in ``docs/retrieval.md`` and measured by ``bench/retrieval.py``.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytrec_eval = pytest.importorskip("pytrec_eval")

from evalkit.data.retrieval import Qrels, Run  # noqa: E402
from evalkit.metrics.retrieval.ranking import (  # noqa: E402
    FAMILIES,
    TieWarning,
    evaluate,
    evaluate_per_query,
)
from evalkit.types import Sample  # noqa: E402

CUTOFFS = (1, 3, 5, 10, 20, 100)  # the synthetic runs are at most 30 deep
#: evalkit measure -> pytrec_eval measure, for each cutoff (None: the whole ranking).
DIRECT: dict[str, dict[int | None, str]] = {
    "precision": {**{k: f"P_{k}" for k in CUTOFFS}, None: "set_P"},
    "recall": {**{k: f"recall_{k}" for k in CUTOFFS}, None: "set_recall"},
    "hit_rate": {**{k: f"success_{k}" for k in CUTOFFS}, None: "success_1000"},
    "ndcg": {**{k: f"ndcg_cut_{k}" for k in CUTOFFS}, None: "ndcg"},
    "map": {**{k: f"map_cut_{k}" for k in CUTOFFS}, None: "map"},
    "mrr": {None: "recip_rank"},
    "r_precision": {None: "Rprec"},
}


def _measure_set(cutoffs: tuple[int, ...] = CUTOFFS) -> set[str]:
    ks = ",".join(map(str, cutoffs))
    return {
        f"P.{ks}",
        "set_P",
        f"recall.{ks}",
        "set_recall",
        f"success.{ks},1000",
        "ndcg",
        f"ndcg_cut.{ks}",
        "map",
        f"map_cut.{ks}",
        "recip_rank",
        "Rprec",
        "num_rel",
    }


def synthetic(
    seed: int, n_queries: int = 120
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    """Graded qrels and a run with ties, missing queries, empty rankings and unjudged docs."""
    rng = random.Random(seed)
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for i in range(n_queries):
        q = f"q{i:03d}"
        pool = [f"d{j:02d}" for j in range(40)] + ["D7", "d7a", "x"]  # mixed-case ids for ties
        judged = rng.sample(pool, rng.randint(1, 8))
        kind = rng.random()
        if kind < 0.08:  # nothing relevant at any level
            qrels[q] = {d: rng.choice([0, -1]) for d in judged}
        else:
            qrels[q] = {d: rng.choice([-1, 0, 1, 1, 2, 3]) for d in judged}
        if max(qrels[q].values()) < 0:  # pytrec_eval can hang on these (see the test below)
            qrels[q][judged[0]] = 0
        roll = rng.random()
        if roll < 0.1:
            continue  # missing from the run
        if roll < 0.15:
            run[q] = {}  # an empty ranking
            continue
        docs = rng.sample(pool, rng.randint(1, 30))
        if rng.random() < 0.5:  # coarse integer scores: many ties
            run[q] = {d: float(rng.randint(0, 4)) for d in docs}
        else:
            run[q] = {d: round(rng.uniform(-2, 2), 3) for d in docs}
    return qrels, run


def _pytrec(
    qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]], level: int = 1
) -> dict[str, dict[str, float]]:
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, _measure_set(), relevance_level=level)
    result: dict[str, dict[str, float]] = evaluator.evaluate(run)
    return result


def _truncated(run: dict[str, dict[str, float]], k: int) -> dict[str, dict[str, float]]:
    """The run cut at rank k in trec_eval's order (score desc, doc id desc)."""
    r = Run(run)
    return {q: dict(r.ranking(q)[:k]) for q in r}


def _exponential(qrels: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {q: {d: (2**g - 1 if g > 0 else g) for d, g in v.items()} for q, v in qrels.items()}


def _names() -> Iterator[tuple[str, str, int | None]]:
    for measure, table in DIRECT.items():
        for k, theirs in table.items():
            yield (measure if k is None else f"{measure}@{k}"), theirs, k


@pytest.fixture(autouse=True)
def _quiet_ties() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TieWarning)
        yield


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("level", [1, 2])
def test_every_measure_per_query(seed: int, level: int) -> None:
    qrels, run = synthetic(seed)
    theirs = _pytrec(qrels, run, level)
    names = [n for n, _, _ in _names()]
    ids, ours, _ = evaluate_per_query(qrels, run, names, relevance_level=level)
    assert set(theirs) == {q for q in qrels if q in run}  # pytrec_eval skips missing queries
    for name, measure, _ in _names():
        for i, q in enumerate(ids):
            want = theirs[q][measure] if q in theirs else 0.0
            assert ours[name][i] == pytest.approx(want, abs=1e-12), (name, q)


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("k", [1, 3, 10])
def test_mrr_at_k_is_recip_rank_of_the_cut_run(seed: int, k: int) -> None:
    qrels, run = synthetic(seed)
    theirs = _pytrec(qrels, _truncated(run, k))
    ids, ours, _ = evaluate_per_query(qrels, run, [f"mrr@{k}"])
    for i, q in enumerate(ids):
        assert ours[f"mrr@{k}"][i] == pytest.approx(theirs.get(q, {}).get("recip_rank", 0.0))


@pytest.mark.parametrize("seed", [0, 4])
def test_exponential_gain_is_ndcg_over_exponential_grades(seed: int) -> None:
    qrels, run = synthetic(seed)
    theirs = _pytrec(_exponential(qrels), run)
    names = ["ndcg", *(f"ndcg@{k}" for k in CUTOFFS)]
    ids, ours, _ = evaluate_per_query(qrels, run, names, gain="exponential")
    for name in names:
        measure = "ndcg" if name == "ndcg" else f"ndcg_cut_{name.split('@')[1]}"
        for i, q in enumerate(ids):
            want = theirs[q][measure] if q in theirs else 0.0
            assert ours[name][i] == pytest.approx(want, abs=1e-12), (name, q)


@pytest.mark.parametrize("seed", [0, 5])
def test_means_under_each_missing_and_no_relevant_policy(seed: int) -> None:
    qrels, run = synthetic(seed)
    theirs = _pytrec(qrels, run)
    names = [n for n, _, _ in _names()]
    for missing in ("zero", "skip"):
        for no_relevant in ("zero", "skip"):
            ours = evaluate(qrels, run, names, missing=missing, no_relevant=no_relevant)
            for name, measure, _ in _names():
                values = []
                for q, grades in qrels.items():
                    if missing == "skip" and q not in run:
                        continue
                    if no_relevant == "skip":
                        positive = any(g > 0 for g in grades.values())
                        relevant = any(g >= 1 for g in grades.values())
                        if not (positive if name.startswith("ndcg") else relevant):
                            continue
                    values.append(theirs[q][measure] if q in theirs else 0.0)
                assert ours[name] == pytest.approx(float(np.mean(values)), abs=1e-12), (
                    name,
                    missing,
                    no_relevant,
                )
    # missing: skip is trec_eval without -c: pytrec_eval's own average.
    skip = evaluate(qrels, run, ["map", "ndcg@10"], missing="skip")
    assert skip["map"] == pytest.approx(np.mean([v["map"] for v in theirs.values()]), abs=1e-12)


def test_trec_files_read_by_both_tools_agree(tmp_path: Path) -> None:
    qrels, run = synthetic(6)
    qrels_file, run_file = tmp_path / "qrels.txt", tmp_path / "run.txt"
    qrels_file.write_text(
        "".join(f"{q} 0 {d} {g}\n" for q, v in qrels.items() for d, g in v.items())
    )
    lines = []
    for q, ranking in run.items():
        for rank, (d, s) in enumerate(sorted(ranking.items(), key=lambda t: -t[1]), start=1):
            lines.append(f"{q} Q0 {d} {rank} {s!r} tag\n")
    run_file.write_text("".join(lines))
    with open(qrels_file) as fq, open(run_file) as fr:
        their_qrels, their_run = pytrec_eval.parse_qrel(fq), pytrec_eval.parse_run(fr)
    theirs = pytrec_eval.RelevanceEvaluator(their_qrels, _measure_set()).evaluate(their_run)
    names = [n for n, _, _ in _names()]
    ids, ours, _ = evaluate_per_query(Qrels.load(qrels_file), Run.load(run_file), names)
    for name, measure, _ in _names():
        for i, q in enumerate(ids):
            want = theirs[q][measure] if q in theirs else 0.0
            assert ours[name][i] == pytest.approx(want, abs=1e-12), (name, q)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_metric_classes_over_samples_equal_pytrec_eval(family: str) -> None:
    """The path the runner takes (Samples -> sample_stats -> aggregate) gives the same means."""
    qrels, run = synthetic(7)
    theirs = _pytrec(qrels, run, level=2)
    params: dict[str, Any] = {} if family == "ndcg" else {"relevance_level": 2}
    if family != "r_precision":
        params["k"] = [None] if family == "mrr" else [3, 10, None]
    metric = FAMILIES[family].build(params)
    samples = [
        Sample(
            id=q,
            inputs={"qrels": grades},
            outputs={"ranking": [[d, s] for d, s in run[q].items()]}
            if q in run
            else {"ranking": [], "missing": True},
        )
        for q, grades in qrels.items()
    ]
    values = metric.aggregate(metric.sample_stats(samples))
    for name in metric.value_names():
        measure, _, k = name.partition("@")
        theirs_name = DIRECT[measure][int(k) if k else None]
        want = np.mean([theirs[q][theirs_name] if q in theirs else 0.0 for q in qrels])
        assert values[name] == pytest.approx(float(want), abs=1e-12), name


_DOC = st.sampled_from(["a", "b", "B", "c", "aa", "d", "é"])


def test_queries_whose_every_grade_is_negative_score_zero() -> None:
    """pytrec-eval-terrier 0.5.11 can loop forever on such a query (depending on what it
    evaluated before: trec_eval's relevance-level bookkeeping assumes a grade >= 0), so the
    comparisons above keep a grade >= 0 in every query; here evalkit alone: nothing is
    relevant and no gain is positive, so every measure is 0 (trec_eval's value for a query
    without relevant documents)."""
    names = [n for n, _, _ in _names()]
    _, ours, _ = evaluate_per_query({"q": {"a": -1, "b": -2}}, {"q": {"a": 1.0, "c": 0.5}}, names)
    assert all(v.tolist() == [0.0] for v in ours.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    grades=st.dictionaries(_DOC, st.integers(-1, 3), min_size=1, max_size=6).filter(
        lambda g: max(g.values()) >= 0  # see the test above
    ),
    ranking=st.dictionaries(_DOC, st.integers(0, 2).map(float), max_size=7),
    level=st.integers(1, 3),
)
def test_small_cases_with_many_ties(
    grades: dict[str, int], ranking: dict[str, float], level: int
) -> None:
    qrels, run = {"q": grades}, {"q": ranking}
    theirs = pytrec_eval.RelevanceEvaluator(qrels, _measure_set((1, 2, 5)), relevance_level=level)
    result = theirs.evaluate(run)["q"]
    names = [
        (n, m)
        for n, m, k in _names()
        if k in (None, 1, 2, 5) and not (n.startswith("mrr@") or n.startswith("r_precision@"))
    ]
    _, ours, _ = evaluate_per_query(qrels, run, [n for n, _ in names], relevance_level=level)
    for name, measure in names:
        assert ours[name][0] == pytest.approx(result[measure], abs=1e-12), name
