"""choice_calibration: confidences from the choices' softmax, against torchmetrics and HELM."""

from __future__ import annotations

import calibration as helm_cal  # uncertainty-calibration, the package HELM calls
import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import multiclass_calibration_error

from evalkit.errors import InputError
from evalkit.metrics import choice_accuracy, choice_calibration
from evalkit.metrics.classification.calibration import Norm
from evalkit.metrics.classification.choice_calibration import ChoiceCalibration
from evalkit.types import Sample

RNG = np.random.default_rng(7)


def _items(n: int, k: int = 4) -> tuple[np.ndarray, list[int], list[list[str]]]:
    lls = RNG.normal(size=(n, k)) * 2 - 5
    probs = np.exp(lls) / np.exp(lls).sum(axis=1, keepdims=True)
    gold = [
        int(RNG.choice(k, p=row)) if RNG.random() < 0.7 else int(RNG.integers(k)) for row in probs
    ]
    words = ["ant", "bee", "cat", "dog", "emu", "fox"]
    choices = [[words[(i + j) % len(words)] * (1 + j) for j in range(k)] for i in range(n)]
    return lls, gold, choices


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("n_bins", [5, 15])
def test_equals_torchmetrics_on_the_choices_softmax(n_bins: int, norm: Norm) -> None:
    lls, gold, choices = _items(300)
    got = choice_calibration(lls.tolist(), gold, choices, n_bins=n_bins, norm=norm)
    probs = torch.softmax(torch.tensor(lls), dim=1)
    ref = multiclass_calibration_error(
        probs, torch.tensor(gold), num_classes=4, n_bins=n_bins, norm=norm
    )
    assert got.value == pytest.approx(float(ref), abs=2e-6)  # torchmetrics works in float32
    top = probs.numpy().max(axis=1)
    right = (probs.numpy().argmax(axis=1) == np.array(gold)).astype(float)
    assert got.details["brier"] == pytest.approx(float(np.mean((top - right) ** 2)), abs=1e-12)
    # the accuracy of these answers is choice_accuracy's acc
    assert float(right.mean()) == pytest.approx(choice_accuracy(lls.tolist(), gold, choices).value)


def test_equal_mass_equals_helm() -> None:
    lls, gold, choices = _items(60, k=3)
    got = choice_calibration(lls.tolist(), gold, choices, binning="equal_mass", n_bins=10)
    probs = np.exp(lls - lls.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    right = (probs.argmax(axis=1) == np.array(gold)).astype(int)
    want = helm_cal.get_ece_em(probs.max(axis=1), right, num_bins=10)
    assert got.value == pytest.approx(want, abs=1e-12)


def test_norm_answers_as_acc_norm_and_large_logprobs_do_not_underflow() -> None:
    # raw: "no" (-4 > -6); per character: "yes sir" (-6/7 > -4/2), which is right.
    lls, gold, choices = [[-4000.0, -4002.0]], [1], [["no", "yes sir"]]
    raw = choice_calibration(lls, gold, choices, n_bins=1)
    norm = choice_calibration(lls, gold, choices, n_bins=1, answer="norm")
    p_no = 1 / (1 + np.exp(-2.0))
    assert raw.value == pytest.approx(p_no)  # confident and wrong: |0 - p|
    assert norm.value == pytest.approx(1 - (1 - p_no))  # right with p = 1 - p_no
    assert choice_accuracy(lls, gold, choices).details["acc_norm"] == 1.0


def test_bad_items_name_the_sample() -> None:
    m = ChoiceCalibration()
    bad = Sample("q7", inputs={"choices": ["a", "b"], "gold": 5}, where="items.jsonl:7")
    with pytest.raises(InputError, match=r"items.jsonl:7: field 'gold': index 5"):
        m.request_continuations(bad)
    no_lls = Sample("q8", inputs={"choices": ["a", "b"], "gold": 0}, where="items.jsonl:8")
    with pytest.raises(InputError, match=r"choice_calibration: items.jsonl:8 has no per-choice"):
        m.sample_stats([no_lls])
    with pytest.raises(InputError, match="differ in length"):
        choice_calibration([[-1.0, -2.0]], [0, 1], [["a", "b"]])
