"""Several n-gram orders in one entry: ``distinct_n: {n: [1, 2]}`` and its siblings.

A list of orders must give, order by order, exactly what separate scalar runs give, and travel
through a suite run, its reports and a comparison as one value per order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import evalkit
import evalkit.metrics as M
from evalkit.errors import ConfigError
from evalkit.metrics.diversity import DistinctN, Repetition
from evalkit.registry import METRICS
from evalkit.report.markdown import escape_cell, render_compare_markdown, render_markdown
from evalkit.stats import bootstrap_ci
from evalkit.types import Sample

NGRAM_METRICS = ("distinct_n", "ngram_entropy", "repetition")

SAMPLES = [
    Sample(id="1", prediction="a b c", outputs={"samples": ["a b c a b", "a b d", "e f e"]}),
    Sample(id="2", prediction="the cat sat on the mat and the cat sat"),
    Sample(id="3", prediction="x", outputs={"samples": ["q r s t", "q r s t", "q q q q q"]}),
    Sample(id="4", prediction="x", outputs={"samples": ["one", "two words", "a b a b a b"]}),
    Sample(id="5", prediction="x", outputs={"samples": ["", "z"]}),  # no bigram at all
]


def _names(name: str, order: int) -> list[str]:
    """The value names a scalar run of ``name`` at ``order`` reports."""
    return list(METRICS.get(name).build({"n": order}).value_names())


@pytest.mark.parametrize("name", NGRAM_METRICS)
@pytest.mark.parametrize("tokenize", ["whitespace", "13a"])
def test_a_list_equals_separate_scalar_runs_order_by_order(name: str, tokenize: str) -> None:
    orders = [1, 2, 3, 5]
    many = METRICS.get(name).build({"n": orders, "tokenize": tokenize, "lowercase": True})
    stats = many.sample_stats(SAMPLES)
    values = many.aggregate(stats)
    per_sample = many.per_sample_values(stats)
    expected_names: list[str] = []
    for k in orders:
        one = METRICS.get(name).build({"n": k, "tokenize": tokenize, "lowercase": True})
        one_stats = one.sample_stats(SAMPLES)
        one_values = one.aggregate(one_stats)
        expected_names += list(one.value_names())
        for key, want in one_values.items():
            got = values[key]
            assert got == want or (math.isnan(got) and math.isnan(want)), (k, key, got, want)
        for key, want_list in one.per_sample_values(one_stats).items():
            np.testing.assert_array_equal(per_sample[key], want_list)
        assert set(one.interval_values()) <= set(many.interval_values())
    assert list(many.value_names()) == expected_names  # grouped per order, ascending
    assert list(values) == expected_names
    assert set(many.primary_values()) == set(expected_names)  # every order's headline too
    # The statistics are JSON and split like a scalar's: shards give the same values.
    assert json.loads(json.dumps(stats)) == stats
    halves = many.sample_stats(SAMPLES[:2]) + many.sample_stats(SAMPLES[2:])
    assert halves == stats


@pytest.mark.parametrize("name", NGRAM_METRICS)
def test_a_list_is_canonical_and_signed_like_the_cutoffs_of_k(name: str) -> None:
    cls = METRICS.get(name)
    many = cls.build({"n": [3, 1, 2]})
    assert many.params["n"] == [1, 2, 3]
    assert "|n:1,2,3|" in many.signature()
    assert cls.build({"n": [1, 2, 3]}).signature() == many.signature()
    assert cls.build({"n": [1, 3]}).signature() != many.signature()
    # A list of one order is that order: same params, signature, values and statistics.
    one, scalar = cls.build({"n": [2]}), cls.build({"n": 2})
    assert one.params == scalar.params and one.params["n"] == 2
    assert one.signature() == scalar.signature() and "|n:2|" in one.signature()
    assert one.value_names() == scalar.value_names() == tuple(_names(name, 2))
    assert one.sample_stats(SAMPLES) == scalar.sample_stats(SAMPLES)


def test_a_scalar_keeps_its_statistics_and_names() -> None:
    """Stats of a scalar ``n`` keep the shape cached and stored runs have."""
    m = DistinctN(n=2)
    assert m.sample_stats(SAMPLES[:1]) == [
        {"ngrams": {"a b": 3, "b c": 1, "b d": 1, "c a": 1, "e f": 1, "f e": 1}, "total": 8}
    ]
    assert m.signature().startswith("distinct_n|lowercase:no|n:2|tok:whitespace|")
    assert Repetition().value_names() == ("repetition_4",)
    assert Repetition(n=1).sample_stats([Sample(id="1", prediction="a a a a")]) == [[0.75, 1]]
    both = Repetition(n=[1, 2]).sample_stats([Sample(id="1", prediction="a a a a")])
    assert both == [[0.75, 1, 1 - 1 / 3, 1]]  # 1 - |{a a}| / |{a a, a a, a a}|


@pytest.mark.parametrize("name", NGRAM_METRICS)
def test_each_output_is_tokenised_once_for_all_orders(name: str) -> None:
    m = METRICS.get(name).build({"n": [1, 2, 3, 4]})
    calls: list[str] = []
    split: Callable[[str], list[str]] = m._split  # type: ignore[attr-defined]

    def counting(text: str) -> list[str]:
        calls.append(text)
        return split(text)

    m._split = counting  # type: ignore[attr-defined]
    m.sample_stats(SAMPLES)
    outputs = sum(len(s.outputs.get("samples", [s.prediction])) for s in SAMPLES)
    assert len(calls) == outputs


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "n: the list is empty; give an order such as 2"),
        ([2, 2], "n: [2, 2] lists an order twice; list each once."),
        ([0, 2], "n must be between 1 and 10, got [0, 2]."),
        ([1, 11], "n must be between 1 and 10, got [1, 11]."),
        ([1, "2"], "n must be int or list of int, got list [1, '2']."),
        ([1, True], "n must be int or list of int, got list [1, True]."),
        ([1.0, 2], "n must be int or list of int, got list [1.0, 2]."),
        ((1, 2), "n must be int or list of int, got tuple (1, 2)."),
        (0, "n must be between 1 and 10, got 0."),  # scalars: today's messages
        (11, "n must be between 1 and 10, got 11."),
    ],
)
@pytest.mark.parametrize("name", NGRAM_METRICS)
def test_bad_orders_are_config_errors(name: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        METRICS.get(name).build({"n": value})
    assert str(info.value).startswith(f"{name}: {message}"), str(info.value)


@pytest.mark.parametrize("name", ["distinct_n", "ngram_entropy"])
def test_only_per_prompt_values_get_intervals_for_each_order(name: str) -> None:
    m = METRICS.get(name).build({"n": [1, 2]})
    prefix = m.value_names()[0].rsplit("_", 1)[0]
    per_prompt = (f"{prefix}_1_per_prompt", f"{prefix}_2_per_prompt")
    assert m.interval_values() == per_prompt
    stats = m.sample_stats(SAMPLES)
    ci = bootstrap_ci(m, stats, resamples=200, rng=np.random.default_rng(0))
    for key, (low, high) in ci.items():
        if key in per_prompt:
            assert math.isfinite(low) and low < high, key
        else:
            assert math.isnan(low) and math.isnan(high), key


def test_repetition_intervals_cover_every_order() -> None:
    m = Repetition(n=[1, 2])
    assert m.interval_values() == ("repetition_1", "repetition_2")
    ci = bootstrap_ci(m, m.sample_stats(SAMPLES), resamples=200, rng=np.random.default_rng(0))
    assert all(math.isfinite(low) and low < high for low, high in ci.values())


def test_the_twins_take_a_list() -> None:
    outputs = [["a b c", "a b d"], "a a a a"]
    score = M.distinct_n(outputs, n=[1, 2])
    assert list(score.details) == [
        "distinct_1",
        "distinct_1_per_prompt",
        "distinct_2",
        "distinct_2_per_prompt",
    ]
    assert score.name == "distinct_1" and score.value == score.details["distinct_1"]
    for k in (1, 2):
        single = M.distinct_n(outputs, n=k).details
        assert {key: score.details[key] for key in single} == single
    assert "|n:1,2|" in score.signature
    assert list(M.ngram_entropy(outputs, n=[2, 1]).details) == [
        "entropy_1",
        "entropy_1_per_prompt",
        "entropy_2",
        "entropy_2_per_prompt",
    ]
    rep = M.repetition(outputs, n=[1, 4]).details
    assert rep == {
        "repetition_1": M.repetition(outputs, n=1).value,
        "repetition_4": M.repetition(outputs, n=4).value,
    }


# ----------------------------------------------------------------------- suite, reports, compare

MODELS = """
WORDS = "the cat sat on a mat while dog ran far away".split()

def varied(prompts, seeds):
    return [" ".join(WORDS[(s * (i + 1) + sum(map(ord, p))) % len(WORDS)] for i in range(6))
            for p, s in zip(prompts, seeds)]

def dull(prompts, seeds):
    return ["the cat the cat " + p for p in prompts]
"""

SUITE = """name: orders
seed: 0
bootstrap: {resamples: 100}
tasks:
  - name: t
    dataset: {path: d.jsonl, id: id}
    prompt: '{p}'
    generation: {n: 3, temperature: 1.0}
    metrics: [{distinct_n: {n: [1, 2]}}, {repetition: {n: [2, 1]}}]
"""


def _run(tmp_path: Path, model: str) -> Path:
    (tmp_path / "models.py").write_text(MODELS)
    rows = [{"id": str(i), "p": f"prompt number {i}"} for i in range(1, 7)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "s.yaml").write_text(SUITE)
    out = tmp_path / model
    evalkit.run_suite(tmp_path / "s.yaml", f"python:{tmp_path / 'models.py'}:{model}", out)
    return out


def test_a_suite_run_reports_and_compares_every_order(tmp_path: Path) -> None:
    varied, dull = _run(tmp_path, "varied"), _run(tmp_path, "dull")
    doc = json.loads((varied / "results.json").read_text())
    rows = {r["metric"]: r for r in doc["results"]}
    names = [
        "distinct_1",
        "distinct_1_per_prompt",
        "distinct_2",
        "distinct_2_per_prompt",
        "repetition_1",
        "repetition_2",
    ]
    assert [r["metric"] for r in doc["results"]] == names
    assert {rows[k]["signature"] for k in names[:4]} == {DistinctN(n=[1, 2]).signature()}
    assert "|n:1,2|" in rows["repetition_1"]["signature"]
    # The stored values are what the metric gives on the recorded outputs.
    run = evalkit.load_run(varied)
    for k in (1, 2):
        want = M.distinct_n([s["outputs"]["samples"] for s in run.samples], n=k).details
        for key, value in want.items():
            assert rows[key]["value"] == pytest.approx(value, rel=1e-12)
    for name in names:
        has_interval = rows[name].get("ci_low") is not None
        assert has_interval is (name.endswith("_per_prompt") or name.startswith("repetition")), name

    markdown = render_markdown(run)
    html = (varied / "report.html").read_text()
    for name in names:
        assert escape_cell(name) in markdown and name in html, name

    comparison = evalkit.compare_runs([varied, dull], tmp_path / "cmp", resamples=200)
    paired = {r["metric"]: r for r in comparison["comparisons"]}
    assert set(paired) == set(names)
    assert paired["distinct_1_per_prompt"]["delta"] < 0  # the dull model repeats itself
    assert paired["repetition_1"]["delta"] > 0
    compare_md = render_compare_markdown(comparison)
    compare_html = (tmp_path / "cmp" / "compare.html").read_text()
    for name in names:
        assert escape_cell(name) in compare_md and name in compare_html, name
