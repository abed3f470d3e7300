"""The example GitHub Actions workflow in docs/ runs locally, end to end.

The test reads docs/evalkit-pull-request.yml, plays the main branch's job (whose run becomes the
stored baseline, as the artifact steps do), then plays a pull request's job: every `evalkit`
command of the file runs as written, through a shell, with the workflow's environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOW = ROOT / "docs" / "evalkit-pull-request.yml"


def _steps(event: str) -> list[dict[str, Any]]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    steps = doc["jobs"]["evaluate"]["steps"]
    out = []
    for step in steps:
        cond = step.get("if", "")
        if "event_name" in cond and f"'{event}'" not in cond:
            continue
        if str(step.get("run", "")).startswith("evalkit"):
            out.append(step)
    return out


def _play(event: str, cwd: Path, model: str) -> list[int]:
    env = dict(os.environ, MODEL=model)
    codes = []
    for step in _steps(event):
        proc = subprocess.run(
            ["bash", "-c", step["run"]],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode in (0, 1), f"{step['name']}: {proc.stderr}"
        codes.append(proc.returncode)
    return codes


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    if shutil.which("evalkit") is None:
        pytest.fail("the evalkit console script is not installed (pip install -e .)")
    (tmp_path / "suites").symlink_to(ROOT / "suites", target_is_directory=True)
    env_model = yaml.safe_load(WORKFLOW.read_text())["jobs"]["evaluate"]["env"]["MODEL"]
    assert env_model.startswith("predictions:suites/")
    # The main branch's job; its run is what the artifact steps hand to pull requests.
    assert _play("push", tmp_path, env_model) == [0]
    (tmp_path / "reports" / "pr").rename(tmp_path / "reports" / "main")
    return tmp_path


def test_pull_request_without_regression_passes(workspace: Path) -> None:
    codes = _play("pull_request", workspace, "predictions:suites/quickstart/sys_a.jsonl")
    assert codes == [0, 0]
    assert (workspace / "reports" / "compare" / "compare.html").is_file()
    assert (workspace / "reports" / "pr" / "report.html").is_file()
    assert "no significant regression" in (workspace / "reports/compare/summary.md").read_text()
    root = ET.parse(workspace / "reports" / "pr" / "junit.xml").getroot()
    assert root.findall(".//testcase") and not root.findall(".//failure")


def test_pull_request_with_a_regression_fails(workspace: Path) -> None:
    codes = _play("pull_request", workspace, "predictions:suites/quickstart/sys_b.jsonl")
    assert codes == [0, 1]  # absolute gates pass; the paired comparison blocks the PR
    doc = json.loads((workspace / "reports" / "compare" / "compare.json").read_text())
    assert doc["regressions"] > 0
    root = ET.parse(workspace / "reports" / "compare" / "junit.xml").getroot()
    assert len(root.findall(".//failure")) == doc["regressions"]
