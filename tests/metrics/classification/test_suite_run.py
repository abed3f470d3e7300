"""The bundled classification suite end to end, and confidences from each source."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score
from torchmetrics.functional.classification import multiclass_calibration_error

from evalkit.runner import run_suite
from evalkit.store import load_run
from tests.conftest import ROOT

SUITE = ROOT / "suites" / "classification.yaml"
DATA = ROOT / "suites" / "classification"
LABELS = ["positive", "negative", "neutral"]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name in ("a", "b"):
        d = tmp_path_factory.mktemp(f"cls-{name}")
        run_suite(SUITE, f"predictions:{DATA / f'sys_{name}.jsonl'}", d)
        out[name] = d
    return out


def _value(run: Path, task: str, metric: str) -> float:
    rows = load_run(run).results
    return next(r["value"] for r in rows if r["task"] == task and r["metric"] == metric)


@pytest.mark.parametrize("system", ["a", "b"])
def test_run_values_equal_the_reference_libraries(runs: dict[str, Path], system: str) -> None:
    truth = [r["label"] for r in _rows(DATA / "reviews.jsonl")]
    preds = _rows(DATA / f"sys_{system}.jsonl")
    pred = [p["prediction"] for p in preds]
    run = runs[system]
    assert _value(run, "sentiment", "accuracy") == accuracy_score(truth, pred)
    assert _value(run, "sentiment", "f1_macro") == pytest.approx(
        f1_score(truth, pred, average="macro", labels=LABELS, zero_division=0.0), abs=1e-15
    )
    assert _value(run, "sentiment_alt", "f1_weighted") == pytest.approx(
        f1_score(truth, pred, average="weighted", zero_division=0.0), abs=1e-15
    )
    # Top-label ECE: a probability matrix whose argmax is the prediction, with its confidence.
    probs = torch.zeros(len(pred), 3, dtype=torch.float64)
    for i, p in enumerate(preds):
        c = p["outputs"]["confidence"]
        probs[i] = (1 - c) / 2
        probs[i, LABELS.index(p["prediction"])] = c
    target = torch.tensor([LABELS.index(t) for t in truth])
    ref = multiclass_calibration_error(probs, target, num_classes=3, n_bins=10, norm="l1")
    assert _value(run, "sentiment", "ece") == pytest.approx(float(ref), abs=2e-6)


def test_intervals_and_comparison(runs: dict[str, Path]) -> None:
    from evalkit.compare import compare_runs

    rows = {(r["task"], r["metric"]): r for r in load_run(runs["a"]).results}
    acc = rows[("sentiment", "accuracy")]
    assert acc["ci_low"] < acc["value"] < acc["ci_high"]
    assert rows[("sentiment", "ece")]["higher_is_better"] is False
    doc = compare_runs([runs["a"], runs["b"]])
    metrics = {(c["task"], c["metric"]) for c in doc["comparisons"]}
    assert {("sentiment", "f1_macro"), ("sentiment", "ece"), ("sentiment", "brier")} <= metrics
    # System b is over-confident: its Brier score is significantly worse.
    brier = next(c for c in doc["comparisons"] if c["metric"] == "brier")
    assert brier["p_value"] < 0.05


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evalkit", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    "outputs,message",
    [
        ({"confidence": 1.3}, "field 'outputs.confidence' must be a probability in [0, 1]"),
        ({"confidence": "high"}, "field 'outputs.confidence' must be a probability"),
        ("0.9", "field 'outputs' must be a JSON object"),
    ],
)
def test_bad_confidence_in_predictions_file_exits_2(
    tmp_path: Path, outputs: object, message: str
) -> None:
    rows = _rows(DATA / "sys_a.jsonl")
    rows[4]["outputs"] = outputs
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    proc = _cli("run", SUITE, "--model", f"predictions:{preds}", "--out", tmp_path / "run")
    assert proc.returncode == 2, proc.stderr
    assert f"{preds}:5: {message}" in proc.stderr


def test_nan_confidence_in_predictions_file_exits_2(tmp_path: Path) -> None:
    rows = _rows(DATA / "sys_a.jsonl")
    lines = [json.dumps(r) for r in rows]
    lines[2] = lines[2].replace(str(rows[2]["outputs"]["confidence"]), "NaN")
    preds = tmp_path / "preds.jsonl"
    preds.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = _cli("run", SUITE, "--model", f"predictions:{preds}", "--out", tmp_path / "run")
    assert proc.returncode == 2, proc.stderr
    assert f"{preds}:3: field 'outputs.confidence'" in proc.stderr


def test_missing_label_field_exits_2(tmp_path: Path) -> None:
    rows = _rows(DATA / "reviews.jsonl")
    del rows[6]["label"]
    data = tmp_path / "classification"
    data.mkdir()
    (data / "reviews.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    suite = tmp_path / "classification.yaml"
    suite.write_text(SUITE.read_text(encoding="utf-8"), encoding="utf-8")
    proc = _cli(
        "run", suite, "--model", f"predictions:{DATA / 'sys_a.jsonl'}", "--out", tmp_path / "r"
    )
    assert proc.returncode == 2, proc.stderr
    assert "reviews.jsonl:7: field 'label' is missing" in proc.stderr


MODEL = """
def classify(prompts):
    out = []
    for p in prompts:
        review = p.split("Review: ")[1]
        good = any(w in review for w in ("perfectly", "worth", "exceeded"))
        bad = any(w in review for w in ("broke", "waste", "stopped"))
        label = "positive" if good else "negative" if bad else "neutral"
        out.append({"text": label, "confidence": 0.9 if (good or bad) else 0.6})
    return out
"""


def test_confidences_from_a_python_model(tmp_path: Path) -> None:
    model = tmp_path / "model.py"
    model.write_text(MODEL, encoding="utf-8")
    run = tmp_path / "run"
    run_suite(SUITE, f"python:{model}:classify", run)
    assert _value(run, "sentiment", "accuracy") == 1.0
    # Every answer is right: ECE is the mean gap 1 - confidence (2/3 at 0.9, 1/3 at 0.6).
    assert _value(run, "sentiment", "ece") == pytest.approx(2 / 3 * 0.1 + 1 / 3 * 0.4)
    line = load_run(run).samples_for("sentiment")[0]
    assert line["outputs"] == {"confidence": 0.9} and line["stats"]["calibration"] == [0.9, 1.0]
