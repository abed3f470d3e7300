"""calibration against torchmetrics (equal-width bins) and HELM's package (equal-mass bins).

HELM computes ``ece_10_bin`` with ``calibration.get_ece_em(max_probs, correct, num_bins=10)``
from Kumar et al.'s ``uncertainty-calibration`` package; the tests import that package.
"""

from __future__ import annotations

import math
from typing import Any

import calibration as helm_cal  # uncertainty-calibration, the package HELM calls
import numpy as np
import pytest
import torch
from sklearn.metrics import brier_score_loss
from torchmetrics.functional.classification import (
    binary_calibration_error,
    multiclass_calibration_error,
)

from evalkit.errors import ConfigError, InputError
from evalkit.metrics import calibration
from evalkit.metrics.classification.calibration import Calibration, Norm, reliability_bins
from evalkit.types import Sample

RNG = np.random.default_rng(2026)


def _binary(n: int, *, edges: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of the positive class and 0/1 targets (mildly over-confident)."""
    # With ``edges``: confidences exactly on the edges k / edges, 0 and 1 included.
    p = RNG.integers(0, edges + 1, n) / edges if edges else RNG.beta(0.7, 0.7, n)
    y = (RNG.random(n) < 0.15 + 0.7 * p).astype(int)
    return p, y


def _positive(p: np.ndarray, y: np.ndarray, **params: Any) -> Any:
    refs = [["yes" if t else "no"] for t in y]
    preds = ["yes" if q >= 0.5 else "no" for q in p]
    return calibration(preds, refs, list(p), target="positive", positive_label="yes", **params)


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("n_bins", [1, 4, 10, 15])
@pytest.mark.parametrize("n", [1, 17, 500])
def test_binary_equals_torchmetrics(n: int, n_bins: int, norm: Norm) -> None:
    p, y = _binary(n)
    got = _positive(p, y, n_bins=n_bins, norm=norm, edge="torchmetrics")
    ref = binary_calibration_error(
        torch.tensor(p, dtype=torch.float64), torch.tensor(y), n_bins=n_bins, norm=norm
    )
    assert got.value == pytest.approx(float(ref), abs=1e-12)
    assert got.details["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-15)


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("n_bins", [2, 4, 8])  # edges k / n_bins are exact in binary
def test_confidences_on_edges_equal_torchmetrics(n_bins: int, norm: Norm) -> None:
    p, y = _binary(300, edges=n_bins)
    assert (p == 1.0).any() and (p == 0.5).any()
    ref = float(
        binary_calibration_error(
            torch.tensor(p, dtype=torch.float64), torch.tensor(y), n_bins=n_bins, norm=norm
        )
    )
    assert _positive(p, y, n_bins=n_bins, norm=norm, edge="torchmetrics").value == pytest.approx(
        ref, abs=1e-12
    )
    # "upper" differs from torchmetrics only by putting 1.0 into the last bin.
    p_below = np.where(p == 1.0, 0.999, p)
    ref_below = float(
        binary_calibration_error(
            torch.tensor(p_below, dtype=torch.float64), torch.tensor(y), n_bins=n_bins, norm=norm
        )
    )
    upper = _positive(p_below, y, n_bins=n_bins, norm=norm)
    assert upper.value == pytest.approx(ref_below, abs=1e-12)


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("n_bins", [5, 15])
def test_multiclass_top_label_equals_torchmetrics(n_bins: int, norm: Norm) -> None:
    classes = ["ant", "bee", "cat", "dog"]
    logits = RNG.normal(size=(400, 4)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    target = np.array(
        [RNG.choice(4, p=row) if RNG.random() < 0.7 else RNG.integers(4) for row in probs]
    )
    top = probs.argmax(axis=1)
    got = calibration(
        [classes[i] for i in top],
        [[classes[t]] for t in target],
        list(probs.max(axis=1)),
        n_bins=n_bins,
        norm=norm,
    )
    ref = multiclass_calibration_error(
        torch.tensor(probs), torch.tensor(target), num_classes=4, n_bins=n_bins, norm=norm
    )
    # torchmetrics' multiclass path works in float32 (its softmax check casts), so agreement
    # is to float32 precision; the binary path above keeps float64 and agrees to 1e-12.
    assert got.value == pytest.approx(float(ref), abs=2e-6)


@pytest.mark.parametrize("num_bins", [1, 3, 10, 15, 40])
@pytest.mark.parametrize("ties", [False, True])
def test_equal_mass_equals_helm(num_bins: int, ties: bool) -> None:
    p, y = _binary(37)
    if ties:  # many equal confidences: edges collapse and bins merge
        p = np.round(p * 4) / 4
    got = _positive(p, y, binning="equal_mass", n_bins=num_bins)
    assert got.value == pytest.approx(helm_cal.get_ece_em(p, y, num_bins=num_bins), abs=1e-12)
    l2 = helm_cal.lower_bound_scaling_ce(
        p, y, p=2, debias=False, num_bins=num_bins, binning_scheme=helm_cal.get_equal_bins
    )
    got_l2 = _positive(p, y, binning="equal_mass", n_bins=num_bins, norm="l2")
    assert got_l2.value == pytest.approx(l2, abs=1e-12)


def test_equal_mass_top_label_equals_helm() -> None:
    probs = RNG.dirichlet([1.0, 1.0, 1.0], size=120)
    target = RNG.integers(0, 3, 120)
    top = probs.argmax(axis=1)
    got = calibration(
        [str(i) for i in top],
        [[str(t)] for t in target],
        list(probs.max(axis=1)),
        binning="equal_mass",
        n_bins=10,
    )
    ref = helm_cal.get_ece_em(probs, target, num_bins=10, mode="top-label")
    assert got.value == pytest.approx(ref, abs=1e-12)


def test_helm_equal_width_uses_the_lower_edge_rule() -> None:
    # uncertainty-calibration's get_ece (equal-width, Guo et al.) puts an edge value in the bin
    # below (searchsorted left): evalkit's edge "lower".
    p, y = _binary(200, edges=10)
    got = _positive(p, y, n_bins=10, edge="lower")
    assert got.value == pytest.approx(helm_cal.get_ece(p, y, num_bins=10), abs=1e-12)


def test_edge_rules_by_hand() -> None:
    conf, correct = [0.0, 0.5, 0.5, 1.0], [0.0, 1.0, 0.0, 1.0]
    upper = reliability_bins(conf, correct, n_bins=2, edge="upper")
    lower = reliability_bins(conf, correct, n_bins=2, edge="lower")
    torchm = reliability_bins(conf, correct, n_bins=2, edge="torchmetrics")
    assert [b.n for b in upper] == [1, 3]
    assert [b.n for b in lower] == [3, 1]
    assert [(b.low, b.high, b.n) for b in torchm] == [
        (0.0, 0.5, 1),
        (0.5, 1.0, 2),
        (1.0, 1.0, 1),
    ]


def test_equal_width_keeps_empty_bins_for_the_diagram() -> None:
    bins = reliability_bins([0.05, 0.95], [0, 1], n_bins=4)
    assert [b.n for b in bins] == [1, 0, 0, 1]
    assert math.isnan(bins[1].accuracy)


def test_resolved_edge_is_in_the_signature() -> None:
    assert "edge:upper" in Calibration().signature()
    assert "edge:lower" in Calibration(binning="equal_mass").signature()
    assert "binning:equal_mass" in Calibration(binning="equal_mass").signature()


def test_dataset_field_confidences_from_csv_text() -> None:
    samples = [
        Sample(id="1", inputs={"p": "0.9"}, prediction="a", references=("a",)),
        Sample(id="2", inputs={"p": 0.2}, prediction="b", references=("a",)),
    ]
    m = Calibration(confidence_from="dataset", confidence_field="p", n_bins=1)
    assert m.sample_stats(samples) == [[0.9, 1.0], [0.2, 0.0]]
    assert m.score(samples).value == pytest.approx(abs(0.5 - 0.55))


@pytest.mark.parametrize("value", [1.5, -0.1, float("nan"), "high", True, None, float("inf")])
def test_bad_confidence_names_sample_and_field(value: Any) -> None:
    s = Sample(id="q7", prediction="a", references=("a",), outputs={"confidence": value})
    with pytest.raises(InputError, match=r"sample 'q7': model output 'confidence' must be a prob"):
        Calibration().sample_stats([s])


def test_missing_confidence() -> None:
    s = Sample(id="q8", inputs={}, prediction="a", references=("a",))
    with pytest.raises(InputError, match="sample 'q8': dataset field 'conf' is missing"):
        Calibration(confidence_from="dataset", confidence_field="conf").sample_stats([s])
    with pytest.raises(InputError, match="sample 'q8': model output 'confidence' is missing"):
        Calibration().sample_stats([s])


@pytest.mark.parametrize(
    "params,message",
    [
        ({"target": "positive"}, "target 'positive' needs positive_label"),
        ({"positive_label": "yes"}, "positive_label is only used with target 'positive'"),
        ({"n_bins": 0}, "n_bins must be between 1 and 10000"),
        ({"norm": "l3"}, "norm='l3' is not allowed"),
        ({"binning": "quantile"}, "binning='quantile' is not allowed"),
        ({"edge": "left"}, "edge='left' is not allowed"),
    ],
)
def test_bad_parameters(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Calibration.build(params)


def test_twin_checks_lengths() -> None:
    with pytest.raises(InputError, match="predictions and confidences differ in length"):
        calibration(["a"], [["a"]], [0.5, 0.2])


def test_bootstrap_of_ece_resamples_bins() -> None:
    from evalkit.stats import bootstrap_ci

    p, y = _binary(200)
    m = Calibration(target="positive", positive_label="yes", n_bins=10)
    stats = [[float(q), float(t)] for q, t in zip(p, y, strict=True)]
    ci = bootstrap_ci(m, stats, resamples=200, rng=np.random.default_rng(0))
    value = m.aggregate(stats)
    assert ci["brier"][0] < value["brier"] < ci["brier"][1]
    assert 0 <= ci["ece"][0] < ci["ece"][1] <= 1
