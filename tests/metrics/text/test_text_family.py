"""Text and QA metrics' own behaviour (generic contract: tests/metrics/test_metric_contract.py).

Functional twins equal the classes, malformed predictions and references are named input
errors, and property tests check bounds and that an identical prediction scores the best value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evalkit.metrics
from evalkit._validate import as_samples
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.base import Metric, VectorMetric
from evalkit.registry import METRICS
from evalkit.types import Sample
from tests.metric_examples import PREDICTIONS, REFERENCES, TEXT_PARAMS


@dataclass(frozen=True)
class Range:
    """Inclusive bounds of every value, and the headline value of an identical prediction."""

    low: float
    high: float
    best: float
    #: How far below ``best`` an identical prediction may score (METEOR: one chunk of m
    #: matches still costs gamma / m**beta).
    identity_tol: float = 1e-9


RANGES: dict[str, Range] = {
    # default gamma/beta; property sentences have >= 4 words
    "meteor": Range(0.0, 1.0, 1.0, identity_tol=0.5 / 4**3 + 1e-9),
    "bertscore": Range(-1.0, 1.0, 1.0, identity_tol=1e-6),
    "bleu": Range(0.0, 100.0, 100.0),
    "chrf": Range(0.0, 100.0, 100.0),
    "ter": Range(0.0, math.inf, 0.0),
    "rouge": Range(0.0, 1.0, 1.0),
    "exact_match": Range(0.0, 1.0, 1.0),
    "token_f1": Range(0.0, 1.0, 1.0),
}
NAMES = sorted(RANGES)

#: Metrics whose corpus value is not a function of summed per-sample statistics (BERTScore with
#: ``idf=True`` recomputes document frequencies over the references it aggregates).
NON_ADDITIVE = {"bertscore"}


def _cls(name: str) -> type[Metric]:
    cls = METRICS.get(name)
    assert isinstance(cls, type) and issubclass(cls, Metric)
    return cls


def _custom(name: str) -> dict[str, object]:
    return dict(TEXT_PARAMS[name][0][0])


def test_every_text_metric_has_a_range() -> None:
    assert set(RANGES) == set(TEXT_PARAMS)


@pytest.mark.parametrize("name", NAMES)
def test_text_metadata(name: str) -> None:
    cls = _cls(name)
    assert cls.requires == frozenset({"prediction", "references"})
    assert cls.request_kind == "generate"
    assert issubclass(cls, VectorMetric) or name in NON_ADDITIVE


def test_ter_is_lower_is_better() -> None:
    assert _cls("ter").higher_is_better is False
    assert all(_cls(n).higher_is_better for n in NAMES if n != "ter")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("params", ["default", "custom"])
def test_functional_twin_equals_class(name: str, params: str) -> None:
    kw = _custom(name) if params == "custom" else {}
    _cls(name)  # import the metric's module first (it must not shadow the twin)
    twin = getattr(evalkit.metrics, name)
    got = twin(PREDICTIONS, REFERENCES, **kw)
    want = _cls(name).build(kw).score(as_samples(name, PREDICTIONS, REFERENCES))
    assert got == want
    assert evalkit.metrics.score(name, PREDICTIONS, REFERENCES, **kw) == want
    assert got.name == _cls(name).build(kw).value_names()[0]
    assert got.n == len(PREDICTIONS)
    assert got.value == got.details[got.name]


@pytest.mark.parametrize("name", NAMES)
def test_twin_refuses_unknown_parameters(name: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name}: unknown parameter 'no_such_param'"):
        getattr(evalkit.metrics, name)(PREDICTIONS, REFERENCES, no_such_param=1)


def test_importing_every_metric_module_keeps_the_twins_callable() -> None:
    """No metric module may share a name with a functional twin: importing a submodule sets
    the package attribute of that name and would replace the function."""
    for name in (n for n in evalkit.metrics.__all__ if n != "score"):
        _cls(name)  # imports the module behind the registry entry
        assert callable(getattr(evalkit.metrics, name)), name
    assert evalkit.metrics.rouge(["a b"], [["a b"]]).value == 1.0


@pytest.mark.parametrize("name", NAMES)
def test_malformed_input_is_an_input_error(name: str) -> None:
    twin = getattr(evalkit.metrics, name)
    flat = [refs[0] for refs in REFERENCES]  # sacrebleu-style stream, not per-sample lists
    with pytest.raises(InputError, match=r"references\[0\] is a string"):
        twin(PREDICTIONS, flat)
    with pytest.raises(InputError, match="differ in length"):
        twin(PREDICTIONS, REFERENCES[:-1])
    with pytest.raises(InputError, match=r"references\[1\] is empty"):
        twin(["a", "b"], [["a"], []])
    with pytest.raises(InputError, match="predictions is a string"):
        twin("a b", [["a b"]])
    with pytest.raises(InputError, match=r"references\[0\]\[1\] is int"):
        twin(["a"], [["a", 3]])
    with pytest.raises(InputError, match=r"predictions\[0\] is NoneType"):
        twin([None], [["a"]])


@pytest.mark.parametrize("name", NAMES)
def test_class_refuses_unscorable_samples(name: str) -> None:
    """The runner builds Samples itself; a missing prediction or reference is an error."""
    metric = _cls(name)()
    ok = Sample(id="ok", references=("a b",), prediction="a b")
    with pytest.raises(InputError, match="sample 'p' has no prediction"):
        metric.sample_stats([ok, Sample(id="p", references=("a",))])
    with pytest.raises(InputError, match="sample 'r' has no references"):
        metric.sample_stats([ok, Sample(id="r", prediction="a")])


# ---------------------------------------------------------------------------- properties

_ANY_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], max_codepoint=0x30FF), max_size=40
)
_WORD = st.text(alphabet="abcdefghij", min_size=1, max_size=6)
_SENTENCE = st.lists(_WORD, min_size=4, max_size=12).map(" ".join)
_PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", NAMES)
@_PROPS
@given(
    data=st.lists(
        st.tuples(
            _ANY_TEXT,
            st.lists(_ANY_TEXT, min_size=1, max_size=3).filter(
                lambda rs: any(r.strip() for r in rs)
            ),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_values_stay_in_bounds(name: str, data: list[tuple[str, list[str]]]) -> None:
    bounds = RANGES[name]
    preds = [p for p, _ in data]
    refs = [r for _, r in data]
    score = getattr(evalkit.metrics, name)(preds, refs)
    for key, value in score.details.items():
        # 1e-9 of slack: sacrebleu's BLEU of a perfect match is exp(log(100)) = 100.00000000000004.
        assert bounds.low - 1e-9 <= value <= bounds.high + 1e-9, (key, value)


@pytest.mark.parametrize("name", NAMES)
@_PROPS
@given(
    data=st.lists(
        st.tuples(_SENTENCE, st.lists(_SENTENCE, max_size=2), st.integers(0, 2)),
        min_size=1,
        max_size=5,
    )
)
def test_identity_gives_the_best_score(name: str, data: list[tuple[str, list[str], int]]) -> None:
    """A prediction equal to one of its references scores the best value."""
    preds = [p for p, _, _ in data]
    refs = [[*others[:k], p, *others[k:]] for p, others, k in data]
    score = getattr(evalkit.metrics, name)(preds, refs)
    assert score.value == pytest.approx(RANGES[name].best, abs=RANGES[name].identity_tol)
    if name == "rouge":  # precision and recall are perfect too
        assert all(v == pytest.approx(1.0) for v in score.details.values())
