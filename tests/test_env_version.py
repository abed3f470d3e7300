"""The environment accessors (evalkit._env) and the single source of the version."""

from __future__ import annotations

import ast
import re
from importlib import metadata
from pathlib import Path

import pytest

from evalkit import _env
from tests.conftest import ROOT

ALL_VARIABLES = (
    _env.CACHE_DIR,
    _env.INDEX,
    _env.WORKERS,
    _env.WORDNET_DIR,
    _env.INCEPTION_WEIGHTS,
    _env.DIGITS_CNN_WEIGHTS,
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No EVALKIT_* variable set (conftest's cache folder removed too)."""
    for name in ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# -- defaults -------------------------------------------------------------------------------


def test_defaults_when_unset(clean_env: pytest.MonkeyPatch) -> None:
    assert _env.cache_dir() == Path.home() / ".cache" / "evalkit"
    assert _env.index_file() is None
    assert _env.workers() is None
    assert _env.wordnet_dir() is None
    assert _env.inception_weights() is None
    assert _env.digits_cnn_weights() is None


@pytest.mark.parametrize("name", ALL_VARIABLES)
def test_empty_value_counts_as_unset(clean_env: pytest.MonkeyPatch, name: str) -> None:
    clean_env.setenv(name, "")
    assert _env.cache_dir() == Path.home() / ".cache" / "evalkit"
    assert _env.index_file() is None
    assert _env.workers() is None
    assert _env.wordnet_dir() is None
    assert _env.inception_weights() is None
    assert _env.digits_cnn_weights() is None


# -- overrides, read at call time -----------------------------------------------------------


def test_overrides_are_read_at_call_time(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv(_env.CACHE_DIR, str(tmp_path / "c"))
    clean_env.setenv(_env.INDEX, str(tmp_path / "i.sqlite"))
    clean_env.setenv(_env.WORKERS, "3")
    clean_env.setenv(_env.WORDNET_DIR, "~/wn/")
    clean_env.setenv(_env.INCEPTION_WEIGHTS, "/w/inception.pth")
    clean_env.setenv(_env.DIGITS_CNN_WEIGHTS, "/w/digits.npz")
    assert _env.cache_dir() == tmp_path / "c"
    assert _env.index_file() == tmp_path / "i.sqlite"
    assert _env.workers() == 3
    assert _env.wordnet_dir() == "~/wn/"  # as given: wordnet expands it and quotes it as is
    assert _env.inception_weights() == "/w/inception.pth"
    assert _env.digits_cnn_weights() == "/w/digits.npz"
    clean_env.setenv(_env.WORKERS, "5")
    assert _env.workers() == 5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", 1), (" 4 ", 4), ("0", 1), ("-2", 1), ("two", None), ("2.5", None), ("  ", None)],
)
def test_workers_values(clean_env: pytest.MonkeyPatch, raw: str, expected: int | None) -> None:
    # Not validated (as before): a non-integer is ignored, values below 1 mean one worker.
    clean_env.setenv(_env.WORKERS, raw)
    assert _env.workers() == expected


# -- the modules that read them -------------------------------------------------------------


def test_users_follow_the_variables(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from evalkit.assets import wordnet
    from evalkit.cache import default_cache_path
    from evalkit.index import index_path
    from evalkit.metrics._parallel import worker_count

    clean_env.setenv(_env.CACHE_DIR, str(tmp_path))
    assert default_cache_path() == tmp_path / "responses.sqlite"
    assert index_path() == tmp_path / "runs.sqlite"
    assert wordnet._cache_root() == tmp_path / "wordnet"
    clean_env.setenv(_env.INDEX, str(tmp_path / "elsewhere.sqlite"))
    assert index_path() == tmp_path / "elsewhere.sqlite"
    clean_env.setenv(_env.WORKERS, "7")
    assert worker_count() == 7
    clean_env.setenv(_env.WORKERS, "not a number")
    assert worker_count() >= 1


def test_digits_weights_variable(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from evalkit.assets.image_features import DIGITS_WEIGHTS, DigitsCNN
    from evalkit.errors import AssetError

    assert DigitsCNN().path == DIGITS_WEIGHTS
    clean_env.setenv(_env.DIGITS_CNN_WEIGHTS, str(tmp_path / "none.npz"))
    with pytest.raises(AssetError, match=r"digits-cnn weights not found at .*none\.npz"):
        DigitsCNN()


def test_no_module_reads_evalkit_variables_directly() -> None:
    """Every EVALKIT_* read goes through evalkit._env (writes, like ray's, are allowed)."""
    offenders = []
    for path in sorted((ROOT / "evalkit").rglob("*.py")):
        if path.name == "_env.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("get", "getenv")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).startswith("EVALKIT_")
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_docstring_table_names_every_variable() -> None:
    doc = _env.__doc__ or ""
    for name in ALL_VARIABLES:
        assert f"``{name}``" in doc


# -- version ----------------------------------------------------------------------------------


def _pyproject_version() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^version = "([^"]+)"', text, re.M)
    assert found is not None
    return found.group(1)


def test_version_is_the_installed_metadata() -> None:
    import evalkit
    from evalkit._version import __version__

    assert evalkit.__version__ == __version__ == metadata.version("evalkit")


def test_pyproject_holds_the_same_number() -> None:
    assert _pyproject_version() == metadata.version("evalkit")


def test_version_fallback_without_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit import _version

    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    assert _version._read_version() == _pyproject_version()  # a source checkout
    monkeypatch.setattr(_version, "_source_tree_version", lambda: None)
    assert _version._read_version() == _version.UNKNOWN


def test_package_modules_take_the_version_from_version_module() -> None:
    """No module inside the package imports the top-level package for its version."""
    pattern = re.compile(r"^\s*from evalkit import __version__", re.M)
    hits = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "evalkit").rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    }
    # bertscore.py is another change's; it may still import the package's re-export.
    assert hits <= {"evalkit/metrics/text/bertscore.py"}
