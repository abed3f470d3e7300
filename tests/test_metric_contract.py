"""The metric contract, checked over every registered metric (sklearn's test_common idea).

Each metric in the registry must appear in CASES below (a test fails when one is forgotten) and
then passes the same checks: order invariance, statistics that survive JSON, named errors for
bad parameters and malformed input, value names that match the aggregate, a deterministic
signature with the evalkit version, a functional twin that equals the class, and property tests
for bounds and identity.
"""

from __future__ import annotations

import inspect
import json
import math
import random
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evalkit.metrics
from evalkit import __version__
from evalkit._validate import as_samples
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.base import Metric, VectorMetric, package_version
from evalkit.registry import METRICS
from evalkit.types import Sample


@dataclass(frozen=True)
class Case:
    """What the contract needs to know about one metric."""

    #: Valid non-default parameters that change the number (the signature must change too).
    params: dict[str, Any]
    #: Parameter sets that must fail with ConfigError at construction.
    bad: list[dict[str, Any]]
    #: Inclusive bounds of every value.
    low: float
    high: float
    #: The headline value when every prediction equals one of its references.
    best: float
    #: How far below ``best`` an identical prediction may score (METEOR: one chunk of m
    #: matches still costs gamma / m**beta).
    identity_tol: float = 1e-9


CASES: dict[str, Case] = {
    "meteor": Case(
        params={"alpha": 0.81, "beta": 0.83, "gamma": 0.28, "tokenize": "whitespace"},
        bad=[
            {"alpha": 1.5},
            {"beta": -1.0},
            {"gamma": "0.5"},
            {"alpha": True},
            {"tokenize": "13a"},
        ],
        low=0.0,
        high=1.0,
        best=1.0,
        identity_tol=0.5 / 4**3 + 1e-9,  # default gamma/beta; property sentences have >= 4 words
    ),
    "bertscore": Case(
        params={"num_layers": 4},
        bad=[
            {"num_layers": 7},
            {"num_layers": "5"},
            {"idf": "yes"},
            {"batch_size": 0},
            {"device": "tpu"},
            {"rescale_with_baseline": True},
            {"baseline_path": "baseline.tsv"},
        ],
        low=-1.0,
        high=1.0,
        best=1.0,
        identity_tol=1e-6,
    ),
    "bleu": Case(
        params={"tokenize": "intl", "smooth_method": "floor", "lowercase": True},
        bad=[
            {"tokenize": "13b"},
            {"tokenize": 13},
            {"smooth_method": "laplace"},
            {"smooth_value": "0.1", "smooth_method": "floor"},
            {"max_ngram_order": 0},
            {"effective_order": "yes"},
        ],
        low=0.0,
        high=100.0,
        best=100.0,
    ),
    "chrf": Case(
        params={"word_order": 2, "beta": 1},
        bad=[{"char_order": -1}, {"beta": "2"}, {"whitespace": 1}, {"char_order": 0}],
        low=0.0,
        high=100.0,
        best=100.0,
    ),
    "ter": Case(
        params={"normalized": True, "case_sensitive": True},
        bad=[{"normalized": "no"}, {"no_punct": None}],
        low=0.0,
        high=math.inf,
        best=0.0,
    ),
    "rouge": Case(
        params={"use_stemmer": True, "multi_ref": "mean"},
        bad=[
            {"tokenizer": "icu"},
            {"tokenizer": True},
            {"rouge_types": ["rouge0"]},
            {"rouge_types": ["rougeX"]},
            {"rouge_types": "rouge1"},
            {"rouge_types": []},
            {"rouge_types": ["rouge1", "rouge1"]},
            {"multi_ref": "max"},
            {"use_stemmer": "true"},
        ],
        low=0.0,
        high=1.0,
        best=1.0,
    ),
    "exact_match": Case(
        params={"normalize": "none"},
        bad=[{"normalize": "lower"}, {"normalize": True}],
        low=0.0,
        high=1.0,
        best=1.0,
    ),
    "token_f1": Case(
        params={"normalize": "none"},
        bad=[{"normalize": "lower"}, {"normalize": None}],
        low=0.0,
        high=1.0,
        best=1.0,
    ),
}

NAMES = sorted(CASES)

# A small corpus with one to three references per prediction and a few awkward inputs.
PREDICTIONS = [
    "The cat sat on the mat.",
    "A quick brown fox jumps over the lazy dog",
    "Paris is the capital of France.",
    "",
    "Zürich, café — naïve?",
    "the the the the",
    "It was 3.14 percent (roughly).",
    "Tokyo",
]
REFERENCES = [
    ["The cat is on the mat.", "There is a cat on the mat."],
    ["The quick brown fox jumped over the lazy dog."],
    ["The capital of France is Paris.", "Paris", "paris is France's capital"],
    ["Nothing was predicted here."],
    ["Zurich, cafe - naive?"],
    ["the cat"],
    ["It was about 3.14 percent.", "Roughly 3.14 percent."],
    ["Tokyo", "Tōkyō"],
]


def _cls(name: str) -> type[Metric]:
    cls = METRICS.get(name)
    assert isinstance(cls, type) and issubclass(cls, Metric)
    return cls


def _samples(name: str) -> list[Sample]:
    return as_samples(name, PREDICTIONS, REFERENCES)


def _close(a: dict[str, float], b: dict[str, float], rel: float = 1e-12) -> bool:
    return list(a) == list(b) and all(
        a[k] == pytest.approx(b[k], rel=rel, abs=1e-12, nan_ok=True) for k in a
    )


# --------------------------------------------------------------------------- registry coverage


#: Metrics scored from model outputs other than text; their contract is in their own tests
#: (tests/test_perplexity.py).
MODEL_SCORED = {"perplexity"}

#: Ranking metrics score rankings against relevance judgments, not texts; their contract is in
#: tests/test_retrieval_contract.py (which checks that it covers all of them).
RANKING = {"precision", "recall", "hit_rate", "mrr", "ndcg", "map", "r_precision"}

#: Metrics whose corpus value is not a function of summed per-sample statistics (BERTScore with
#: ``idf=True`` recomputes document frequencies over the references it aggregates).
NON_ADDITIVE = {"bertscore"}

#: Reference-free diversity metrics and pair/group-based bias probes: their inputs are sampled
#: outputs, prompt variants, embeddings or groups, not (prediction, references) pairs; the same
#: contract (JSON round trip, order and batch invariance, named errors, signature, twin,
#: docstring) is checked in tests/test_diversity_bias.py::test_contract.
DIVERSITY_AND_BIAS = {
    "distinct_n",
    "ngram_entropy",
    "repetition",
    "self_bleu",
    "embedding_diversity",
    "counterfactual_gap",
    "counterfactual_ll_gap",
    "stereotype_preference",
    "weat",
    "group_fairness",
}


#: Image metrics score generated images against reference images, not texts; their contract is
#: in tests/test_image_contract.py (which checks that it covers all of them).
IMAGE = {"fid", "kid", "inception_score"}


def test_every_registered_metric_is_covered() -> None:
    assert set(METRICS.names()) == (
        set(CASES) | MODEL_SCORED | RANKING | DIVERSITY_AND_BIAS | IMAGE
    ), "add the new metric to CASES in tests/test_metric_contract.py"


@pytest.mark.parametrize("name", NAMES)
def test_class_metadata(name: str) -> None:
    cls = _cls(name)
    assert cls.name == name
    assert isinstance(cls.higher_is_better, bool)
    assert isinstance(cls.reference_packages, tuple)
    assert cls.requires == frozenset({"prediction", "references"})
    assert issubclass(cls, VectorMetric) or name in NON_ADDITIVE
    for pname, p in cls.parameters().items():
        assert p.kind is inspect.Parameter.KEYWORD_ONLY, f"{name}.{pname} must be keyword-only"
        assert p.default is not inspect.Parameter.empty, f"{name}.{pname} needs a default"
        assert p.annotation is not inspect.Parameter.empty, f"{name}.{pname} needs a type hint"
    doc = inspect.getdoc(cls) or ""
    for part in ("References:", "Example:", ">>>"):
        assert part in doc, f"{name}'s docstring lacks {part!r}"
    metric = cls()
    assert metric.value_higher_is_better(metric.value_names()[0]) is cls.higher_is_better


def test_ter_is_lower_is_better() -> None:
    assert _cls("ter").higher_is_better is False
    assert all(_cls(n).higher_is_better for n in NAMES if n != "ter")


# ------------------------------------------------------------------------- aggregation contract


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("params", ["default", "custom"])
def test_order_invariance(name: str, params: str) -> None:
    metric = _cls(name).build(CASES[name].params if params == "custom" else {})
    stats = metric.sample_stats(_samples(name))
    want = metric.aggregate(stats)
    rng = random.Random(7)
    for _ in range(5):
        shuffled = list(stats)
        rng.shuffle(shuffled)
        assert _close(metric.aggregate(shuffled), want)
    # Scoring shuffled samples gives the same statistics, in the shuffled order.
    order = list(range(len(PREDICTIONS)))
    rng.shuffle(order)
    samples = _samples(name)
    assert metric.sample_stats([samples[i] for i in order]) == [stats[i] for i in order]


@pytest.mark.parametrize("name", NAMES)
def test_stats_survive_a_json_round_trip(name: str) -> None:
    metric = _cls(name).build(CASES[name].params)
    stats = metric.sample_stats(_samples(name))
    loaded = json.loads(json.dumps(stats))
    assert loaded == stats
    assert metric.aggregate(loaded) == metric.aggregate(stats)


@pytest.mark.parametrize("name", NAMES)
def test_batching_does_not_change_statistics(name: str) -> None:
    """Shards and resumed runs score samples in different batches."""
    metric = _cls(name)()
    samples = _samples(name)
    whole = metric.sample_stats(samples)
    assert [st for s in samples for st in metric.sample_stats([s])] == whole
    assert metric.sample_stats([]) == []


@pytest.mark.parametrize("name", NAMES)
def test_value_names_match_aggregate_keys(name: str) -> None:
    for params in ({}, CASES[name].params):
        metric = _cls(name).build(params)
        names = metric.value_names()
        assert len(set(names)) == len(names)
        values = metric.aggregate(metric.sample_stats(_samples(name)))
        assert list(values) == list(names)
        assert all(isinstance(v, float) and math.isfinite(v) for v in values.values())
        empty = metric.aggregate([])
        assert list(empty) == list(names) and all(math.isnan(v) for v in empty.values())


@pytest.mark.parametrize("name", NAMES)
def test_per_sample_values_are_single_sample_aggregates(name: str) -> None:
    metric = _cls(name).build(CASES[name].params)
    stats = metric.sample_stats(_samples(name))
    per_sample = metric.per_sample_values(stats)
    assert list(per_sample) == list(metric.value_names())
    for i, stat in enumerate(stats):
        single = metric.aggregate([stat])
        for key, values in per_sample.items():
            assert values[i] == pytest.approx(single[key], rel=1e-12, abs=1e-12)
    primary = metric.primary_values()
    assert primary and set(primary) <= set(metric.value_names())
    assert primary[0] == metric.value_names()[0]


# --------------------------------------------------------------------------------- parameters


@pytest.mark.parametrize("name", NAMES)
def test_unknown_parameter_is_a_config_error(name: str) -> None:
    cls = _cls(name)
    with pytest.raises(ConfigError, match=f"^{name}: unknown parameter 'no_such_param'"):
        cls.build({"no_such_param": 1})
    with pytest.raises(ConfigError, match="unknown parameter"):
        getattr(evalkit.metrics, name)(PREDICTIONS, REFERENCES, no_such_param=1)
    first = next(iter(cls.parameters()))
    with pytest.raises(ConfigError, match=f"Did you mean '{first}'"):
        cls.build({first[:-1]: 1})


@pytest.mark.parametrize(
    ("name", "bad"), [(n, b) for n in NAMES for b in CASES[n].bad], ids=lambda v: str(v)
)
def test_bad_parameter_value_is_a_config_error(name: str, bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        _cls(name).build(bad)
    message = str(info.value)
    assert message.startswith(f"{name}: ")
    assert any(key in message for key in bad), message  # names the parameter


@pytest.mark.parametrize("name", NAMES)
def test_defaults_are_accepted_explicitly(name: str) -> None:
    cls = _cls(name)
    defaults = {k: p.default for k, p in cls.parameters().items()}
    assert cls.build(defaults).signature() == cls().signature()


# ---------------------------------------------------------------------------------- signature


@pytest.mark.parametrize("name", NAMES)
def test_signature(name: str) -> None:
    cls = _cls(name)
    a, b = cls.build(CASES[name].params), cls.build(dict(CASES[name].params))
    sig = a.signature()
    assert sig == b.signature()
    assert sig.startswith(f"{name}|")
    assert f"|evalkit:{__version__}" in sig
    assert " " not in sig
    for part in sig.split("|")[1:]:
        assert part.count(":") == 1, part
    for pkg in cls.reference_packages:
        assert package_version(pkg) in sig
    assert sig != cls().signature()  # parameters that change the number change the signature
    # Scoring does not change the signature (it depends on parameters only).
    a.score(_samples(name))
    assert a.signature() == sig


# ---------------------------------------------------------------------------- functional twin


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("params", ["default", "custom"])
def test_functional_twin_equals_class(name: str, params: str) -> None:
    kw = CASES[name].params if params == "custom" else {}
    _cls(name)  # import the metric's module first (it must not shadow the twin)
    twin = getattr(evalkit.metrics, name)
    got = twin(PREDICTIONS, REFERENCES, **kw)
    want = _cls(name).build(kw).score(_samples(name))
    assert got == want
    assert evalkit.metrics.score(name, PREDICTIONS, REFERENCES, **kw) == want
    assert got.name == _cls(name).build(kw).value_names()[0]
    assert got.n == len(PREDICTIONS)
    assert got.value == got.details[got.name]


def test_importing_every_metric_module_keeps_the_twins_callable() -> None:
    """No metric module may share a name with a functional twin: importing a submodule sets
    the package attribute of that name and would replace the function."""
    for name in (n for n in evalkit.metrics.__all__ if n != "score"):
        _cls(name)  # imports the module behind the registry entry
        assert callable(getattr(evalkit.metrics, name)), name
    assert evalkit.metrics.rouge(["a b"], [["a b"]]).value == 1.0


# ------------------------------------------------------------------------------- bad input


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
    case = CASES[name]
    preds = [p for p, _ in data]
    refs = [r for _, r in data]
    score = getattr(evalkit.metrics, name)(preds, refs)
    for key, value in score.details.items():
        # 1e-9 of slack: sacrebleu's BLEU of a perfect match is exp(log(100)) = 100.00000000000004.
        assert case.low - 1e-9 <= value <= case.high + 1e-9, (key, value)


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
    assert score.value == pytest.approx(CASES[name].best, abs=CASES[name].identity_tol)
    if name == "rouge":  # precision and recall are perfect too
        assert all(v == pytest.approx(1.0) for v in score.details.values())
