"""The hf_evaluate: bridge: local evaluate modules in suites; offline refusal is immediate."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from evalkit.errors import AssetError, ConfigError
from evalkit.registry import METRICS
from evalkit.runner import run_suite
from evalkit.suite import load_suite
from tests.conftest import ROOT, write_jsonl

MODULE = ROOT / "tests" / "fixtures" / "evaluate_modules" / "token_recall"

pytest.importorskip("evaluate")


def _suite(tmp_path: Path, metric: str) -> Path:
    rows = [
        {"id": "1", "question": "The cat sat", "answer": "the cat sat down"},
        {"id": "2", "question": "a dog", "answer": "A dog barked"},
        {"id": "3", "question": "nothing", "answer": "something else"},
    ]
    write_jsonl(tmp_path / "data.jsonl", rows)
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: bridge\nbootstrap: {resamples: 20}\ntasks:\n  - name: t\n"
        "    dataset: {path: data.jsonl, references: answer}\n"
        '    prompt: "{question}"\n'
        f"    metrics:\n      - {metric}\n"
    )
    return suite


def test_local_module_in_a_suite_equals_direct_compute(tmp_path: Path) -> None:
    import evaluate

    metric = (
        f'"hf_evaluate:{MODULE}": {{compute_args: {{lowercase: true}}, values: [token_recall]}}'
    )
    outcome = run_suite(_suite(tmp_path, metric), "scripted:echo", tmp_path / "r")
    row = next(r for r in outcome.results if r["metric"] == "token_recall")
    direct = evaluate.load(str(MODULE)).compute(
        predictions=["The cat sat", "a dog", "nothing"],
        references=[["the cat sat down"], ["A dog barked"], ["something else"]],
        lowercase=True,
    )
    assert row["value"] == pytest.approx(direct["token_recall"], abs=1e-12)
    assert row["ci_low"] <= row["value"] <= row["ci_high"]
    assert f"module:{MODULE}" in row["signature"] and "evaluate:" in row["signature"]


def test_values_are_discovered_when_not_named() -> None:
    metric = METRICS.get(f"hf_evaluate:{MODULE}").build({})
    assert set(metric.value_names()) == {"token_recall", "n"}


def test_unknown_compute_key_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="returned no f1"):
        METRICS.get(f"hf_evaluate:{MODULE}").build({"values": ["f1"]})
    with pytest.raises(ConfigError, match="compute_args"):
        METRICS.get(f"hf_evaluate:{MODULE}").build({"compute_args": {"no_such_arg": 1}})


def test_hub_module_offline_fails_fast_and_clearly(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(AssetError, match=r"not available offline.*never downloads"):
        METRICS.get("hf_evaluate:sacrebleu").build({})
    assert time.monotonic() - start < 60
    suite = _suite(tmp_path, '"hf_evaluate:no_such_metric_xyz"')
    with pytest.raises(ConfigError, match=r"tasks\[0\]\.metrics\[0\].*not available offline"):
        load_suite(suite)


def test_bad_parameters() -> None:
    cls = METRICS.get(f"hf_evaluate:{MODULE}")
    with pytest.raises(ConfigError, match="references"):
        cls.build({"references": "all"})
    with pytest.raises(ConfigError, match="unknown parameter"):
        cls.build({"lowercase": True})
