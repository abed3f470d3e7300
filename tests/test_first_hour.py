"""What a new user meets in the first hour: the README's Python API example, ``overwrite=True``,
``--model`` left out when every task names its own model, and a quiet ``hf:`` run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import evalkit
from evalkit.errors import ConfigError
from tests.conftest import ROOT, write_jsonl

README = ROOT / "README.md"
TINY_LM = ROOT / "models" / "tiny-gpt2" / "step-0075"


def _readme_block(marker: str) -> str:
    """The fenced code block that follows ``<!-- marker -->`` in the README."""
    text = README.read_text(encoding="utf-8")
    _, found, rest = text.partition(f"<!-- {marker} -->")
    assert found, f"README.md has no <!-- {marker} --> block"
    fence = rest.lstrip().split("\n", 1)
    assert fence[0].startswith("```"), f"no fenced block after <!-- {marker} -->"
    return fence[1].split("\n```", 1)[0] + "\n"


def _evalkit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evalkit.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_readme_python_api_example_runs(tmp_path: Path, make_suite: Callable[..., Path]) -> None:
    """The README's block runs as written, in a folder laid out like the repository."""
    pytest.importorskip("pandas")  # scripts/setup.sh installs it (the `pandas` extra)
    for name in ("suites", "models"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    example = _readme_block("python-api-example")
    (tmp_path / "example.py").write_text(example, encoding="utf-8")
    # A run already in reports/a: the example's overwrite=True must replace it.
    old = evalkit.run(make_suite(), "scripted:echo", tmp_path / "reports" / "a")
    probe = textwrap.dedent("""\
        import json, runpy
        ns = runpy.run_path("example.py")
        a, b = ns["a"], ns["b"]
        print(json.dumps({"exit": [a.exit_code, b.exit_code], "rows": len(a.to_pandas()),
                          "samples": len(a.to_pandas("samples")), "run_id": a.run_id}))
        """)
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["exit"][0] == 0 and result["exit"][1] in (0, 1)  # b may fail a gate
    assert result["rows"] > 10 and result["samples"] > 10
    assert result["run_id"] != old.run_id  # replaced, not refused
    compare = json.loads((tmp_path / "reports" / "ab" / "compare.json").read_text())
    assert compare["comparisons"]


def test_to_pandas_without_pandas_names_the_extra(
    tmp_path: Path, make_suite: Callable[..., Path]
) -> None:
    rows = [{"id": "1", "question": "q", "answer": "a"}]
    suite = make_suite(rows=rows)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "1", "prediction": "a"}])
    evalkit.run(suite, f"predictions:{preds}", tmp_path / "run")
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "import evalkit\n"
        f"evalkit.load_run({str(tmp_path / 'run')!r}).to_pandas()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 1
    assert "ImportError: to_pandas() needs pandas" in proc.stderr
    assert "pip install 'evalkit[pandas]'" in proc.stderr


def test_run_with_overwrite_replaces_the_run(
    tmp_path: Path, make_suite: Callable[..., Path]
) -> None:
    suite = make_suite()
    preds = write_jsonl(
        tmp_path / "p.jsonl", [{"id": str(i), "prediction": f"a{i}"} for i in range(10)]
    )
    out = tmp_path / "run"
    first = evalkit.run(suite, f"predictions:{preds}", out)
    with pytest.raises(ConfigError, match="already holds a run"):
        evalkit.run(suite, f"predictions:{preds}", out)
    second = evalkit.run(suite, f"predictions:{preds}", out, overwrite=True)
    assert second.exit_code == 0 and second.run_id != first.run_id
    assert evalkit.load_run(out).run_id == second.run_id
    assert len(second.samples) == 10  # replaced, not appended to


def test_run_names_its_options_when_one_is_unknown(
    tmp_path: Path, make_suite: Callable[..., Path]
) -> None:
    suite = make_suite()
    with pytest.raises(
        ConfigError, match=r"unknown option\(s\) overwite; the options are .*overwrite"
    ):
        evalkit.run(suite, "scripted:echo", tmp_path / "run", overwite=True)
    assert not (tmp_path / "run").exists()


def _own_model_suite(tmp_path: Path, second_model: str | None) -> Path:
    """Two tasks on the bundled tiny LM (generation and perplexity); the second one names its
    own model only when ``second_model`` is given."""
    write_jsonl(
        tmp_path / "data.jsonl",
        [{"id": str(i), "text": f"def f{i}(x):", "ref": "return x"} for i in range(3)],
    )
    second = f"\n    model: {second_model}" if second_model else ""
    suite = tmp_path / "own.yaml"
    suite.write_text(
        f"""\
name: own-models
bootstrap: {{resamples: 50}}
tasks:
  - name: complete
    model: hf:{TINY_LM}
    dataset: {{path: data.jsonl, id: id, references: ref}}
    prompt: "{{text}}"
    generation: {{max_tokens: 4, temperature: 0}}
    metrics: [token_f1]
  - name: lm{second}
    dataset: {{path: data.jsonl, id: id}}
    prompt: "{{text}}"
    metrics:
      - perplexity: {{max_length: 16, stride: 8}}
""",
        encoding="utf-8",
    )
    return suite


def test_model_is_optional_when_every_task_names_its_own(tmp_path: Path) -> None:
    """No --model: the tasks' own models serve; and an hf: run prints no deprecation warning
    (transformers 5 renamed `past_key_values` to `cache` and warns on every call of the old)."""
    pytest.importorskip("transformers")
    suite = _own_model_suite(tmp_path, f"hf:{TINY_LM}")
    out = tmp_path / "run"
    proc = _evalkit("run", str(suite), "--out", str(out), "--no-cache", "-q")
    assert proc.returncode == 0, proc.stderr
    for noise in ("deprecated", "FutureWarning", "DeprecationWarning"):
        assert noise not in proc.stderr, proc.stderr
    header = json.loads((out / "results.json").read_text())
    spec = header["model"]["spec"]  # the tasks' models (paths as the record keeps them)
    assert spec.startswith("tasks: hf:") and spec.endswith("tiny-gpt2/step-0075"), spec
    assert {t["name"] for t in header["tasks"]} == {"complete", "lm"}
    assert header["counts"]["errors"] == 0
    generated = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert all(s["prediction"] for s in generated if s["task"] == "complete")


def test_without_model_a_task_without_one_is_exit_2(tmp_path: Path) -> None:
    suite = _own_model_suite(tmp_path, None)
    out = tmp_path / "run"
    proc = _evalkit("run", str(suite), "--out", str(out), "-q")
    assert proc.returncode == 2
    assert f"{suite}: task(s) lm name no `model:`" in proc.stderr
    assert "--model SPEC" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()  # refused before any folder or model was touched


def test_without_model_model_args_are_refused(tmp_path: Path) -> None:
    suite = _own_model_suite(tmp_path, f"hf:{TINY_LM}")
    proc = _evalkit("run", str(suite), "--model-arg", "batch_size=2", "-q")
    assert proc.returncode == 2
    assert "--model-arg" in proc.stderr and "--model" in proc.stderr


def test_api_run_with_no_model(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    suite = _own_model_suite(tmp_path, f"hf:{TINY_LM}")
    run = evalkit.run(suite, None, tmp_path / "run", use_cache=False)
    assert run.exit_code == 0
    assert {r["task"] for r in run.results} == {"complete", "lm"}
    assert run.header["model"]["spec"].endswith("tiny-gpt2/step-0075")
