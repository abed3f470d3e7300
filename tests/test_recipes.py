"""The recipes of ``docs/architecture.md``, followed as written.

The code blocks marked ``<!-- recipe: NAME -->`` are read from the page itself, written to a
temporary folder, imported, registered the way the page says, and run through a real suite
(``evalkit.run_suite`` and the CLI), so the page and the code cannot drift apart. Each
recipe's module must also sit where the page puts it without breaking the import ladder
(:mod:`tests.test_layers`).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

import evalkit
from evalkit.cli import main
from evalkit.errors import ConfigError
from evalkit.metrics import score
from evalkit.registry import ADAPTERS, METRICS, Registry
from evalkit.runner import RunOptions
from evalkit.store import load_run
from tests.test_layers import bad_edges, import_edges, module_names

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
_BLOCK = re.compile(r"<!-- recipe: (?P<name>[\w-]+) -->\n```python\n(?P<code>.*?)\n```", re.S)


def recipe(name: str) -> str:
    """The code block marked ``<!-- recipe: NAME -->`` in docs/architecture.md."""
    blocks = {m["name"]: m["code"] + "\n" for m in _BLOCK.finditer(DOC.read_text("utf-8"))}
    assert name in blocks, f"docs/architecture.md has no block marked <!-- recipe: {name} -->"
    return blocks[name]


def _isolate(monkeypatch: pytest.MonkeyPatch, registry: Registry[type]) -> None:
    """Let a recipe's ``register`` decorator write into a copy that the test throws away."""
    monkeypatch.setattr(registry, "_loaded", dict(registry._loaded))


def _load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, code: str) -> ModuleType:
    """Write ``code`` to ``tmp_path`` and import it as the module ``name``."""
    path = tmp_path / (name.rpartition(".")[2] + ".py")
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def _assert_on_the_ladder(module: str, code: str) -> None:
    """The recipe's imports are allowed for a module placed at ``module`` in the package."""
    edges = import_edges(module, code, False, set(module_names()) | {module})
    assert edges, "the recipe imports nothing from evalkit: the check would prove nothing"
    assert [str(e) for e in bad_edges(edges)] == []


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _suite(tmp_path: Path, metrics: str, rows: list[dict[str, object]]) -> Path:
    _jsonl(tmp_path / "data.jsonl", rows)
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: recipe\nseed: 0\nbootstrap: {resamples: 50}\ntasks:\n"
        "  - name: qa\n"
        "    dataset: {path: data.jsonl, id: id, references: answer}\n"
        '    prompt: "{question}"\n'
        f"    metrics: {metrics}\n",
        encoding="utf-8",
    )
    return suite


QA_ROWS: list[dict[str, object]] = [
    {"id": "a", "question": "capital of France", "answer": "Paris"},
    {"id": "b", "question": "capital of Italy", "answer": "Rome"},
]


def _predictions(tmp_path: Path) -> Path:
    return _jsonl(
        tmp_path / "preds.jsonl",
        [
            {"task": "qa", "id": "a", "prediction": " Paris "},
            {"task": "qa", "id": "b", "prediction": "Milano"},
        ],
    )


def test_the_page_marks_each_recipe_once() -> None:
    names = [m["name"] for m in _BLOCK.finditer(DOC.read_text("utf-8"))]
    assert sorted(names) == ["adapter", "metric", "report"]


def test_metric_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = recipe("metric")
    _assert_on_the_ladder("evalkit.metrics.text.char_ratio", code)
    _isolate(monkeypatch, METRICS)
    module = _load(monkeypatch, tmp_path, "recipe_char_ratio", code)
    assert METRICS.get("char_ratio") is module.CharRatio

    # " Paris " strips to 5/5 characters, "Milano" is 6 against "Rome"'s 4.
    suite = _suite(tmp_path, "[char_ratio]", QA_ROWS)
    preds = _predictions(tmp_path)
    outcome = evalkit.run_suite(suite, f"predictions:{preds}", tmp_path / "run", use_cache=False)
    assert outcome.exit_code == 0
    [row] = outcome.results
    assert row["metric"] == "char_ratio" and row["value"] == pytest.approx((1.0 + 1.5) / 2)
    assert row["signature"] == f"char_ratio|strip:yes|evalkit:{evalkit.__version__}"
    assert row["higher_is_better"] is False and row["n"] == 2
    samples = load_run(tmp_path / "run").samples_for("qa")
    assert [s["stats"]["char_ratio"] for s in samples] == [[1.0], [1.5]]

    raw = score("char_ratio", [" Paris ", "Milano"], [["Paris"], ["Rome"]], strip=False)
    assert raw.value == pytest.approx((7 / 5 + 1.5) / 2)
    direct = score("char_ratio", ["abcd", "ab"], [["ab"], ["abcd", "a"]])
    assert direct.value == pytest.approx((2.0 + 2.0) / 2)
    with pytest.raises(ConfigError, match="strip must be bool"):
        METRICS.get("char_ratio").build({"strip": "yes"})


def test_adapter_recipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = recipe("adapter")
    _assert_on_the_ladder("evalkit.adapters.shout", code)
    _isolate(monkeypatch, ADAPTERS)
    module = _load(monkeypatch, tmp_path, "recipe_shout", code)
    assert ADAPTERS.get("shout") is module.ShoutAdapter
    rows: list[dict[str, object]] = [
        {"id": "a", "question": "paris", "answer": "PARIS!"},
        {"id": "b", "question": "rome", "answer": "Milan"},
    ]
    suite = _suite(tmp_path, "[exact_match]", rows)

    # On the command line, as the page says: --model shout:!
    with pytest.raises(SystemExit) as exc:
        main(["run", str(suite), "--model", "shout:!", "--out", str(tmp_path / "cli"), "-q"])
    assert exc.value.code == 0, capsys.readouterr().err
    record = load_run(tmp_path / "cli")
    assert [s["prediction"] for s in record.samples_for("qa")] == ["PARIS!", "ROME!"]
    assert record.results[0]["value"] == pytest.approx(0.5)
    assert record.header["model"]["info"] == {"kind": "shout", "suffix": "!", "fail_on": ""}

    # A failed call is data: counted, recorded with its message, never scored as empty text.
    opts = RunOptions(use_cache=False, model_options={"fail_on": "rome"})
    outcome = evalkit.run_suite(suite, "shout:?", tmp_path / "api", opts)
    assert outcome.results[0]["n_errors"] == 1 and outcome.results[0]["n"] == 1
    failed = [s for s in load_run(tmp_path / "api").samples if s["error"]]
    assert [(s["id"], s["error"]) for s in failed] == [("b", "refused: 'rome'")]


def test_report_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = recipe("report")
    _assert_on_the_ladder("evalkit.report.tsv", code)
    module = _load(monkeypatch, tmp_path, "evalkit.report.tsv", code)
    suite = _suite(tmp_path, "[exact_match, token_f1]", QA_ROWS)
    evalkit.run_suite(
        suite, f"predictions:{_predictions(tmp_path)}", tmp_path / "run", use_cache=False
    )
    record = load_run(tmp_path / "run")

    text = module.render_tsv(record)
    lines = [line.split("\t") for line in text.splitlines()]
    assert lines[0] == ["task", "metric", "value", "ci_low", "ci_high", "n"]
    assert [(r[0], r[1], float(r[2]), r[5]) for r in lines[1:]] == [
        ("qa", "exact_match", 0.5, "2"),
        ("qa", "token_f1", 0.5, "2"),
    ]
    first = module.write_tsv(record, tmp_path / "run" / "results.tsv").read_bytes()
    second = module.write_tsv(load_run(tmp_path / "run"), tmp_path / "again.tsv").read_bytes()
    assert first == second == text.encode("utf-8")
