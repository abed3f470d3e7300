"""``hf_evaluate:NAME``: any metric of Hugging Face's ``evaluate`` package, used in a suite.

``NAME`` is a local folder or script of an evaluate module (``hf_evaluate:metrics/my_metric``),
or a module name that is already in the local evaluate cache. evalkit never lets the package
reach the Hub: loading runs with ``HF_HUB_OFFLINE`` forced on, and a module that is not
available locally is an :class:`~evalkit.errors.AssetError` that says how to provide it.

evaluate modules compute corpus values from text, so the per-sample statistic is the text itself
(prediction and references) and every aggregate, bootstrap resample and paired test calls the
module's ``compute`` again. That is exact but slow; evalkit's native metrics resample numbers.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from evalkit._validate import sample_texts
from evalkit.errors import AssetError, ConfigError
from evalkit.metrics.base import Metric, package_version
from evalkit.metrics.params import MetricParams
from evalkit.types import Sample, Stats

_MODULES: dict[str, Any] = {}
_PROBE = (["evalkit probe sentence"], [["evalkit probe sentence"]])


def _force_offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ["HF_EVALUATE_OFFLINE"] = "1"
    try:  # the constants are read at import time; patch them if the hub was imported already
        import huggingface_hub.constants as hub_constants

        hub_constants.HF_HUB_OFFLINE = True
    except ImportError:  # pragma: no cover - evaluate depends on huggingface_hub
        pass


def load_module(name: str) -> Any:
    """Load an evaluate module from local files only (once per process)."""
    if name in _MODULES:
        return _MODULES[name]
    _force_offline()
    try:
        import evaluate
    except ImportError as exc:
        raise AssetError(
            f"hf_evaluate:{name} needs the evaluate package: pip install evaluate"
        ) from exc
    try:
        module = evaluate.load(name)
    except Exception as exc:  # evaluate raises FileNotFoundError, ConnectionError, ValueError...
        raise AssetError(
            f"hf_evaluate:{name}: the evaluate module is not available offline "
            f"({type(exc).__name__}: {str(exc)[:200]}). evalkit never downloads metric scripts: "
            f"give a local folder or script, e.g. hf_evaluate:path/to/{Path(name).name}."
        ) from None
    _MODULES[name] = module
    return module


def _script_hash(name: str) -> str:
    path = Path(name)
    script = path / f"{path.name}.py" if path.is_dir() else path
    if script.is_file():
        return hashlib.sha256(script.read_bytes()).hexdigest()[:12]
    return "cached-module"


class HFEvaluateMetric(Metric):
    """Base of the classes that :func:`bridge_class` makes for each evaluate module.

    Parameters:
        compute_args: Keyword arguments for the module's ``compute`` (recorded in the signature).
        values: Result keys to report; default every numeric scalar the module returns
            (discovered once by computing on a probe sentence).
        references: ``list`` passes each sample's reference list, ``first`` its first reference
            (for modules whose ``references`` feature is a plain string).
        higher_is_better: evaluate modules do not declare a direction; say it here.
    """

    module_name: ClassVar[str] = ""
    requires: ClassVar[frozenset[str]] = frozenset({"prediction", "references"})
    reference_packages: ClassVar[tuple[str, ...]] = ("evaluate",)

    class Params(MetricParams):
        """The bridge's parameters (the module's own go in ``compute_args``)."""

        compute_args: dict[str, Any] | None = Field(
            None, validate_default=True, description="keyword arguments of the module's compute"
        )
        values: list[str] | None = Field(
            None, description="result keys to report (default: every numeric scalar)"
        )
        references: Literal["list", "first"] = Field(
            "list", description="pass each sample's reference list, or its first reference"
        )
        higher_is_better: bool = Field(True, description="the direction of the values")

        @field_validator("compute_args")
        @classmethod
        def _as_dict(cls, compute_args: dict[str, Any] | None) -> dict[str, Any]:
            return dict(compute_args or {})

    p: Params

    def setup(self) -> None:
        self._module = load_module(self.module_name)
        # One compute on a probe sentence, now, so that bad compute_args or result keys fail
        # with the suite, before any model call.
        try:
            probe = self._compute(*_PROBE)
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(
                f"{self.name}: compute() failed on a probe sentence with compute_args "
                f"{self.params['compute_args']} ({type(exc).__name__}: {exc})."
            ) from None
        if not probe:
            raise ConfigError(
                f"{self.name}: the module returned no numeric scalar; name result keys with "
                "`values`."
            )
        self._names = tuple(probe)

    def __getstate__(self) -> dict[str, Any]:
        # The loaded evaluate module holds a thread lock; a copy (a Ray worker's) loads it
        # again from the same local files.
        state = dict(self.__dict__)
        state.pop("_module", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._module = load_module(self.module_name)

    def value_names(self) -> tuple[str, ...]:
        return self._names

    def value_higher_is_better(self, value_name: str) -> bool:
        return bool(self.params["higher_is_better"])

    def _compute(self, predictions: list[str], references: list[list[str]]) -> dict[str, float]:
        refs: Any = references
        if self.params["references"] == "first":
            refs = [r[0] for r in references]
        out = self._module.compute(
            predictions=predictions, references=refs, **self.params["compute_args"]
        )
        result = {}
        for key, value in (out or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                result[key] = float(value)
        if self.params["values"]:
            missing = [v for v in self.params["values"] if v not in (out or {})]
            if missing:
                raise ConfigError(
                    f"{self.name}: the module returned no {', '.join(missing)}; it returned "
                    f"{', '.join(sorted(out or {}))}."
                )
            return {k: float(out[k]) for k in self.params["values"]}
        return result

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        predictions, references = sample_texts(self.name, batch)
        return [[p, r] for p, r in zip(predictions, references, strict=True)]

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        names = self.value_names()
        if len(stats) == 0:
            return {k: float("nan") for k in names}
        values = self._compute([s[0] for s in stats], [list(s[1]) for s in stats])
        return {k: values[k] for k in names}

    def signature_fields(self) -> dict[str, Any]:
        fields = super().signature_fields()
        fields["module"] = self.module_name
        fields["script"] = _script_hash(self.module_name)
        fields["evaluate"] = package_version("evaluate")
        return dict(sorted(fields.items()))


def bridge_class(module_name: str) -> type[Metric]:
    """A metric class for one evaluate module (``hf_evaluate:NAME`` in a suite).

    The module is loaded (from local files only) when the class is built, so a missing module
    fails with the suite, before any model call.
    """
    name = f"hf_evaluate:{module_name}"
    cls = type(
        "HFEvaluate_" + hashlib.sha1(module_name.encode()).hexdigest()[:8],
        (HFEvaluateMetric,),
        {"name": name, "module_name": module_name, "__doc__": HFEvaluateMetric.__doc__},
    )
    return cls
