"""The registry: lazy builtins, entry points, did-you-mean; and a light `import evalkit`."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from evalkit.errors import ConfigError
from evalkit.metrics.qa import ExactMatch
from evalkit.registry import ADAPTERS, METRICS, Registry


def test_builtins_resolve_lazily() -> None:
    reg: Registry[type] = Registry(
        "metric", "evalkit.test-group", {"em": "evalkit.metrics.qa:ExactMatch"}
    )
    assert "em" not in reg._loaded
    assert reg.get("em") is ExactMatch
    assert set(METRICS.names()) >= {"bleu", "chrf", "ter", "rouge", "exact_match", "token_f1"}
    assert set(ADAPTERS.names()) >= {"predictions", "python", "scripted"}


def test_entry_points_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = metadata.EntryPoint(
        name="my_em", value="evalkit.metrics.qa:ExactMatch", group="evalkit.metrics"
    )

    def fake(group: str) -> list[metadata.EntryPoint]:
        return [ep] if group == "evalkit.metrics" else []

    monkeypatch.setattr(metadata, "entry_points", fake)
    reg: Registry[type] = Registry("metric", "evalkit.metrics", {})
    assert reg.names() == ["my_em"] and reg.get("my_em") is ExactMatch


def test_register_decorator_and_suggestions() -> None:
    reg: Registry[type] = Registry("metric", "evalkit.none", {})

    @reg.register("custom_metric")
    class Custom:
        pass

    assert reg.get("custom_metric") is Custom
    with pytest.raises(ConfigError, match="Did you mean 'custom_metric'"):
        reg.get("custom_metrc")


def test_import_evalkit_is_light() -> None:
    code = (
        "import sys, evalkit; heavy = [m for m in ('torch', 'sacrebleu', 'rouge_score', "
        "'numpy', 'pyarrow', 'transformers') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
