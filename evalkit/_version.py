"""The one source of ``evalkit.__version__``: the installed package's metadata.

``pyproject.toml`` holds the number; installing evalkit (``pip install -e .`` too) writes it
into the package metadata, which is read here. A source tree used without installing (its
folder on ``PYTHONPATH``) reads the number from the ``pyproject.toml`` beside the package;
failing both, the version is ``0+unknown``.

>>> from importlib import metadata
>>> __version__ == metadata.version("evalkit")
True
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

__all__ = ["__version__"]

#: The version when neither the metadata nor a pyproject.toml names one.
UNKNOWN = "0+unknown"

_PROJECT_VERSION = re.compile(r'^\[project\][^\[]*?^version\s*=\s*"([^"]+)"', re.M | re.S)


def _source_tree_version() -> str | None:
    """The ``[project]`` version of the ``pyproject.toml`` next to the package, if any."""
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return None
    if not re.search(r'^name\s*=\s*"evalkit"', text, re.M):
        return None
    found = _PROJECT_VERSION.search(text)
    return found.group(1) if found else None


def _read_version() -> str:
    try:
        return metadata.version("evalkit")
    except metadata.PackageNotFoundError:
        return _source_tree_version() or UNKNOWN


__version__: str = _read_version()
