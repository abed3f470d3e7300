"""Degenerate input to the text-overlap metrics: the documented policies, never a crash.

Policies (also in each metric's docstring):

- empty, whitespace-only and punctuation-only predictions are scored, as the reference library
  scores them (BLEU/chrF 0 unless punctuation matches, TER counts every reference word as an
  edit, ROUGE 0); whitespace-only is exactly the empty prediction;
- a sample whose references are all empty or whitespace is an InputError in the functional
  twins and the metric classes, as in ``evalkit run``'s loader; an empty reference next to a
  non-empty one is scored as the reference library scores it;
- BLEU of single-word sentences is 0 without ``effective_order`` (no 2-, 3- or 4-grams) and
  100 for a match with it;
- the worker pool falls back to serial computation when it cannot run, and gives the same
  statistics either way.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sacrebleu
from rouge_score.rouge_scorer import RougeScorer

import evalkit.metrics
from evalkit._validate import as_samples
from evalkit.errors import InputError
from evalkit.metrics import _parallel, bleu, chrf, rouge, ter
from evalkit.metrics.text.rouge import ROUGE
from evalkit.registry import METRICS
from evalkit.runner import run_suite
from evalkit.store import RESULTS, SAMPLES
from tests.conftest import write_jsonl

TOL = 1e-9
NAMES = ["bleu", "chrf", "ter", "rouge"]
SACRE: dict[str, Any] = {
    "bleu": sacrebleu.corpus_bleu,
    "chrf": sacrebleu.corpus_chrf,
    "ter": sacrebleu.corpus_ter,
}

# (prediction, references): each a degenerate case, next to ordinary ones in the corpus below.
DEGENERATE: dict[str, tuple[str, list[str]]] = {
    "empty": ("", ["The cat sat on the mat."]),
    "whitespace": (" \t\n  ", ["The cat sat on the mat."]),
    "punctuation": ("?!... ,;: --", ["Really? Yes!"]),
    "single_word": ("cat", ["cat"]),
    "single_word_miss": ("dog", ["cat"]),
    "empty_among_refs": ("the cat", ["", "the cat sat"]),
    "newlines_only": ("\n\n", ["a\nb"]),
}
ORDINARY: list[tuple[str, list[str]]] = [
    ("the quick brown fox jumps over the lazy dog", ["the quick brown fox jumped over a dog"]),
    ("a b c d e f", ["a b c d e f"]),
]


def _reference_value(name: str, preds: list[str], refs: list[list[str]]) -> dict[str, float]:
    """The reference library's numbers for the same input."""
    if name == "rouge":
        types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
        scorer = RougeScorer(types)
        rows = [scorer.score_multi(r, p) for p, r in zip(preds, refs, strict=True)]
        return {t: sum(float(row[t].fmeasure) for row in rows) / len(rows) for t in types}
    width = max(len(r) for r in refs)
    streams = [[r[k] if k < len(r) else None for r in refs] for k in range(width)]
    return {name: float(SACRE[name](preds, streams).score)}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("case", list(DEGENERATE))
def test_degenerate_sample_equals_the_reference_library(name: str, case: str) -> None:
    pred, refs = DEGENERATE[case]
    for preds, all_refs in (
        ([pred], [refs]),
        (
            [pred] + [p for p, _ in ORDINARY],
            [refs] + [r for _, r in ORDINARY],
        ),
    ):
        score = getattr(evalkit.metrics, name)(preds, all_refs)
        for key, want in _reference_value(name, preds, all_refs).items():
            assert math.isfinite(score.details[key])
            assert score.details[key] == pytest.approx(want, abs=TOL, rel=0), key


@pytest.mark.parametrize("name", NAMES)
def test_whitespace_only_prediction_is_the_empty_prediction(name: str) -> None:
    cls = METRICS.get(name)
    refs = ("The cat sat on the mat.",)
    empty, blank = as_samples(name, ["", " \t\n "], [list(refs), list(refs)])
    m = cls()
    assert m.sample_stats([blank]) == m.sample_stats([empty])


def test_documented_values() -> None:
    # Empty predictions: BLEU and chrF 0, TER 100 (every reference word is an edit), ROUGE 0.
    preds, refs = ["", ""], [["a cat"], ["the dog barked"]]
    assert bleu(preds, refs).value == 0.0
    assert chrf(preds, refs).value == 0.0
    assert ter(preds, refs).value == 100.0
    assert all(v == 0.0 for v in rouge(preds, refs).details.values())
    # Single-word sentences: no n-grams of order 2-4, so BLEU is 0 even for an exact match,
    # unless effective_order drops the empty orders.
    assert bleu(["cat"], [["cat"]]).value == 0.0
    assert bleu(["cat"], [["cat"]], effective_order=True).value == pytest.approx(100.0)
    assert rouge(["cat"], [["cat"]]).details["rouge2"] == 0.0
    assert rouge(["cat"], [["cat"]]).details["rouge1"] == 1.0
    # Punctuation only: ROUGE has no tokens (0, and no warning: nothing was lost), BLEU's 13a
    # keeps punctuation tokens, so they can match.
    samples = as_samples("rouge", ["?!"], [["Yes?!"]])
    assert ROUGE().sample_warnings(samples) == [None]
    assert rouge(["?!"], [["Yes?!"]]).value == 0.0
    assert bleu(["?!"], [["Yes?!"]], effective_order=True).value > 0.0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("refs", [[""], ["", "  "], [" \n\t"]])
def test_all_empty_references_are_refused(name: str, refs: list[str]) -> None:
    twin = getattr(evalkit.metrics, name)
    with pytest.raises(InputError, match=rf"^{name}: sample '1' has only empty references"):
        twin(["a b", "c"], [["a b"], refs])
    # One non-empty reference is enough.
    assert math.isfinite(twin(["a b", "c"], [["a b"], [*refs, "c"]]).value)


# -------------------------------------------------------------------------- through a run


def _adapter_module(tmp_path: Path, outputs: dict[str, str]) -> str:
    """A ``python:`` adapter answering each prompt with a fixed (degenerate) output."""
    path = tmp_path / "degenerate_model.py"
    path.write_text(
        "import json\n"
        f"OUT = json.loads({json.dumps(json.dumps(outputs))})\n"
        "def generate(prompts):\n"
        "    return [OUT[p] for p in prompts]\n",
        encoding="utf-8",
    )
    return f"python:{path}:generate"


def _suite(tmp_path: Path, rows: list[dict[str, Any]], metrics: str) -> Path:
    write_jsonl(tmp_path / "data.jsonl", rows)
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: degenerate\n"
        "bootstrap: {resamples: 50}\n"
        "tasks:\n"
        "  - name: t\n"
        "    dataset: {path: data.jsonl, id: id, references: refs}\n"
        '    prompt: "{id}"\n'
        f"    metrics: {metrics}\n",
        encoding="utf-8",
    )
    return suite


METRICS_YAML = "[bleu, {bleu: {effective_order: true}}, chrf, ter, {rouge: {use_stemmer: true}}]"


@pytest.mark.parametrize("adapter", ["python", "scripted"])
def test_run_scores_degenerate_predictions(tmp_path: Path, adapter: str) -> None:
    cases = {**DEGENERATE, **{f"ok{i}": c for i, c in enumerate(ORDINARY)}}
    rows = [{"id": k, "refs": refs} for k, (_, refs) in cases.items()]
    outputs = {k: pred for k, (pred, _) in cases.items()}
    metrics = METRICS_YAML.replace("{bleu: {effective_order: true}}, ", "")
    suite = _suite(tmp_path, rows, metrics)
    if adapter == "python":
        model = _adapter_module(tmp_path, outputs)
    else:
        script = tmp_path / "script.json"
        script.write_text(json.dumps({"responses": outputs}), encoding="utf-8")
        model = f"scripted:{script}"
    outcome = run_suite(suite, model, tmp_path / "run")
    assert outcome.exit_code == 0
    header = json.loads((outcome.path / RESULTS).read_text(encoding="utf-8"))
    assert header["status"] == "completed"
    assert header["tasks"][0]["n_errors"] == 0
    values = {r["metric"]: r["value"] for r in header["results"]}
    assert all(isinstance(v, float) and math.isfinite(v) for v in values.values())
    preds = list(outputs.values())
    refs = [refs for _, refs in cases.values()]
    for name in ("bleu", "chrf", "ter"):
        assert values[name] == pytest.approx(
            _reference_value(name, preds, refs)[name], abs=TOL, rel=0
        )
    lines = [json.loads(x) for x in (outcome.path / SAMPLES).read_text().splitlines()]
    assert {ln["id"] for ln in lines} == set(cases)
    assert all(set(ln["stats"]) == {"bleu", "chrf", "ter", "rouge"} for ln in lines)
    assert next(ln for ln in lines if ln["id"] == "empty")["prediction"] == ""


def test_run_refuses_empty_references_before_any_model_call(tmp_path: Path) -> None:
    rows = [{"id": "a", "refs": ["x"]}, {"id": "b", "refs": ["", " "]}]
    suite = _suite(tmp_path, rows, "[bleu]")
    calls = tmp_path / "calls.txt"
    module = tmp_path / "m.py"
    module.write_text(
        f"def generate(prompts):\n    open({str(calls)!r}, 'a').write('x')\n"
        "    return list(prompts)\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as info:
        run_suite(suite, f"python:{module}:generate", tmp_path / "run")
    assert info.value.exit_code == 2
    assert "reference" in str(info.value)
    assert not calls.exists()


# ------------------------------------------------------------------- the worker pool's fallbacks


def _squares(xs: Sequence[int]) -> list[int]:
    return [x * x for x in xs]


def test_pool_computes_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_WORKERS", "2")
    parent = os.getpid()
    seen: list[int] = []

    def where(xs: Sequence[int]) -> list[int]:
        seen.append(os.getpid())  # only recorded in the parent's copy of the list
        return [os.getpid() for _ in xs]

    items = list(range(1000))
    assert _parallel.map_chunks(_squares, items, min_items=10) == _squares(items)
    pids = _parallel.map_chunks(where, items, min_items=10)
    assert parent not in pids and seen == []  # computed in forked workers


def test_pool_falls_back_when_a_worker_dies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_WORKERS", "2")
    parent = os.getpid()

    def dies_in_children(xs: Sequence[int]) -> list[int]:
        if os.getpid() != parent:
            os._exit(1)  # a worker killed (say, for memory) mid-chunk
        return _squares(xs)

    items = list(range(100))
    assert _parallel.map_chunks(dies_in_children, items, min_items=10) == _squares(items)


@pytest.mark.parametrize("reason", ["one_worker", "below_threshold", "no_fork", "busy", "daemon"])
def test_pool_runs_serially_when_it_should(monkeypatch: pytest.MonkeyPatch, reason: str) -> None:
    monkeypatch.setenv("EVALKIT_WORKERS", "1" if reason == "one_worker" else "2")
    parent = os.getpid()
    if reason == "no_fork":
        monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    if reason == "daemon":
        monkeypatch.setattr(multiprocessing.current_process(), "_config", {"daemon": True})
    if reason == "busy":
        assert _parallel._LOCK.acquire(blocking=False)
    try:
        pids = _parallel.map_chunks(
            lambda xs: [os.getpid() for _ in xs],
            list(range(100)),
            min_items=1000 if reason == "below_threshold" else 10,
        )
    finally:
        if reason == "busy":
            _parallel._LOCK.release()
    assert set(pids) == {parent}


def test_pool_propagates_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_WORKERS", "2")

    def boom(xs: Sequence[int]) -> list[int]:
        raise InputError("bad sample")

    with pytest.raises(InputError, match="bad sample"):
        _parallel.map_chunks(boom, list(range(100)), min_items=10)


def test_metric_in_a_daemon_process_scores_serially() -> None:
    """A metric used inside a multiprocessing worker (daemonic: it may not fork a pool of its
    own) still scores, serially."""
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        value = pool.apply(_score_in_worker, ())
    assert value == pytest.approx(bleu(*_big_corpus()).value, abs=TOL)


def _big_corpus() -> tuple[list[str], list[list[str]]]:
    preds = [f"sentence number {i} about cats and {i % 7} dogs" for i in range(2500)]
    refs = [[f"sentence {i} is about cats and {i % 5} dogs"] for i in range(2500)]
    return preds, refs


def _score_in_worker() -> float:
    assert multiprocessing.current_process().daemon
    return bleu(*_big_corpus()).value
