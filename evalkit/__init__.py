"""evalkit: an evaluation harness for LLMs and generative models.

The public API is re-exported here lazily, so ``import evalkit`` stays light (no torch, no
sacrebleu until a metric is used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evalkit._version import __version__

_EXPORTS = {
    "EvalkitError": "evalkit.errors",
    "ConfigError": "evalkit.errors",
    "InputError": "evalkit.errors",
    "AssetError": "evalkit.errors",
    "AdapterError": "evalkit.errors",
    "RunError": "evalkit.errors",
    "Sample": "evalkit.types",
    "Score": "evalkit.types",
    "MetricResult": "evalkit.types",
    "Generation": "evalkit.types",
    "GenerateRequest": "evalkit.types",
    "Metric": "evalkit.metrics.base",
    "METRICS": "evalkit.registry",
    "ADAPTERS": "evalkit.registry",
    "load_suite": "evalkit.suite",
    "run_suite": "evalkit.runner",
    "load_run": "evalkit.api",
    "load_runs": "evalkit.api",
    "run": "evalkit.api",
    "compare_runs": "evalkit.api",
    "Run": "evalkit.api",
    "Runs": "evalkit.api",
    "Comparison": "evalkit.api",
}

__all__ = [
    "ADAPTERS",
    "METRICS",
    "AdapterError",
    "AssetError",
    "Comparison",
    "ConfigError",
    "EvalkitError",
    "GenerateRequest",
    "Generation",
    "InputError",
    "Metric",
    "MetricResult",
    "Run",
    "RunError",
    "Runs",
    "Sample",
    "Score",
    "__version__",
    "compare_runs",
    "load_run",
    "load_runs",
    "load_suite",
    "run",
    "run_suite",
]

if TYPE_CHECKING:  # pragma: no cover
    from evalkit.api import Comparison, Run, Runs, compare_runs, load_run, load_runs, run
    from evalkit.errors import (
        AdapterError,
        AssetError,
        ConfigError,
        EvalkitError,
        InputError,
        RunError,
    )
    from evalkit.metrics.base import Metric
    from evalkit.registry import ADAPTERS, METRICS
    from evalkit.runner import run_suite
    from evalkit.suite import load_suite
    from evalkit.types import GenerateRequest, Generation, MetricResult, Sample, Score


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evalkit' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(module), name)
