"""``judge_pairwise``: readings worked by hand, against scipy and an independent BT fit.

Verdicts are given directly (as the runner hands them), in request order: per judged pair,
the repeats with the pair's first system as A, then with it as B.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from evalkit.cli import main
from evalkit.errors import ConfigError, InputError
from evalkit.metrics import judge_pairwise
from evalkit.metrics.judges.pairwise import PairwiseJudge
from evalkit.metrics.judges.ranking import bradley_terry, bt_scores
from evalkit.types import Sample
from tests.conftest import write_jsonl


def verdict(w: str | None) -> dict[str, Any]:
    if w is None:
        return {"text": None, "error": "HTTP 500", "cached": False}
    text = w if w.startswith(("{", "I ")) else json.dumps({"winner": w})
    return {"text": text, "error": None, "cached": False}


def sample(i: str, pred: str, *ws: str | None) -> Sample:
    return Sample(id=i, prediction=pred, outputs={"judgments": [verdict(w) for w in ws]})


def test_readings_worked_by_hand() -> None:
    base = {"1": "Lyon", "2": "Rome", "3": "x" * 30, "4": None, "5": "Oslo"}
    m = PairwiseJudge(model="python:j:prefer", against={"base": base}, repeats=2)
    samples = [
        # run as A twice, then as B twice: every verdict prefers the run
        sample("1", "Paris", "A", "A", "B", "B"),
        # the judge picks the first answer whatever it is: two flips
        sample("2", "Roma", "A", "A", "A", "A"),
        # a failed call, an unparsed answer and an out-of-scale label: one parsed, a tie
        sample("3", "short", None, "I prefer A", '{"winner": "C"}', "tie"),
        # the opponent's call failed: nothing asked, nothing judged
        sample("4", "Madrid"),
        # the run loses in both orders
        sample("5", "Bergen", "B", "B", "A", "A"),
    ]
    stats = m.sample_stats(samples)
    assert stats[0] == {"p": [[[1.0, 1.0], [1.0, 1.0]]], "d": [1]}
    assert stats[1]["p"] == [[[1.0, 1.0], [0.0, 0.0]]]
    assert stats[2] == {"p": [[["call", "unparsed"], ["out_of_scale:winner", 0.5]]], "d": [-25]}
    assert stats[3] == {"p": [None], "d": [None]}
    v = m.aggregate(stats)
    # order-averaged preferences: 1, 0.5, 0.5, (none), 0
    assert v["win_rate"] == pytest.approx(2 / 4)
    assert v["tie_rate"] == pytest.approx(2 / 4)
    assert v["sign_p"] == pytest.approx(sps.binomtest(1, 2, 0.5).pvalue)
    # repeats asked in both orders with both parsed: 2 + 2 + 0 + 2; flipped: sample 2's two
    assert v["flip_rate"] == pytest.approx(2 / 6)
    # verdicts naming a winner: 4 + 4 + 0 + 4; naming the answer shown first: 2 + 4 + 2
    assert v["first_position_rate"] == pytest.approx(8 / 12)
    assert v["judge_failure_rate"] == pytest.approx(3 / 16)
    assert v["opponent_failure_rate"] == pytest.approx(1 / 5)
    lengths = [5 - 4, 4 - 4, 5 - 30, 6 - 4]
    assert v["length_corr"] == pytest.approx(sps.spearmanr([1, 0.5, 0.5, 0], lengths).statistic)
    warnings = m.sample_warnings(samples)
    assert warnings[:2] == [None, None]
    assert warnings[2] == "judge_pairwise: 3 of 4 verdicts failed"
    assert warnings[3] == "judge_pairwise: not judged (an output is missing): model-base"
    assert set(m.value_names()) == set(v)
    assert "sign_p" not in m.interval_values()
    assert m.value_target("first_position_rate") == 0.5
    assert m.primary_values() == ("win_rate",)


def test_prompts_show_each_order() -> None:
    m = PairwiseJudge(
        model="python:j:prefer",
        against={"base": {"1": "Lyon"}},
        template="Q {question}\nA: {output_a}\nB: {output_b}",
        repeats=2,
    )
    s = Sample(id="1", inputs={"question": "Capital?"}, prediction="Paris")
    reqs = m.judge_requests(s)
    assert [r.prompt for r in reqs] == [
        "Q Capital?\nA: Paris\nB: Lyon",
        "Q Capital?\nA: Paris\nB: Lyon",
        "Q Capital?\nA: Lyon\nB: Paris",
        "Q Capital?\nA: Lyon\nB: Paris",
    ]
    assert [r.sample_index for r in reqs] == [0, 1, 0, 1]
    one = PairwiseJudge(model="python:j:prefer", against={"base": {"1": "Lyon"}}, orders="ab")
    assert len(one.judge_requests(s)) == 1
    assert "flip_rate" not in one.value_names()
    v = one.aggregate(one.sample_stats([sample("1", "Paris", "B")]))
    assert v["win_rate"] == 0.0 and v["first_position_rate"] == 0.0


def test_three_systems_are_ranked_by_bradley_terry() -> None:
    b = {str(i): f"b{i}" for i in range(6)}
    c = {str(i): f"c{i}" for i in range(6)}
    m = PairwiseJudge(model="python:j:prefer", against={"b": b, "c": c}, all_pairs=True)
    rng = np.random.default_rng(3)
    samples = []
    for i in range(6):
        ws = [str(w) for w in rng.choice(["A", "B", "tie"], size=6)]
        samples.append(sample(str(i), f"a{i}", *ws))
    v = m.aggregate(m.sample_stats(samples))
    assert m.value_names()[:2] == ("win_rate[b]", "win_rate[c]")
    # The fit, independently: pairs (model, b), (model, c), (b, c), each order-averaged verdict
    # a fractional win of the pair's first system.
    names = ["model", "b", "c"]
    pairs = [(0, 1), (0, 2), (1, 2)]
    winners, losers, weights = [], [], []
    for s in samples:
        ws = [json.loads(j["text"])["winner"] for j in s.outputs["judgments"]]
        for k, (x, y) in enumerate(pairs):
            ab, ba = ws[2 * k], ws[2 * k + 1]
            pref = ({"A": 1.0, "B": 0.0, "tie": 0.5}[ab] + {"A": 0.0, "B": 1.0, "tie": 0.5}[ba]) / 2
            winners += [x, y]
            losers += [y, x]
            weights += [pref, 1 - pref]
    want = bt_scores(bradley_terry(winners, losers, 3, weights=weights))
    for name, value in zip(names, want, strict=True):
        assert v[f"bt[{name}]"] == pytest.approx(float(value), abs=1e-6)
    assert set(m.primary_values()) == {"win_rate[b]", "win_rate[c]", *(f"bt[{n}]" for n in names)}
    # every reading but the p-values gets an interval from the resample block
    block = m.resample_block(m.sample_stats(samples))(np.ones((2, 6)))
    assert block["bt[model]"] == pytest.approx([v["bt[model]"]] * 2, abs=1e-6)


def test_twin_and_recorded_rebuild() -> None:
    s = judge_pairwise(
        ["Paris", "Rome", "Oslo"],
        [['{"winner": "A"}', '{"winner": "B"}'], ['{"winner": "tie"}', None], []],
        against={"base": ["Lyon", "Roma", None]},
    )
    assert s.name == "win_rate" and s.value == pytest.approx(0.75)
    assert s.details["judge_failure_rate"] == pytest.approx(1 / 4)
    assert s.details["opponent_failure_rate"] == pytest.approx(1 / 3)
    m = PairwiseJudge(model="python:j:prefer", against={"base": {"1": "x"}}, system="mine")
    again = PairwiseJudge.rebuild(m.params)
    assert again.signature() == m.signature()
    assert again.value_names() == m.value_names()
    with pytest.raises(InputError, match="same length"):
        judge_pairwise(["a"], [[]], against={"base": []})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"against": {}}, "names no system"),
        ({"against": {"model": {}}}, "also an opponent"),
        ({"against": {"bad name": {}}}, "must be 1-64"),
        ({"against": {"b": {}}, "parser": "regex", "pattern": "(?P<best>A|B)"}, "winner"),
        ({"against": {"b": {"1": 3}}}, "string or null"),
    ],
)
def test_bad_settings_are_config_errors(params: dict[str, Any], message: str) -> None:
    with pytest.raises((ConfigError, InputError), match=message):
        PairwiseJudge(model="python:j:prefer", **params).judge_model()


JUDGE = """\
import json, re


def prefer(prompts):
    out = []
    for p in prompts:
        a = re.search(r"A: (.*)", p).group(1)
        b = re.search(r"B: (.*)", p).group(1)
        w = "A" if len(a) < len(b) else "B" if len(b) < len(a) else "tie"
        out.append(json.dumps({"winner": w}))
    return out
"""

MODEL = """\
from pathlib import Path


def generate(prompts):
    Path(__file__).with_suffix(".called").write_text("yes")
    return ["short" if "1" in p else "a much longer answer" for p in prompts]
"""


def _suite(tmp: Path, against: str, name: str = "s.yaml") -> Path:
    (tmp / "judge.py").write_text(JUDGE, encoding="utf-8")
    (tmp / "model.py").write_text(MODEL, encoding="utf-8")
    write_jsonl(tmp / "data.jsonl", [{"id": str(i), "q": f"question {i}"} for i in range(1, 4)])
    suite = tmp / name
    suite.write_text(
        f"""\
name: pairs
bootstrap: {{resamples: 50}}
tasks:
  - name: t
    dataset: {{path: data.jsonl, id: id}}
    prompt: "{{q}}"
    metrics:
      - judge_pairwise:
          model: python:judge.py:prefer
          template: "A: {{output_a}}\\nB: {{output_b}}"
          against: {{other: {against}}}
""",
        encoding="utf-8",
    )
    return suite


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    _, err = capsys.readouterr()
    return int(exc.value.code or 0), err


def test_a_run_judged_against_a_file_and_a_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_jsonl(
        tmp_path / "other.jsonl",
        [
            {"id": "1", "prediction": "medium one"},
            {"id": "2", "prediction": "x"},
            {"id": "3", "prediction": "", "error": "HTTP 503"},
        ],
    )
    suite = _suite(tmp_path, "other.jsonl")
    out = tmp_path / "run"
    code, err = _run(
        ["run", str(suite), "--model", f"python:{tmp_path / 'model.py'}:generate",
         "--out", str(out), "--no-cache"], capsys,
    )  # fmt: skip
    assert code == 0, err
    results = json.loads((out / "results.json").read_text("utf-8"))
    v = {r["metric"]: r["value"] for r in results["results"]}
    # sample 1: "short" beats "medium one" in both orders; sample 2 loses; sample 3 unjudged
    assert v["win_rate"] == pytest.approx(0.5)
    assert v["opponent_failure_rate"] == pytest.approx(1 / 3)
    assert v["flip_rate"] == 0.0
    sig = results["tasks"][0]["metrics"]["judge_pairwise"]
    assert "against:other:" in sig and "template_sha256:" in sig and "judge:" in sig

    # The first run is the opponent of a second one (its samples.jsonl), as a run folder.
    suite2 = _suite(tmp_path, "run", "s2.yaml")
    out2 = tmp_path / "run2"
    code, err = _run(
        ["run", str(suite2), "--model", f"python:{tmp_path / 'model.py'}:generate",
         "--out", str(out2), "--no-cache"], capsys,
    )  # fmt: skip
    assert code == 0, err
    v2 = {
        r["metric"]: r["value"]
        for r in json.loads((out2 / "results.json").read_text("utf-8"))["results"]
    }
    assert v2["win_rate"] == pytest.approx(0.5)  # the same outputs: every pair a tie
    assert v2["tie_rate"] == 1.0


def test_an_opponent_without_a_sample_fails_before_any_model_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"id": "1", "prediction": "a"}, {"id": "2", "prediction": "b"}]
    write_jsonl(tmp_path / "other.jsonl", rows)
    suite = _suite(tmp_path, "other.jsonl")
    code, err = _run(
        ["run", str(suite), "--model", f"python:{tmp_path / 'model.py'}:generate",
         "--out", str(tmp_path / "run"), "--no-cache"], capsys,
    )  # fmt: skip
    assert code == 2
    assert "data.jsonl:3" in err and "system 'other' has no output for id '3'" in err
    assert not (tmp_path / "model.called").exists()


def test_missing_opponent_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = _suite(tmp_path, "nowhere.jsonl")
    code, err = _run(["validate", str(suite)], capsys)
    assert code == 2
    assert "s.yaml:" in err and "nowhere.jsonl" in err and "not found" in err


@pytest.mark.parametrize(("opponents", "orders"), [(1, "both"), (1, "ab"), (2, "both")])
def test_resample_block_weights_the_counts(opponents: int, orders: str) -> None:
    """The block builds no resample: count-weighted rates, a weighted Spearman over the
    judged entries and (three systems) a Bradley-Terry fit of the weighted wins, equal to
    the values of each resample's rows."""
    rng = np.random.default_rng(17)
    n = 120
    names = ["b", "c"][:opponents]
    against = {
        x: {
            str(i): None if rng.random() < 0.1 else "w " * int(rng.integers(1, 9)) for i in range(n)
        }
        for x in names
    }
    m = PairwiseJudge(model="python:j:prefer", against=against, orders=orders)
    pairs = len(m.pairs)
    per_pair = 2 if orders == "both" else 1
    choices = ["A", "B", "tie", None, "I prefer A"]
    samples = []
    for i in range(n):
        pred = "w " * int(rng.integers(1, 9))
        judged = sum(1 for x in names if against[x][str(i)] is not None)
        ws = [
            choices[int(rng.choice(5, p=[0.4, 0.3, 0.15, 0.1, 0.05]))]
            for _ in range(judged * per_pair)
        ]
        samples.append(sample(str(i), pred, *ws))
    stats = m.sample_stats(samples)
    idx = rng.integers(0, n, (30, n))
    idx[0] = 3  # one sample drawn n times: length_corr undefined
    counts = np.zeros((30, n))
    for b in range(30):
        np.add.at(counts[b], idx[b], 1)
    block = m.resample_block(stats)(counts)
    for b in range(30):
        want = m.aggregate([stats[i] for i in idx[b]])
        for name in m.interval_values():
            assert block[name][b] == pytest.approx(want[name], rel=1e-9, abs=1e-9, nan_ok=True), (
                name,
                b,
            )
    assert pairs == opponents
    if opponents == 1:  # with two, the one sample's two pairs may still rank
        assert np.isnan(block["length_corr"][0])
