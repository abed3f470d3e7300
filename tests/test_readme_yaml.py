"""Every ```yaml block of README.md and docs/*.md passes `evalkit validate`, and the README's
quickstart gates are the bundled suite's.

A block that is a whole suite is validated as it is; a fragment (a task list without a name,
or top-level settings such as ``executor:``) is merged into a minimal suite first, so every
block goes through the suite schema, the metric builder and the dataset loader that `evalkit
validate` runs, and any mistake in it fails the test. Dataset paths in the documentation are
relative to ``suites/`` (where the bundled suites live), as they are written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit.cli import main
from evalkit.suite import SuiteSpec, load_suite
from tests.conftest import QUICKSTART, ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```yaml[^\n]*\n(.*?)^```", re.M | re.S)

#: The smallest suite a fragment is merged into: one task on bundled data.
MINIMAL: dict[str, Any] = {
    "name": "docs-fragment",
    "tasks": [
        {
            "name": "qa",
            "dataset": {"path": "quickstart/qa.jsonl", "id": "id", "references": "answers"},
            "prompt": "{question}",
            "metrics": ["exact_match"],
        }
    ],
}


def yaml_blocks(path: Path) -> list[tuple[int, str]]:
    """The ```yaml blocks of a Markdown file, with the line each starts on."""
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in _FENCE.finditer(text)]


BLOCKS = [(path, line, body) for path in DOCS for line, body in yaml_blocks(path)]


def as_suite(body: str) -> dict[str, Any]:
    """A documentation block as a whole suite: itself, or merged into :data:`MINIMAL`."""
    data = yaml.safe_load(body)
    if not isinstance(data, dict):
        raise AssertionError(f"a YAML block must be a mapping, got {type(data).__name__}")
    unknown = set(data) - set(SuiteSpec.model_fields)
    if unknown:
        raise AssertionError(f"keys that are no suite field: {sorted(unknown)}")
    return {**MINIMAL, **data}


def _absolute_paths(suite: dict[str, Any]) -> dict[str, Any]:
    """Relative data paths made absolute under ``suites/``, as the documentation means them."""
    text = yaml.safe_dump(suite, sort_keys=False)
    base = ROOT / "suites"
    text = re.sub(
        r"(path: |corpus: |reference: |template_file: |predictions:)(?=[a-z_]+/)",
        rf"\g<1>{base}/",
        text,
    )
    # Any other value naming a bundled data file (a pairwise judge's `against` files).
    text = re.sub(
        r"(: )(?=[a-z_]+/[\w./-]+\.(?:jsonl|json|csv|txt)$)", rf"\g<1>{base}/", text, flags=re.M
    )
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def _validate(suite: dict[str, Any], path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    path.write_text(yaml.safe_dump(_absolute_paths(suite), sort_keys=False), encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert exc.value.code in (0, None), err
    return out


def test_the_docs_have_yaml_blocks() -> None:
    # The README's suite example, docs/ray.md's two executor blocks, docs/retrieval.md's task.
    assert len(yaml_blocks(ROOT / "README.md")) >= 1
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize(
    ("doc", "line", "body"),
    BLOCKS,
    ids=[f"{p.relative_to(ROOT)}:{line}" for p, line, _ in BLOCKS],
)
def test_yaml_block_validates(
    doc: Path, line: int, body: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _validate(as_suite(body), tmp_path / "block.yaml", capsys)
    assert out.startswith("task ") and "ok: " in out


def test_a_broken_block_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The check can fail: a gate on a value the task does not have, a wrong key, bad YAML."""
    readme_suite = next(b for p, _, b in BLOCKS if p.name == "README.md" and "gates:" in b)
    broken = readme_suite.replace("{metric: chrf, min: 30}", "{metric: chrF, min: 30}")
    assert broken != readme_suite
    with pytest.raises(AssertionError, match="no metric value 'chrF'"):
        _validate(as_suite(broken), tmp_path / "broken.yaml", capsys)
    with pytest.raises(AssertionError, match="no suite field"):
        as_suite("exectuor: ray\n")
    with pytest.raises(AssertionError, match="must be a mapping"):
        as_suite("- executor: ray\n")


def test_readme_quickstart_gates_are_the_bundled_suites() -> None:
    readme = [
        yaml.safe_load(b)
        for p, _, b in BLOCKS
        if p.name == "README.md" and yaml.safe_load(b).get("name") == "quickstart"
    ]
    assert len(readme) == 1
    bundled = {t.name: t.spec for t in load_suite(QUICKSTART).tasks}
    shown = [t for t in readme[0]["tasks"] if t.get("gates")]
    assert shown, "the README's quickstart example shows no gates"
    for task in shown:
        spec = bundled[task["name"]]
        assert [
            g.model_dump(exclude_defaults=True)
            for g in SuiteSpec.model_validate({"name": "x", "tasks": [task]}).tasks[0].gates
        ] == [g.model_dump(exclude_defaults=True) for g in spec.gates], task["name"]
        # The metrics it shows are the bundled task's (a prefix of them, as an excerpt).
        assert task["metrics"] == spec.metrics[: len(task["metrics"])]
