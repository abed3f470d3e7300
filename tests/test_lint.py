"""The code base stays ruff- and mypy-clean (both are dev dependencies)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.parametrize(
    "cmd",
    [
        ["ruff", "check", "evalkit", "tests", "bench"],
        ["ruff", "format", "--check", "evalkit", "tests", "bench"],
        [sys.executable, "-m", "mypy", "evalkit", "tests", "bench"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_clean(cmd: list[str]) -> None:
    if cmd[0] == "ruff" and shutil.which("ruff") is None:
        pytest.fail("ruff is not installed; pip install -e '.[dev]'")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
