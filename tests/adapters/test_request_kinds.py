"""Log-likelihood request kinds flow through suite, runner, cache and record."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from evalkit.errors import ConfigError
from evalkit.metrics.base import VectorMetric
from evalkit.registry import METRICS
from evalkit.runner import run_suite
from evalkit.store import load_run
from evalkit.suite import load_suite
from evalkit.types import Sample, Stats
from tests.conftest import SYS_A, write_jsonl


class ToyNLL(VectorMetric):
    """Corpus NLL per token from rolling log-likelihoods (a test metric)."""

    name: ClassVar[str] = "toy_nll"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"loglikelihood_rolling"})
    request_kind: ClassVar[str] = "loglikelihood_rolling"

    def __init__(self, *, stride: int = 4) -> None:
        super().__init__(stride=stride)

    def request_options(self) -> dict[str, Any]:
        return {"stride": self.params["stride"]}

    def value_names(self) -> tuple[str, ...]:
        return ("toy_nll",)

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        return [[s.outputs["nll"], s.outputs["n_tokens"]] for s in batch]

    def from_totals(self, totals: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
        return {"toy_nll": totals[:, 0] / totals[:, 1]}


class ToyChoice(ToyNLL):
    """Mean continuation log-probability (a test metric)."""

    name: ClassVar[str] = "toy_choice"
    request_kind: ClassVar[str] = "loglikelihood"

    def value_names(self) -> tuple[str, ...]:
        return ("toy_choice",)

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        return [[s.outputs["logprob"], 1.0] for s in batch]

    def from_totals(self, totals: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
        return {"toy_choice": totals[:, 0] / totals[:, 1]}


@pytest.fixture(autouse=True)
def _toy_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    # Registered for these tests only, so the registry-wide contract tests do not see them.
    monkeypatch.setitem(METRICS._loaded, "toy_nll", ToyNLL)
    monkeypatch.setitem(METRICS._loaded, "toy_choice", ToyChoice)


def _suite(tmp_path: Path, metrics: str, extra: str = "") -> Path:
    rows = [{"id": str(i), "text": "ab " * (i + 1), "answer": "ab"} for i in range(6)]
    write_jsonl(tmp_path / "d.jsonl", rows)
    p = tmp_path / "s.yaml"
    p.write_text(
        "name: lm\nbootstrap: {resamples: 50}\ntasks:\n  - name: t\n"
        "    dataset: {path: d.jsonl, references: answer}\n"
        f'    prompt: "{{text}}"\n{extra}    metrics: {metrics}\n'
    )
    return p


def test_rolling_requests_reach_the_metric_and_the_cache(tmp_path: Path) -> None:
    suite = _suite(tmp_path, "[toy_nll]")
    assert load_suite(suite).tasks[0].request_kind == "loglikelihood_rolling"
    first = run_suite(suite, "scripted:echo", tmp_path / "r1")
    row = first.results[0]
    # scripted: each token "ab" costs 1.2 nats
    assert row["metric"] == "toy_nll" and math.isclose(row["value"], 1.2)
    lines = load_run(tmp_path / "r1").samples
    assert lines[0]["outputs"] == {"nll": 1.2, "n_tokens": 1} and lines[0]["prediction"] is None
    run_suite(suite, "scripted:echo", tmp_path / "r2")
    second = load_run(tmp_path / "r2").samples
    assert all(s["cached"] for s in second) and second[3]["outputs"] == lines[3]["outputs"]


def test_loglikelihood_needs_a_continuation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="add `continuation"):
        load_suite(_suite(tmp_path, "[toy_choice]"))
    suite = _suite(tmp_path, "[toy_choice]", extra='    continuation: " {answer}"\n')
    outcome = run_suite(suite, "scripted:echo", tmp_path / "r")
    assert outcome.results[0]["value"] == pytest.approx(-0.25)  # "ab" occurs in the prompt


def test_mixed_kinds_and_missing_capability_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="different kinds of model request"):
        load_suite(_suite(tmp_path, "[toy_nll, exact_match]"))
    with pytest.raises(ConfigError, match="cannot serve"):
        run_suite(_suite(tmp_path, "[toy_nll]"), f"predictions:{SYS_A}", tmp_path / "r")
    assert not (tmp_path / "r").exists()
