"""The code base stays ruff- and mypy-clean: the README's lint command, run as written.

The README's "Development" section holds the one lint command; this test reads it from there
and runs each of its ``&&``-joined commands, so the documented command and the checked one
cannot drift. ``.pre-commit-config.yaml`` must run the same three tools.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys

import pytest
import tomllib
import yaml

from tests.conftest import ROOT


def readme_lint_command() -> list[list[str]]:
    """The commands of the README's lint line (the code block after "The lint command")."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"The lint command must pass.*?```bash\n(.+?)\n```", text, re.S)
    assert match, "README.md: the Development section lost its lint command block"
    return [shlex.split(part) for part in match.group(1).split("&&")]


def test_readme_lint_command_covers_the_tree() -> None:
    commands = readme_lint_command()
    assert ["ruff", "check", "."] in commands
    assert ["ruff", "format", "--check", "."] in commands
    mypy = next(c for c in commands if c[0] == "mypy")
    assert {"evalkit", "tests", "bench"} <= set(mypy[1:])


def test_pre_commit_runs_the_same_tools() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    entries = [hook["entry"] for repo in config["repos"] for hook in repo["hooks"]]
    assert any(e.startswith("ruff check") for e in entries)
    assert any(e.startswith("ruff format --check") for e in entries)
    assert any(e.startswith("mypy evalkit") for e in entries)


#: The per-module flags that ``mypy --strict`` turns on (mypy 1.x; the global ones,
#: ``warn_unused_ignores``, ``check_untyped_defs``, ``warn_redundant_casts``, are set in
#: ``[tool.mypy]``).
STRICT_FLAGS = (
    "disallow_any_generics",
    "disallow_subclassing_any",
    "disallow_untyped_calls",
    "disallow_untyped_defs",
    "disallow_incomplete_defs",
    "disallow_untyped_decorators",
    "warn_return_any",
    "no_implicit_reexport",
    "strict_equality",
    "extra_checks",
)


def test_mypy_is_strict_for_the_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert config["warn_unused_ignores"] and config["check_untyped_defs"]
    package = [o for o in config.get("overrides", []) if o.get("module") == ["evalkit.*"]]
    assert package, "pyproject.toml: no [[tool.mypy.overrides]] for evalkit.*"
    missing = [flag for flag in STRICT_FLAGS if package[0].get(flag) is not True]
    assert not missing, f"pyproject.toml: the evalkit.* override lacks strict flags {missing}"


@pytest.mark.parametrize("cmd", readme_lint_command(), ids=lambda c: " ".join(c[:2]))
def test_clean(cmd: list[str]) -> None:
    if cmd[0] == "ruff" and shutil.which("ruff") is None:
        pytest.fail("ruff is not installed; pip install -e '.[dev]'")
    if cmd[0] == "mypy":
        cmd = [sys.executable, "-m", *cmd]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
