"""The ``judge`` metric end to end through ``evalkit run``, with a ``python:`` judge.

The judge is a rule-based function in a temporary file (no instruction-tuned model ships): it
gives 5 to an answer naming Paris, else 2 on the first repeat and 1 on the others, and one
unparsed verdict, so every reading has a value worked by hand below.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy import stats as sps
from sklearn.metrics import cohen_kappa_score

from evalkit.cli import main
from tests.conftest import write_jsonl

MODEL = """\
def generate(prompts):
    return ["Paris, of course." if "France" in p else "I do not know, sorry." for p in prompts]
"""

JUDGE = """\
import json


def grade(prompts, seeds):
    out = []
    for prompt, seed in zip(prompts, seeds):
        answer = prompt.split("[Answer to grade]\\n", 1)[1].split("\\n", 1)[0]
        if "Spain" in prompt and seed != 0:
            out.append("I think it is good, but I cannot say more.")
            continue
        value = 5 if "Paris" in answer else 2 if seed == 0 else 1
        out.append(json.dumps({"score": value, "reasoning": "by rule"}))
    return out
"""

ROWS = [
    {"id": "1", "q": "Capital of France?", "a": "Paris", "human": 5},
    {"id": "2", "q": "Capital of Spain?", "a": "Madrid", "human": 1},
    {"id": "3", "q": "Capital of Peru?", "a": "Lima", "human": 2},
    {"id": "4", "q": "France's capital city?", "a": "Paris", "human": 4},
]


def test_judge_through_evalkit_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model.py").write_text(MODEL, encoding="utf-8")
    (tmp_path / "judge.py").write_text(JUDGE, encoding="utf-8")
    write_jsonl(tmp_path / "data.jsonl", ROWS)
    suite = tmp_path / "s.yaml"
    suite.write_text(
        f"""\
name: judged
bootstrap: {{resamples: 50}}
tasks:
  - name: t
    dataset: {{path: data.jsonl, id: id, references: a}}
    prompt: "{{q}}"
    metrics:
      - judge: {{model: "python:{tmp_path / "judge.py"}:grade", repeats: 2, human_label: human}}
""",
        encoding="utf-8",
    )
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["run", str(suite), "--model", f"python:{tmp_path / 'model.py'}:generate",
              "--out", str(out), "--no-cache"])  # fmt: skip
    capsys.readouterr()
    assert exc.value.code in (0, None)
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text("utf-8").splitlines()]
    by_id = {line["id"]: line for line in lines}
    # The record keeps the judge's answers and the per-repeat values or failure kinds.
    assert [j["text"] for j in by_id["2"]["judgments"]["judge"]][1].startswith("I think")
    assert by_id["2"]["stats"]["judge"]["j"] == [[2.0], "unparsed"]
    assert by_id["3"]["stats"]["judge"]["j"] == [[2.0], [1.0]]
    assert by_id["2"]["warnings"]["judge"] == (
        "judge: 1 of 2 verdicts failed: unparsed 'I think it is good, but I cannot say ...'"
    )

    results = json.loads((out / "results.json").read_text("utf-8"))
    v = {
        str(r["metric"]): float(str(r["value"]))
        for r in _rows(results)
        if str(r["signature"]).startswith("judge|")
    }
    # per-sample means: 5, 2 (its unparsed repeat left out, not a 0), 1.5, 5
    assert v["score"] == pytest.approx((5 + 2 + 1.5 + 5) / 4)
    assert v["judge_failure_rate"] == pytest.approx(1 / 8)
    assert v["unscored"] == 0
    assert v["repeat_sd"] == pytest.approx(math.sqrt(0.5) / 3)  # samples 1, 3, 4
    assert v["repeat_agreement"] == pytest.approx(2 / 3)
    lengths = [len("Paris, of course."), len("I do not know, sorry.")] * 2
    lengths = [lengths[0], lengths[1], lengths[1], lengths[0]]
    assert v["length_corr"] == pytest.approx(sps.spearmanr([5, 2, 1.5, 5], lengths).statistic)
    assert v["spearman"] == pytest.approx(sps.spearmanr([5, 2, 1.5, 5], [5, 1, 2, 4]).statistic)
    assert v["kappa"] == pytest.approx(
        cohen_kappa_score([5, 2, 2, 5], [5, 1, 2, 4], labels=[1, 2, 3, 4, 5], weights="quadratic")
    )
    task = results["tasks"][0]
    assert task["warnings"]["judge"] == {by_id["2"]["warnings"]["judge"]: 1}
    sig = task["metrics"]["judge"]
    assert "template_sha256:" in sig and "judge:" in sig and "parser:json" in sig


def _rows(results: dict[str, object]) -> list[dict[str, object]]:
    rows = results["results"]
    assert isinstance(rows, list)
    return rows
