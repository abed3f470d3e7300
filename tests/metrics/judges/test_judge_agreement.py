"""Agreement between two judges: two runs of one task, each graded by its own judge.

Equal to scikit-learn's weighted kappa, the krippendorff package and scipy on the values the
runs recorded; a sample one judge could not score is left out and counted.
"""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import cohen_kappa_score

from evalkit.cli import main
from tests.conftest import write_jsonl

#: Per answer, the grades of judge A and judge B (None: B answers with no verdict).
GRADES = {
    "Paris": (5, 5), "Lyon": (1, 2), "Rome": (4, 5), "Oslo": (3, 3), "Bern": (2, 1),
    "Nice": (4, 3), "Graz": (1, 1), "Kiev": (3, None), "Riga": (5, 4), "Baku": (2, 2),
}  # fmt: skip

JUDGE = """\
import json
GRADES = {grades}


def grade(prompts):
    out = []
    for p in prompts:
        answer = p.rsplit("Answer: ", 1)[1].strip()
        g = GRADES[answer][{which}]
        out.append("no verdict" if g is None else json.dumps({{"score": g}}))
    return out
"""


def _run(tmp: Path, which: int, capsys: pytest.CaptureFixture[str]) -> Path:
    judge = tmp / f"judge{which}.py"
    judge.write_text(JUDGE.format(grades=repr(GRADES), which=which), encoding="utf-8")
    suite = tmp / f"s{which}.yaml"
    suite.write_text(
        "name: j\nbootstrap: {resamples: 20}\ntasks:\n  - name: t\n"
        "    dataset: {path: data.jsonl, id: id}\n    prompt: '{q}'\n    metrics:\n"
        f"      - judge: {{model: 'python:judge{which}.py:grade',\n"
        "                 template: 'Answer: {prediction}'}\n",
        encoding="utf-8",
    )
    out = tmp / f"run{which}"
    with pytest.raises(SystemExit) as exc:
        main(["run", str(suite), "--model", f"predictions:{tmp / 'preds.jsonl'}",
              "--out", str(out), "--no-cache"])  # fmt: skip
    assert exc.value.code in (0, None), capsys.readouterr().err
    return out


def test_two_judges_agree_as_the_references_compute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = list(GRADES)
    write_jsonl(tmp_path / "data.jsonl", [{"id": str(i), "q": "?"} for i in range(len(answers))])
    write_jsonl(
        tmp_path / "preds.jsonl", [{"id": str(i), "prediction": a} for i, a in enumerate(answers)]
    )
    a, b = _run(tmp_path, 0, capsys), _run(tmp_path, 1, capsys)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["agreement", str(a), str(b), "--json", str(tmp_path / "agree.json"),
              "--resamples", "200"])  # fmt: skip
    out = capsys.readouterr().out
    assert exc.value.code in (0, None)
    doc = json.loads((tmp_path / "agree.json").read_text("utf-8"))
    assert doc["n"] == 9 and doc["left_out"] == 1  # Kiev: judge B gave no verdict
    x = [g for g, h in GRADES.values() if h is not None]
    y = [h for _, h in GRADES.values() if h is not None]
    v = doc["values"]
    assert v["kappa"]["value"] == pytest.approx(
        cohen_kappa_score(x, y, labels=[1, 2, 3, 4, 5], weights="quadratic")
    )
    assert v["alpha"]["value"] == pytest.approx(
        krippendorff.alpha(
            reliability_data=np.array([x, y], dtype=float),
            level_of_measurement="ordinal",
            value_domain=[1, 2, 3, 4, 5],
        )
    )
    assert v["spearman"]["value"] == pytest.approx(sps.spearmanr(x, y).statistic)
    assert v["kendall"]["value"] == pytest.approx(sps.kendalltau(x, y).statistic)
    for k in ("kappa", "alpha", "spearman", "kendall"):
        assert v[k]["ci_low"] <= v[k]["value"] <= v[k]["ci_high"]
    assert "9 samples scored by both judges (1 left out)" in out


def test_a_run_without_the_metric_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_jsonl(tmp_path / "data.jsonl", [{"id": "0", "q": "?"}])
    write_jsonl(tmp_path / "preds.jsonl", [{"id": "0", "prediction": "Paris"}])
    a = _run(tmp_path, 0, capsys)
    with pytest.raises(SystemExit) as exc:
        main(["agreement", str(a), str(a), "--metric", "judge_pairwise"])
    assert exc.value.code == 2
    assert "no task with the metric 'judge_pairwise'" in capsys.readouterr().err
