"""The ``judge`` rubric metric on judgments given directly.

Expected numbers are worked by hand in the comments, or come from the reference libraries
(scipy's spearmanr/kendalltau, scikit-learn's cohen_kappa_score, the krippendorff package)
on the same per-sample values, computed here from the verdict texts without evalkit code.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import krippendorff
import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import cohen_kappa_score

from evalkit.errors import ConfigError, InputError
from evalkit.metrics.judges.rubric import RubricJudge
from evalkit.registry import METRICS
from evalkit.stats import bootstrap_ci, values_for_indices
from evalkit.types import Sample

MODEL = "python:judges:grade"


def judged(i: int | str, pred: str, *texts: str | None, **inputs: Any) -> Sample:
    """A sample whose judge answered ``texts`` (None: a failed call)."""
    js = [
        {"text": t, "error": None, "cached": False}
        if t is not None
        else {"text": None, "error": "HTTP 500 after 3 attempts", "cached": False}
        for t in texts
    ]
    return Sample(
        id=str(i), inputs=inputs, prediction=pred, outputs={"judgments": js}, where=f"d.jsonl:{i}"
    )


def score(metric: RubricJudge, samples: list[Sample]) -> dict[str, float]:
    stats = metric.sample_stats(samples)
    # statistics survive JSON (the record keeps them)
    assert json.loads(json.dumps(stats)) == stats
    return metric.aggregate(stats)


def test_registered_and_defaults() -> None:
    m = METRICS.get("judge").build({"model": MODEL})
    assert isinstance(m, RubricJudge)
    assert m.value_names() == ("score", "judge_failure_rate", "unscored", "length_corr")
    assert m.primary_values() == ("score",)
    assert not m.value_higher_is_better("judge_failure_rate")
    assert m.value_higher_is_better("score")
    assert "unscored" not in m.interval_values()
    sig = m.signature()
    assert "criteria:score:1-5:1" in sig and "parser:json" in sig and "template_sha256:" in sig
    assert "model:python:judges:grade" in sig


def test_every_failure_kind_is_counted_never_scored() -> None:
    m = RubricJudge(model=MODEL)
    samples = [
        judged(0, "a", '{"score": 4}'),
        judged(1, "b", None),  # call
        judged(2, "c", "I think it is good, maybe a 4"),  # unparsed
        judged(3, "d", '{"grade": 4}'),  # missing:score
        judged(4, "e", '{"score": 4.5}'),  # out_of_scale:score
        judged(5, "f", '{"score": true}'),  # out_of_scale:score (a bool is not a number)
        judged(6, "g", '```json\n{"score": "2"}\n```'),
    ]
    stats = m.sample_stats(samples)
    assert [s["j"] for s in stats] == [
        [[4.0]],
        ["call"],
        ["unparsed"],
        ["missing:score"],
        ["out_of_scale:score"],
        ["out_of_scale:score"],
        [[2.0]],
    ]
    v = m.aggregate(stats)
    assert v["score"] == 3.0  # (4 + 2) / 2: the five failures are not zeros
    assert v["judge_failure_rate"] == 5 / 7
    assert v["unscored"] == 5.0
    warnings = m.sample_warnings(samples)
    assert warnings[0] is None and warnings[6] is None
    assert warnings[1] == "judge: 1 of 1 verdicts failed: call 'HTTP 500 after 3 attempts'"
    assert warnings[2] == "judge: 1 of 1 verdicts failed: unparsed 'I think it is good, maybe a 4'"
    assert warnings[3] == """judge: 1 of 1 verdicts failed: missing:score '{"grade": 4}'"""
    per = m.per_sample_values(stats)
    assert per["score"][0] == 4.0 and all(math.isnan(x) for x in per["score"][1:6])


def test_warning_excerpt_is_short() -> None:
    m = RubricJudge(model=MODEL)
    w = m.sample_warnings([judged(0, "a", "word " * 500)])[0]
    assert w is not None and w.endswith("...'") and len(w) < 100


def test_all_failed_gives_nan_not_zero() -> None:
    m = RubricJudge(model=MODEL, repeats=2)
    v = score(m, [judged(0, "a", "no", None), judged(1, "b", None, None)])
    assert math.isnan(v["score"]) and math.isnan(v["length_corr"])
    assert v["judge_failure_rate"] == 1.0 and v["unscored"] == 2.0


def test_weighted_total_and_pass_fail() -> None:
    m = RubricJudge(
        model=MODEL,
        criteria=[
            {"name": "accuracy", "scale": [1, 5], "weight": 3},
            {"name": "safe", "scale": "pass_fail", "weight": 1, "description": "no harm"},
        ],
    )
    v = score(
        m,
        [
            judged(0, "a", '{"accuracy": 5, "safe": "pass", "reasoning": "ok"}'),  # (15+1)/4 = 4
            judged(1, "b", '{"accuracy": 2, "safe": false}'),  # (6+0)/4 = 1.5
        ],
    )
    assert v["score"] == 2.75
    assert v["accuracy"] == 3.5 and v["safe"] == 0.5
    assert m.primary_values() == ("score", "accuracy", "safe")
    assert "criteria:accuracy:1-5:3,safe:pass_fail:1" in m.signature()


def test_repeats_self_consistency() -> None:
    m = RubricJudge(model=MODEL, repeats=3)
    assert m.value_names()[-2:] == ("repeat_sd", "repeat_agreement")
    v = score(
        m,
        [
            judged(0, "a", '{"score": 4}', '{"score": 4}', '{"score": 4}'),  # sd 0, same
            judged(1, "b", '{"score": 1}', '{"score": 3}', "??"),  # sd sqrt(2), differ
            judged(2, "c", '{"score": 5}', None, None),  # one parsed: no sd, no agreement
        ],
    )
    assert v["score"] == pytest.approx((4 + 2 + 5) / 3)
    assert v["repeat_sd"] == pytest.approx(math.sqrt(2) / 2)
    assert v["repeat_agreement"] == 0.5
    assert v["judge_failure_rate"] == 3 / 9
    # repeats are separate requests with their own seeds and cache keys
    reqs = m.judge_requests(judged(0, "a"))
    assert (reqs[0].sample_index, reqs[0].seed) == (0, 0)
    assert [r.sample_index for r in reqs] == [0, 1, 2] and len({r.seed for r in reqs}) == 3


def test_wrong_number_of_judgments() -> None:
    m = RubricJudge(model=MODEL, repeats=2)
    with pytest.raises(InputError, match=r"d.jsonl:0: a judge metric needs 2 judgments"):
        m.sample_stats([judged(0, "a", '{"score": 1}')])


def random_samples(n: int, seed: int, repeats: int = 1, fail: float = 0.1) -> list[Sample]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        pred = " ".join(["w"] * rng.randint(1, 60))
        quality = rng.randint(1, 5)
        texts: list[str | None] = []
        for _ in range(repeats):
            r = rng.random()
            if r < fail / 2:
                texts.append(None)
            elif r < fail:
                texts.append("cannot decide")
            else:
                v = min(5, max(1, quality + rng.choice((-1, 0, 0, 1))))
                texts.append(json.dumps({"score": v}))
        human = min(5, max(1, quality + rng.choice((-1, 0, 1))))
        out.append(judged(i, pred, *texts, human=human))
    return out


def _by_hand(samples: list[Sample]) -> tuple[list[float], list[float], list[float]]:
    """(mean parsed score, word length, human label) of the scored samples, without evalkit."""
    xs: list[float] = []
    lens: list[float] = []
    hs: list[float] = []
    for s in samples:
        vals = [
            json.loads(j["text"])["score"]
            for j in s.outputs["judgments"]
            if j["text"] and j["text"].startswith("{")
        ]
        if vals:
            xs.append(sum(vals) / len(vals))
            lens.append(len(str(s.prediction).split()))
            hs.append(float(s.inputs["human"]))
    return xs, lens, hs


def test_length_corr_equals_scipy() -> None:
    samples = random_samples(80, seed=1, repeats=2)
    m = RubricJudge(model=MODEL, repeats=2, length_unit="words")
    v = score(m, samples)
    xs, lens, _ = _by_hand(samples)
    assert v["length_corr"] == pytest.approx(sps.spearmanr(xs, lens).statistic, abs=1e-12)
    chars = RubricJudge(model=MODEL, repeats=2)
    lc = [
        len(str(s.prediction))
        for s in samples
        if any((j["text"] or "").startswith("{") for j in s.outputs["judgments"])
    ]
    assert score(chars, samples)["length_corr"] == pytest.approx(
        sps.spearmanr(xs, lc).statistic, abs=1e-12
    )


@pytest.mark.parametrize("weights", ["quadratic", "linear", "none"])
def test_agreement_with_people_equals_reference_libraries(weights: str) -> None:
    samples = random_samples(120, seed=2, repeats=3)
    m = RubricJudge(model=MODEL, repeats=3, human_label="human", agreement_weights=weights)
    v = score(m, samples)
    xs, _, hs = _by_hand(samples)
    rounded = [float(math.floor(x + 0.5)) for x in xs]  # half up: 2.5 -> 3
    kappa = cohen_kappa_score(
        rounded, hs, labels=[1, 2, 3, 4, 5], weights=None if weights == "none" else weights
    )
    assert v["kappa"] == pytest.approx(kappa, abs=1e-12)
    alpha = krippendorff.alpha(
        reliability_data=np.array([rounded, hs]),
        level_of_measurement="ordinal",
        value_domain=[1, 2, 3, 4, 5],
    )
    assert v["alpha"] == pytest.approx(alpha, abs=1e-12)
    assert v["spearman"] == pytest.approx(sps.spearmanr(xs, hs).statistic, abs=1e-12)
    assert v["kendall"] == pytest.approx(sps.kendalltau(xs, hs).statistic, abs=1e-12)
    assert 0.3 < v["spearman"] < 1  # the simulated judge tracks the people
    assert f"agreement_weights:{weights}" in m.signature()


def test_absent_categories_count_in_kappa() -> None:
    # nobody uses 1 or 5: with the scale's labels these still weigh the quadratic distances
    m = RubricJudge(model=MODEL, human_label="human")
    texts = ["2", "3", "4", "3", "2", "4"]
    humans = [2, 3, 3, 3, 2, 4]
    samples = [
        judged(i, "x", f'{{"score": {t}}}', human=h)
        for i, (t, h) in enumerate(zip(texts, humans, strict=True))
    ]
    v = score(m, samples)
    want = cohen_kappa_score(
        [int(t) for t in texts], humans, labels=[1, 2, 3, 4, 5], weights="quadratic"
    )
    assert v["kappa"] == pytest.approx(want, abs=1e-12)


def test_pass_fail_agreement_is_nominal_and_unweighted() -> None:
    m = RubricJudge(
        model=MODEL,
        repeats=2,
        criteria=[{"name": "correct", "scale": "pass_fail"}],
        human_label="person",
    )
    assert "agreement_weights:none" in m.signature()
    rows = [
        ("pass", "pass", "pass"),
        ("fail", "pass", "pass"),
        ("fail", "fail", "fail"),
        ("pass", "fail", "fail"),
        ("pass", "pass", "fail"),
        ("fail", "fail", "pass"),
    ]
    samples = [
        judged(i, "x", *(f'{{"correct": "{a}"}}' for a in (a1, a2)), person=h)
        for i, (a1, a2, h) in enumerate(rows)
    ]
    v = score(m, samples)
    # repeat means 1, .5, 0, .5, 1, 0 -> rounded half up: pass, pass, fail, pass, pass, fail
    judge = [1, 1, 0, 1, 1, 0]
    person = [1, 1, 0, 0, 0, 1]
    assert v["kappa"] == pytest.approx(cohen_kappa_score(judge, person, labels=[0, 1]))
    assert v["alpha"] == pytest.approx(
        krippendorff.alpha(
            reliability_data=[judge, person], level_of_measurement="nominal", value_domain=[0, 1]
        )
    )
    assert v["repeat_agreement"] == pytest.approx(4 / 6)


def test_human_criterion_and_total() -> None:
    crit = [{"name": "a", "scale": [1, 5]}, {"name": "b", "scale": [1, 5]}]
    with pytest.raises(ConfigError, match="human_criterion"):
        RubricJudge(model=MODEL, criteria=crit, human_label="h")
    m = RubricJudge(model=MODEL, criteria=crit, human_label="h", human_criterion="total")
    samples = [
        judged(0, "x", '{"a": 5, "b": 4}', h=5),
        judged(1, "y", '{"a": 1, "b": 2}', h=1),
        judged(2, "z", '{"a": 3, "b": 3}', h=4),
    ]
    v = score(m, samples)
    assert v["spearman"] == pytest.approx(sps.spearmanr([4.5, 1.5, 3], [5, 1, 4]).statistic)
    assert v["kappa"] == pytest.approx(
        cohen_kappa_score([5, 2, 3], [5, 1, 4], labels=[1, 2, 3, 4, 5], weights="quadratic")
    )
    mb = RubricJudge(model=MODEL, criteria=crit, human_label="h", human_criterion="b")
    assert score(mb, samples)["spearman"] == pytest.approx(
        sps.spearmanr([4, 2, 3], [5, 1, 4]).statistic
    )
    mixed = [{"name": "a", "scale": [1, 5]}, {"name": "ok", "scale": "pass_fail"}]
    with pytest.raises(ConfigError, match="'total' needs all criteria on one scale"):
        RubricJudge(model=MODEL, criteria=mixed, human_label="h", human_criterion="total")
    with pytest.raises(ConfigError, match="'c' is not a criterion"):
        RubricJudge(model=MODEL, criteria=crit, human_label="h", human_criterion="c")
    with pytest.raises(ConfigError, match="read only with human_label"):
        RubricJudge(model=MODEL, human_criterion="score")


@pytest.mark.parametrize(
    ("inputs", "match"),
    [
        ({}, r"d.jsonl:0: field 'h' is missing"),
        ({"h": 7}, r"d.jsonl:0: field 'h' is 7, not a value of the scale 1-5"),
        ({"h": 2.5}, r"field 'h' is 2.5"),
        ({"h": True}, r"field 'h' is True"),
    ],
)
def test_bad_human_labels(inputs: dict[str, Any], match: str) -> None:
    m = RubricJudge(model=MODEL, human_label="h")
    with pytest.raises(InputError, match=match):
        m.sample_stats([judged(0, "x", '{"score": 3}', **inputs)])


@pytest.mark.parametrize(
    ("criteria", "match"),
    [
        ([], "criteria is empty"),
        (["score"], r"criteria must be list of mapping"),
        ([{"name": "not valid"}], r"criteria\[0\]\.name: 'not valid' is not an identifier"),
        ([{"name": "a"}, {"name": "a"}], r"criteria\[1\]\.name: 'a' repeats"),
        ([{"name": "a"}, {"name": "score"}], r"'score' is one of the metric's own values"),
        ([{"name": "kappa"}], "one of the metric's own values"),
        ([{"name": "a", "scale": [5, 1]}], r"criteria\[0\]\.scale: scale 5-1 is empty"),
        ([{"name": "a", "scale": ["x", "y"]}], "not on labels"),
        ([{"name": "a", "weight": 0}], r"weight: 0 is not a positive number"),
        ([{"name": "a", "weight": True}], r"weight: True"),
        ([{"name": "a", "wieght": 2}], r"unknown key\(s\) wieght"),
    ],
)
def test_bad_criteria(criteria: list[Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RubricJudge(model=MODEL, criteria=criteria)


def test_bad_parser_settings() -> None:
    with pytest.raises(ConfigError, match="no named group for score"):
        RubricJudge(model=MODEL, parser="regex", pattern=r"(?P<grade>\d)")
    # Without a model the metric scores given answers; running it needs the judge.
    with pytest.raises(ConfigError, match="judge: no judge model; set `model:`"):
        RubricJudge().judge_model()


def test_regex_parser() -> None:
    m = RubricJudge(model=MODEL, parser="regex", pattern=r"Rating: \[\[(?P<score>\d+)\]\]")
    v = score(m, [judged(0, "a", "Good.\nRating: [[5]]"), judged(1, "b", "Rating: 5")])
    assert v["score"] == 5.0 and v["judge_failure_rate"] == 0.5
    assert "parser:regex:" in m.signature() and "pattern" not in m.params


def test_default_template_shows_the_rubric() -> None:
    m = RubricJudge(
        model=MODEL,
        criteria=[
            {"name": "accuracy", "scale": "0-10", "description": "facts match {the reference}"},
            {"name": "safe", "scale": "pass_fail"},
        ],
    )
    text = m.prompt.render(
        Sample(id="1", prompt="Capital of France?", prediction="Paris", references=("Paris",))
    )
    assert "Capital of France?" in text and "[Answer to grade]\nParis" in text
    assert "- accuracy (an integer 0-10, weight 1): facts match {the reference}" in text
    assert '{"accuracy": <0-10>, "safe": "pass" or "fail"}' in text
    other = RubricJudge(model=MODEL)
    assert other.params["template_sha256"] != m.params["template_sha256"]
    custom = RubricJudge(model=MODEL, template='Q: {question}\nA: {prediction}\n{{"score": N}}')
    assert (
        custom.prompt.render(Sample(id="1", inputs={"question": "2+2"}, prediction="4"))
        == 'Q: 2+2\nA: 4\n{"score": N}'
    )


def test_resample_block_equals_aggregate_and_is_fast() -> None:
    import time

    samples = random_samples(500, seed=3, repeats=3)
    m = RubricJudge(model=MODEL, repeats=3, human_label="human")
    stats = m.sample_stats(samples)
    idx = np.random.default_rng(0).integers(0, 500, (20, 500))
    block = values_for_indices(m, stats, idx)
    for b in range(20):
        want = m.aggregate([stats[i] for i in idx[b]])
        for k, w in want.items():
            assert block[k][b] == pytest.approx(w, abs=1e-12, nan_ok=True), k
    t0 = time.perf_counter()
    ci = bootstrap_ci(m, stats, resamples=1000, rng=np.random.default_rng(0))
    took = time.perf_counter() - t0
    est = m.aggregate(stats)
    for k in ("score", "length_corr", "kappa", "alpha", "repeat_sd"):
        lo, hi = ci[k]
        assert lo <= est[k] <= hi, k
    assert math.isnan(ci["unscored"][0])
    assert took < 5.0  # measured ~1.5 s on a loaded 2-core machine


@pytest.mark.parametrize("repeats", [1, 3])
def test_resample_block_without_people_weights_the_counts(repeats: int) -> None:
    """Without human labels the block computes no resample: count-weighted means and a
    weighted Spearman, equal to the values of each resample's rows (NaN where they are)."""
    samples = random_samples(400, seed=11, repeats=repeats, fail=0.3)
    m = RubricJudge(model=MODEL, repeats=repeats)
    stats = m.sample_stats(samples)
    rng = np.random.default_rng(5)
    idx = rng.integers(0, 400, (40, 400))
    idx[0] = 7  # one sample drawn 400 times: a constant side, length_corr NaN
    block = values_for_indices(m, stats, idx)
    for b in range(40):
        want = m.aggregate([stats[i] for i in idx[b]])
        for k, w in want.items():
            assert block[k][b] == pytest.approx(w, rel=1e-12, abs=1e-12, nan_ok=True), (k, b)
    assert math.isnan(block["length_corr"][0]) and not math.isnan(block["length_corr"][1])
