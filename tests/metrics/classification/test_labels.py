"""accuracy and f1 against scikit-learn, label by label, with absent and extra labels."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from evalkit.errors import ConfigError, InputError
from evalkit.metrics import accuracy, f1
from evalkit.metrics.classification.labels import (
    F1,
    class_counts,
    label_pairs,
    to_label,
)
from evalkit.metrics.classification.labels import confusion_matrix as ek_confusion_matrix
from evalkit.types import Sample


def _corpora() -> list[tuple[list[str], list[str]]]:
    """Seeded label lists: balanced, skewed, a class never predicted, one never true."""
    rng = random.Random(17)
    out = []
    for n, classes, skew in ((40, "abc", 0.0), (60, "abcde", 0.6), (7, "ab", 0.3), (1, "a", 0)):
        truth = [rng.choice(classes) for _ in range(n)]
        pred = [t if rng.random() < skew else rng.choice(classes) for t in truth]
        out.append((truth, pred))
    out.append((["a", "a", "b", "b"], ["a", "a", "a", "a"]))  # "b" never predicted
    out.append((["a", "a", "a"], ["a", "z", "z"]))  # "z" never a reference
    out.append((["x", "y"], ["y", "x"]))  # every prediction wrong
    return out


CORPORA = _corpora()


def _refs(truth: list[str]) -> list[list[str]]:
    return [[t] for t in truth]


@pytest.mark.parametrize("truth,pred", CORPORA)
def test_accuracy_equals_sklearn(truth: list[str], pred: list[str]) -> None:
    assert accuracy(pred, _refs(truth)).value == accuracy_score(truth, pred)


@pytest.mark.parametrize("zero_division", [0.0, 1.0])
@pytest.mark.parametrize("average", ["micro", "macro", "weighted"])
@pytest.mark.parametrize("truth,pred", CORPORA)
def test_f1_equals_sklearn(
    truth: list[str], pred: list[str], average: str, zero_division: float
) -> None:
    got = f1(pred, _refs(truth), average=average, zero_division=zero_division).details
    p, r, f, _ = precision_recall_fscore_support(
        truth, pred, average=average, zero_division=zero_division
    )
    assert got[f"precision_{average}"] == pytest.approx(p, abs=1e-15)
    assert got[f"recall_{average}"] == pytest.approx(r, abs=1e-15)
    assert got[f"f1_{average}"] == pytest.approx(f, abs=1e-15)


@pytest.mark.parametrize("zero_division", [0.0, 1.0])
@pytest.mark.parametrize("average", ["micro", "macro", "weighted"])
@pytest.mark.parametrize(
    "labels",
    [["a", "b"], ["b", "a", "q"], ["q"], ["z", "a"]],  # subsets, a label in neither list
)
@pytest.mark.parametrize("truth,pred", CORPORA[:2] + CORPORA[4:6])
def test_declared_labels_equal_sklearn(
    truth: list[str], pred: list[str], labels: list[str], average: str, zero_division: float
) -> None:
    got = f1(pred, _refs(truth), average=average, labels=labels, zero_division=zero_division)
    kw: dict[str, Any] = {"labels": labels, "zero_division": zero_division}
    p, r, f, _ = precision_recall_fscore_support(truth, pred, average=average, **kw)
    assert got.value == pytest.approx(f, abs=1e-15)
    assert got.details[f"precision_{average}"] == pytest.approx(p, abs=1e-15)
    assert got.details[f"recall_{average}"] == pytest.approx(r, abs=1e-15)
    pc, rc, fc, _ = precision_recall_fscore_support(truth, pred, average=None, **kw)
    for i, label in enumerate(labels):
        assert got.details[f"precision[{label}]"] == pytest.approx(pc[i], abs=1e-15)
        assert got.details[f"recall[{label}]"] == pytest.approx(rc[i], abs=1e-15)
        assert got.details[f"f1[{label}]"] == pytest.approx(fc[i], abs=1e-15)


@pytest.mark.parametrize("labels", [None, ["b", "a"], ["a", "q", "z"]])
@pytest.mark.parametrize("truth,pred", CORPORA)
def test_confusion_matrix_equals_sklearn(
    truth: list[str], pred: list[str], labels: list[str] | None
) -> None:
    names, matrix = ek_confusion_matrix([[t, p] for t, p in zip(truth, pred, strict=False)], labels)
    if labels is not None and not set(labels) & set(truth):
        # scikit-learn refuses a label list without a reference label; evalkit counts zeros.
        with pytest.raises(ValueError, match="At least one label"):
            confusion_matrix(truth, pred, labels=labels)
        assert not any(map(any, matrix))
        return
    expected = confusion_matrix(truth, pred, labels=labels)
    assert np.array_equal(np.array(matrix), expected)
    assert list(names) == (labels or sorted(set(truth) | set(pred)))


def test_micro_equals_accuracy_when_every_class_counts() -> None:
    truth, pred = CORPORA[1]
    assert f1(pred, _refs(truth), average="micro").value == pytest.approx(
        accuracy(pred, _refs(truth)).value, abs=1e-15
    )


def test_counts_by_hand() -> None:
    # References a a b c, predictions a b b b: a tp1 fn1; b tp1 fp2; c fn1.
    c = class_counts([["a", "a"], ["a", "b"], ["b", "b"], ["c", "b"]])
    assert (c.tp.tolist(), c.fp.tolist(), c.fn.tolist(), c.support.tolist()) == (
        [1, 1, 0],
        [0, 2, 0],
        [1, 0, 1],
        [2, 1, 1],
    )


def test_normalisation() -> None:
    assert to_label("  Yes \n", "lower") == "yes"
    assert accuracy(["Yes ", "no"], [["yes"], ["No"]], normalize="lower").value == 1.0
    assert accuracy(["Yes ", "no"], [["yes"], ["No"]]).value == 0.0
    assert accuracy([" a"], [["a"]], normalize="none").value == 0.0
    with pytest.raises(ConfigError, match="empty or repeated after normalize='lower'"):
        F1(labels=["A", "a"], normalize="lower")


def test_per_sample_values() -> None:
    # A sample's own macro F1 over the union of its two labels: 1 when right, 0 when wrong.
    m = F1()
    assert m.per_sample_values([["a", "a"], ["a", "b"]])["f1_macro"] == [1.0, 0.0]


@pytest.mark.parametrize(
    "params,message",
    [
        ({"average": "samples"}, "average='samples' is not allowed"),
        ({"labels": []}, "labels: must list at least one label"),
        ({"labels": ["a", "a"]}, "lists a label twice"),
        ({"zero_division": 0.5}, "zero_division: must be 0 or 1"),
        ({"zero_division": "warn"}, "zero_division must be float"),
    ],
)
def test_bad_parameters(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        F1.build(params)


def test_bad_samples_name_sample_and_field() -> None:
    with pytest.raises(InputError, match="sample '1': field 'references' must hold exactly one"):
        label_pairs("f1", [Sample(id="1", prediction="a", references=("a", "b"))], "strip")
    with pytest.raises(InputError, match="sample '2': the reference label is empty"):
        label_pairs("f1", [Sample(id="2", prediction="a", references=("  ",))], "strip")
    with pytest.raises(InputError, match="sample '3': field 'prediction' is missing"):
        label_pairs("accuracy", [Sample(id="3", references=("a",))], "strip")


def test_integer_zero_division_from_yaml_is_accepted() -> None:
    # YAML's `zero_division: 1` is an int; the signature shows the float either way.
    assert F1(zero_division=1).signature() == F1(zero_division=1.0).signature()
