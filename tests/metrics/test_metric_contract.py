"""The metric contract, checked over every registered metric (sklearn's test_common idea).

Every name in ``METRICS.names()`` (and the hf_evaluate bridge on a local module, when the
evaluate package is installed) gets the same checks, on the examples that its family provides
in tests/metric_examples.py: class metadata and docstring, default and parametrised builds,
value names, statistics that survive JSON and sharding, an aggregate that is deterministic and
does not depend on order, vector totals, per-sample values, a signature built from parameters
only, a pickle round trip, named errors for unknown and bad parameters, and bootstrap intervals.
Family behaviour (numbers by hand, parity, twins, input errors) stays in the family's tests.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import math
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import evalkit.metrics
from evalkit import __version__
from evalkit.errors import ConfigError
from evalkit.metrics.base import Metric, VectorMetric, package_version
from evalkit.metrics.params import MetricParams
from evalkit.registry import METRICS
from evalkit.stats import INTERVAL_METHODS, bootstrap_ci, interval_method
from evalkit.types import REQUEST_KINDS, Stats
from tests.metric_examples import FAMILIES, HF_EVALUATE, Examples, examples_for

BUILTINS = METRICS.names()
HAS_EVALUATE = importlib.util.find_spec("evaluate") is not None
NAMES = [*BUILTINS, HF_EVALUATE]

#: What a metric may require: fields the suite or the model provides (see Metric.requires).
TOKENS = {
    "prediction",
    "references",
    "qrels",
    "variants",
    "ranking",
    "image",
    "embed",
    "loglikelihood",
    "loglikelihood_rolling",
    "group",
    "choices",
    "confidence",
}
#: The request kind a model-provided token implies.
KIND_OF_TOKEN = {
    "ranking": "retrieve",
    "image": "generate_images",
    "embed": "embed",
    "loglikelihood": "loglikelihood",
    "loglikelihood_rolling": "loglikelihood_rolling",
    "prediction": "generate",
}


def _param(name: str) -> Any:
    """A pytest param for one metric; the bridge is skipped without the evaluate package."""
    if name == HF_EVALUATE:
        skip = pytest.mark.skipif(not HAS_EVALUATE, reason="evaluate is not installed")
        return pytest.param(name, id="hf_evaluate", marks=skip)
    return pytest.param(name, id=name)


ALL = [_param(n) for n in NAMES]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("metric_examples")


_EXAMPLES: dict[str, Examples] = {}


@pytest.fixture
def ex(name: str, workdir: Path) -> Examples:
    """The (cached) examples of the metric under test."""
    if name not in _EXAMPLES:
        _EXAMPLES[name] = examples_for(name, workdir)
    return _EXAMPLES[name]


@pytest.fixture(autouse=True)
def _quiet_warnings() -> Iterator[None]:
    """Ranking ties and library deprecations are not the contract's business."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _cls(name: str) -> type[Metric]:
    cls = METRICS.get(name)
    assert isinstance(cls, type) and issubclass(cls, Metric)
    return cls


def _build(name: str, ex: Examples, params: Mapping[str, Any] | None = None) -> Metric:
    """A metric that can score the examples: their base parameters plus ``params``."""
    return _cls(name).build({**ex.base, **(params or {})})


def _param_sets(ex: Examples) -> list[dict[str, Any]]:
    """The default and every valid non-default parameter set."""
    return [{}, *ex.params]


def _same_values(
    a: Mapping[str, float], b: Mapping[str, float], rel: float, skip: frozenset[str] = frozenset()
) -> bool:
    return list(a) == list(b) and all(
        a[k] == pytest.approx(b[k], rel=rel, abs=1e-12, nan_ok=True) for k in a if k not in skip
    )


def _flat(stat: Any) -> list[Any]:
    """A statistic's leaves, in order (to compare nested statistics with a tolerance)."""
    if isinstance(stat, Mapping):
        return [x for k in sorted(stat) for x in [k, *_flat(stat[k])]]
    if isinstance(stat, list | tuple):
        return [x for s in stat for x in _flat(s)]
    return [stat]


def _assert_same_stats(got: Sequence[Stats], want: Sequence[Stats], tol: float) -> None:
    assert len(got) == len(want)
    if tol == 0.0:
        assert list(got) == list(want)
        return
    for g, w in zip(got, want, strict=True):
        fg, fw = _flat(g), _flat(w)
        assert len(fg) == len(fw)
        for x, y in zip(fg, fw, strict=True):
            if isinstance(x, float | int) and not isinstance(x, bool):
                assert x == pytest.approx(y, abs=tol, rel=tol, nan_ok=True)
            else:
                assert x == y


#: The metrics whose corpus values come from summed statistic vectors.
VECTOR = [n for n in BUILTINS if issubclass(_cls(n), VectorMetric)]


# --------------------------------------------------------------------------- registry coverage


def test_every_registered_metric_has_examples(workdir: Path) -> None:
    assert BUILTINS, "the registry lists no metrics"
    missing = [n for n in BUILTINS if n not in FAMILIES]
    assert not missing, f"add contract examples for {missing} to tests/metric_examples.py"
    stale = set(FAMILIES) - set(NAMES)
    assert not stale, f"examples for metrics that are not registered: {sorted(stale)}"
    with pytest.raises(KeyError, match="no contract examples"):
        examples_for("no_such_metric", workdir)
    assert VECTOR, "no VectorMetric to check from_totals on"


# ----------------------------------------------------------------------------- class metadata


@pytest.mark.parametrize("name", ALL)
def test_class_metadata(name: str) -> None:
    cls = _cls(name)
    assert cls.name == name
    assert isinstance(cls.higher_is_better, bool)
    assert isinstance(cls.per_sample_outcomes, bool)
    assert isinstance(cls.reference_packages, tuple)
    assert all(isinstance(p, str) and p for p in cls.reference_packages)
    assert cls.request_kind in REQUEST_KINDS
    assert cls.interval_method in INTERVAL_METHODS
    assert isinstance(cls.requires, frozenset) and cls.requires <= TOKENS, cls.requires
    provided = [KIND_OF_TOKEN[t] for t in cls.requires if t in KIND_OF_TOKEN]
    assert provided and set(provided) == {cls.request_kind}, (cls.requires, cls.request_kind)
    assert cls.Params is not None and issubclass(cls.Params, MetricParams)
    params = cls.parameters()
    assert list(params) == list(cls.Params.model_fields), "every parameter listed, in order"
    for pname, info in params.items():
        assert info.name == pname
        assert info.type and info.type != "any", f"{name}.{pname} needs a declared type"
        assert info.description.strip(), f"{name}.{pname} needs a description"
        assert info.default == cls.Params.model_fields[pname].get_default(call_default_factory=True)
    metric = cls.build({})
    assert metric.value_higher_is_better(metric.value_names()[0]) is cls.higher_is_better


@pytest.mark.parametrize("name", [_param(n) for n in BUILTINS])
def test_docstring_and_twin(name: str) -> None:
    """Builtins document their parameters, references and a runnable example, and have a twin.

    (The bridge's classes share the bridge's docstring; the evaluate module documents itself.)
    """
    doc = inspect.getdoc(_cls(name)) or ""
    for part in ("Args:", "References:", "Example:", ">>>"):
        assert part in doc, f"{name}'s docstring lacks {part!r}"
    assert callable(getattr(evalkit.metrics, name)), f"evalkit.metrics.{name} is not callable"


# --------------------------------------------------------------------------------- parameters


@pytest.mark.parametrize("name", ALL)
def test_unknown_parameter_is_a_config_error(name: str) -> None:
    cls = _cls(name)
    accepted = list(cls.parameters())
    assert accepted, f"{name} declares no parameters"
    with pytest.raises(ConfigError) as info:
        cls.build({"no_such_param": 1})
    message = str(info.value)
    assert message.startswith(f"{name}: unknown parameter 'no_such_param'."), message
    assert f"Parameters: {', '.join(accepted)}." in message
    longest = max(accepted, key=len)
    with pytest.raises(ConfigError, match=re.escape(f"Did you mean '{longest}'?")):
        cls.build({longest[:-1]: 1})  # a typo


@pytest.mark.parametrize("name", ALL)
def test_bad_parameters_are_config_errors(name: str, ex: Examples) -> None:
    assert ex.bad
    for bad in ex.bad:
        with pytest.raises(ConfigError) as info:
            _cls(name).build(bad)
        message = str(info.value)
        assert message.startswith(f"{name}: "), message
        assert any(key in message for key in bad), f"{bad}: {message}"  # names the parameter


@pytest.mark.parametrize("name", ALL)
def test_signature_is_built_from_parameters_only(name: str, ex: Examples) -> None:
    cls = _cls(name)
    default = cls.build({}).signature()
    assert default == cls.build({}).signature()
    defaults = {k: p.default for k, p in cls.parameters().items()}
    assert cls.build(defaults).signature() == default  # explicit defaults equal implicit ones
    assert ex.params
    for params in ex.params:
        a, b = cls.build(params), cls.build(dict(params))
        sig = a.signature()
        assert sig == b.signature()
        assert sig.startswith(f"{name}|") and f"|evalkit:{__version__}" in sig
        # The bridge writes compute_args as a Python dict, spaces included.
        assert name == HF_EVALUATE or " " not in sig
        for part in sig.split("|")[1:]:
            assert ":" in part, part
        for pkg in cls.reference_packages:
            assert package_version(pkg) in sig
        if set(params) <= ex.untracked:
            assert sig == default, f"{params} do not change the number"
        else:
            assert sig != default, f"{params} change the number but not the signature"
    # Scoring does not change the signature.
    metric = _build(name, ex, ex.params[0])
    sig = metric.signature()
    metric.aggregate(metric.sample_stats(ex.samples))
    assert metric.signature() == sig


# ---------------------------------------------------------------------------------- statistics


@pytest.mark.parametrize("name", ALL)
def test_value_names_and_aggregate(name: str, ex: Examples) -> None:
    for params in _param_sets(ex):
        metric = _build(name, ex, params)
        names = metric.value_names()
        assert names and all(isinstance(n, str) and n for n in names)
        assert len(set(names)) == len(names), names
        primary, interval = metric.primary_values(), metric.interval_values()
        assert primary and set(primary) <= set(names)
        assert set(interval) <= set(names)
        stats = metric.sample_stats(ex.samples)
        values = metric.aggregate(stats)
        assert list(values) == list(names)
        for key, value in values.items():
            assert isinstance(value, float), (key, value)
            assert math.isfinite(value) or key in ex.nan_values, (params, key, value)
        assert metric.aggregate(stats) == pytest.approx(values, nan_ok=True)  # deterministic
        empty = metric.aggregate([])
        assert list(empty) == list(names) and all(math.isnan(v) for v in empty.values())
        assert metric.sample_stats([]) == []


@pytest.mark.parametrize("name", ALL)
def test_stats_survive_a_json_round_trip(name: str, ex: Examples) -> None:
    for params in _param_sets(ex):
        metric = _build(name, ex, params)
        stats = metric.sample_stats(ex.samples)
        assert len(stats) == len(ex.samples)  # one statistic per sample
        loaded = json.loads(json.dumps(stats))
        assert loaded == stats
        assert _same_values(metric.aggregate(loaded), metric.aggregate(stats), rel=0.0)


@pytest.mark.parametrize("name", ALL)
def test_sharding_does_not_change_statistics(name: str, ex: Examples) -> None:
    """Shards and resumed runs score samples in different batches, then concatenate."""
    samples = ex.samples
    assert len(samples) >= 4
    half = len(samples) // 2
    for params in _param_sets(ex):
        metric = _build(name, ex, params)
        whole = metric.sample_stats(samples)
        halves = metric.sample_stats(samples[:half]) + metric.sample_stats(samples[half:])
        _assert_same_stats(halves, whole, ex.batch_tol)
        assert _same_values(metric.aggregate(halves), metric.aggregate(whole), ex.rel)
        singles = [s for x in samples for s in metric.sample_stats([x])]
        _assert_same_stats(singles, whole, ex.batch_tol)


@pytest.mark.parametrize("name", ALL)
def test_order_does_not_matter(name: str, ex: Examples) -> None:
    rng = random.Random(7)
    order = list(range(len(ex.samples)))
    for params in _param_sets(ex):
        metric = _build(name, ex, params)
        stats = metric.sample_stats(ex.samples)
        want = metric.aggregate(stats)
        skip = ex.order_dependent
        assert set(skip) < set(metric.value_names())
        for _ in range(3):
            rng.shuffle(order)
            shuffled = [stats[i] for i in order]
            assert _same_values(metric.aggregate(shuffled), want, ex.rel, skip), order
            again = metric.sample_stats([ex.samples[i] for i in order])
            _assert_same_stats(again, shuffled, ex.batch_tol)
        assert _same_values(metric.aggregate(list(reversed(stats))), want, ex.rel, skip)
        # Values that may follow the order still repeat for the same order.
        assert _same_values(metric.aggregate(stats), want, rel=0.0)


@pytest.mark.parametrize("name", ALL)
def test_per_sample_values(name: str, ex: Examples) -> None:
    for params in _param_sets(ex):
        metric = _build(name, ex, params)
        stats = metric.sample_stats(ex.samples)
        per_sample = metric.per_sample_values(stats)
        assert list(per_sample) == list(metric.value_names())
        assert all(len(v) == len(stats) for v in per_sample.values())
        assert all(isinstance(x, float) for v in per_sample.values() for x in v)
        if not metric.per_sample_outcomes:
            continue
        if params in ex.corpus_per_sample:  # in the context of all statistics, in any order
            flipped = metric.per_sample_values(list(reversed(stats)))
            for key, values in per_sample.items():
                assert flipped[key][::-1] == pytest.approx(values, rel=1e-9, nan_ok=True)
            continue
        for i, stat in enumerate(stats):
            single = metric.aggregate([stat])
            for key, values in per_sample.items():
                got, want = values[i], single[key]
                if math.isnan(want):  # a sample a skip policy leaves out shows 0 or NaN
                    assert got == 0.0 or math.isnan(got), (key, i, got)
                else:
                    assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (key, i)


@pytest.mark.parametrize("name", VECTOR)
def test_vector_totals_agree_with_aggregate(name: str, ex: Examples) -> None:
    for params in _param_sets(ex):
        metric = _build(name, ex, params)
        assert isinstance(metric, VectorMetric)
        stats = metric.sample_stats(ex.samples)
        arr = np.asarray(stats, dtype=np.float64)
        assert arr.ndim == 2 and arr.shape[0] == len(stats)  # fixed-length vectors
        half = len(stats) // 2
        totals = np.stack([arr.sum(axis=0), arr[:half].sum(axis=0), arr[half:].sum(axis=0)])
        out = metric.from_totals(totals, np.array([len(stats), half, len(stats) - half]))
        assert list(out) == list(metric.value_names())
        for row, part in enumerate((stats, stats[:half], stats[half:])):
            want = metric.aggregate(part)
            got = {k: float(v[row]) for k, v in out.items()}
            assert _same_values(got, want, rel=1e-12), (row, got, want)


# ------------------------------------------------------------------------- pickle and bootstrap


@pytest.mark.parametrize("name", NAMES)
def test_pickle_round_trip(name: str, ex: Examples) -> None:
    """Ray ships metrics to its workers with cloudpickle; they must score the same there."""
    cloudpickle = pytest.importorskip("cloudpickle")
    for params in _param_sets(ex):
        metric = _build(name, ex, params)
        copy = cloudpickle.loads(cloudpickle.dumps(metric))
        assert type(copy).__qualname__ == type(metric).__qualname__ and copy.name == metric.name
        assert copy.signature() == metric.signature()
        stats = metric.sample_stats(ex.samples)
        _assert_same_stats(copy.sample_stats(ex.samples), stats, ex.batch_tol)
        assert _same_values(copy.aggregate(stats), metric.aggregate(stats), rel=0.0)


@pytest.mark.parametrize("name", ALL)
def test_bootstrap_intervals(name: str, ex: Examples) -> None:
    metric = _build(name, ex, ex.params[0])
    stats = metric.sample_stats(ex.samples)
    values = metric.aggregate(stats)
    rng = np.random.default_rng(0)
    ci = bootstrap_ci(metric, stats, resamples=100, rng=rng, estimates=values)
    assert list(ci) == list(metric.value_names())
    resampled = getattr(metric, "resample", True)
    declared = [k for k in metric.value_names() if interval_method(metric, k) is not None]
    assert bool(declared) is bool(resampled and metric.interval_values())
    for key, (low, high) in ci.items():
        if key not in declared:
            assert math.isnan(low) and math.isnan(high), f"{key} declares no interval"
        elif math.isfinite(values[key]):
            assert low <= values[key] <= high, (key, low, values[key], high)
    # The same seed gives the same intervals.
    again = bootstrap_ci(metric, stats, resamples=100, rng=np.random.default_rng(0))
    assert list(again) == list(ci)
    for key in ci:
        assert again[key] == pytest.approx(ci[key], nan_ok=True)
