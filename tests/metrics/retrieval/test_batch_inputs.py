"""The ranking metrics of a task share one preparation per batch; checked rankings from
``trec_run:`` and ``top_ranking`` give the numbers and errors that plain lists give."""

from __future__ import annotations

import pickle
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from evalkit.adapters.trec_run import TrecRunAdapter
from evalkit.data.retrieval import CheckedRanking, top_ranking
from evalkit.errors import InputError
from evalkit.metrics.retrieval import _inputs
from evalkit.metrics.retrieval.ranking import FAMILIES
from evalkit.types import GenerateRequest, Sample


def _metrics() -> list:
    return [
        FAMILIES["ndcg"](k=[5, 10]),
        FAMILIES["mrr"](),
        FAMILIES["recall"](k=20),
        FAMILIES["map"](missing="skip"),
    ]


def _queries(
    n: int, seed: int = 3
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    rng = random.Random(seed)
    qrels, run = {}, {}
    for i in range(n):
        docs = [f"d{rng.randrange(60)}" for _ in range(30)]
        # Scores on a coarse grid, so that many documents share their score.
        run[f"q{i}"] = {d: rng.randrange(8) / 4 for d in docs}
        qrels[f"q{i}"] = {rng.choice(docs): rng.randint(0, 3) for _ in range(4)}
    return qrels, run


def _plain(qrels, run, missing=()):
    return [
        Sample(
            id=q,
            inputs={"qrels": qrels[q]},
            outputs={"ranking": [], "missing": True}
            if q in missing
            else {"ranking": [[d, s] for d, s in run[q].items()]},
        )
        for q in qrels
    ]


def _scores(metrics, batch) -> tuple[list, list]:
    stats = [m.sample_stats(batch) for m in metrics]
    notes = [m.sample_warnings(batch) for m in metrics]
    return stats, notes


def test_trec_run_samples_score_as_plain_lists(tmp_path: Path) -> None:
    qrels, run = _queries(80)
    path = tmp_path / "sys.run"
    path.write_text(
        "".join(
            f"{q} Q0 {d} 1 {s} sys\n" for q, r in run.items() if q != "q7" for d, s in r.items()
        )
    )
    adapter = TrecRunAdapter(str(path), depth=25)
    gens = adapter.retrieve([GenerateRequest("", sample_id=q, kind="retrieve") for q in qrels])
    served = [
        Sample(id=q, inputs={"qrels": qrels[q]}, outputs=g.outputs)
        for q, g in zip(qrels, gens, strict=True)
    ]
    assert type(served[0].outputs["ranking"]) is CheckedRanking
    plain = [
        Sample(
            id=s.id,
            inputs=s.inputs,
            outputs={k: list(v) if k == "ranking" else v for k, v in s.outputs.items()},
        )
        for s in served
    ]
    assert type(plain[0].outputs["ranking"]) is list
    got, want = _scores(_metrics(), served), _scores(_metrics(), plain)
    assert got == want
    assert any(w is not None for w in got[1][0]) and got[0][3][7][-1] == 0.0  # q7: skipped


def test_tie_notes_count_what_counter_counts() -> None:
    qrels, run = _queries(50)
    batch = _plain(qrels, run, missing={"q3"})
    notes = FAMILIES["mrr"]().sample_warnings(batch)
    for s, note in zip(batch, notes, strict=True):
        scores = [e[1] for e in s.outputs["ranking"]]
        tied = sum(c for c in Counter(scores).values() if c > 1)
        assert note == (
            f"{tied} documents share their score with another; equal scores are "
            "ordered by doc id, descending (trec_eval's rule)"
            if tied
            else None
        )


def test_one_preparation_per_batch_and_a_new_round_prepares_again(monkeypatch) -> None:
    qrels, run = _queries(20)
    batch = _plain(qrels, run)
    calls: list[int] = []
    real = getattr(_inputs, "prepare")  # noqa: B009 - imported there, not re-exported

    def counting(*args: object) -> object:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(_inputs, "prepare", counting)
    metrics = _metrics()
    first = _scores(metrics, batch)
    assert len(calls) == 1
    # The same list scored again after a change: a new round, prepared again.
    batch[0].outputs["ranking"][0] = ["zzz", 99.0]
    again = _scores(metrics, batch)
    assert len(calls) == 2 and again != first
    assert again == _scores(_metrics(), list(batch))  # a new batch object: prepared again
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("ranking", "message"),
    [
        ([["a", 1.0], ["a", 0.5]], "document 'a' occurs twice"),
        ([["a", True]], "score of document 'a' must be a number"),
        ([["a", float("nan")]], "score of document 'a' is nan"),
        ([[3, 1.0]], "document ids must be non-empty strings"),
        ("a ranking", "must be a list of \\[doc_id, score\\] pairs"),
    ],
)
def test_bad_rankings_are_named_per_sample(ranking, message) -> None:
    good = Sample(id="ok", inputs={"qrels": {"a": 1}}, outputs={"ranking": [["a", 1.0]]})
    bad = Sample(id="bad", inputs={"qrels": {"a": 1}}, outputs={"ranking": ranking})
    with pytest.raises(InputError, match=f"ndcg: sample 'bad': .*{message}"):
        FAMILIES["ndcg"]().sample_stats([good, bad])


def test_bad_judgments_are_named_per_sample() -> None:
    bad = Sample(id="b", inputs={"qrels": {"a": 1.5}}, outputs={"ranking": [["a", 1.0]]})
    with pytest.raises(InputError, match="mrr: sample 'b': relevance of document 'a'"):
        FAMILIES["mrr"]().sample_stats([bad])
    bad = Sample(id="b", inputs={"qrels": {"a": True}}, outputs={"ranking": [["a", 1.0]]})
    with pytest.raises(InputError, match="must be an integer grade"):
        FAMILIES["mrr"]().sample_stats([bad])


def test_checked_rankings_are_lists_that_pickle_and_refuse_changes() -> None:
    r = top_ranking(["a", "b", "c"], np.array([0.1, 0.9, 0.5]), 2)
    assert type(r) is CheckedRanking and r == [["b", 0.9], ["c", 0.5]]
    assert r.scores == {"b": 0.9, "c": 0.5}
    back = pickle.loads(pickle.dumps(r))
    assert type(back) is CheckedRanking and back == r and back.scores == r.scores
    with pytest.raises(TypeError, match="read-only"):
        r[0] = ["x", 1.0]
    assert type(top_ranking(["a"], np.array([np.nan]), 1)) is list  # not finite: checked later
