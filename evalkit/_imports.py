"""Load a Python object named ``MODULE:ATTR`` or ``path/to/file.py:ATTR`` (the ``python:`` specs).

Used by the ``python:`` adapter and by ``python:`` image feature extractors. A module named by
import path is imported once per process (from the working directory too); a file is executed
as a fresh module at each load. Error messages quote the spec as ``python:TARGET``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from evalkit.errors import AdapterError, ConfigError

__all__ = ["load_callable", "load_target"]


def load_callable(target: str) -> Callable[..., Any]:
    """Import ``module:function`` or ``file.py:function``.

    >>> load_callable("os.path:basename")("/a/b.txt")
    'b.txt'
    """
    return load_target(target)[1]


def _import_file(target: str, module_name: str) -> ModuleType:
    path = Path(module_name).resolve()
    if not path.is_file():
        raise ConfigError(f"python:{target}: file {path} not found.")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:  # pragma: no cover
        raise ConfigError(f"python:{target}: cannot import {path}.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_target(target: str) -> tuple[ModuleType, Callable[..., Any]]:
    """The module and the callable of ``module:function`` or ``file.py:function``.

    Raises:
        ConfigError: A malformed spec, a module that cannot be imported, no such callable.
        AdapterError: Importing the module raised something else (its own bug).

    >>> load_target("os.path:nope")
    Traceback (most recent call last):
    ...
    evalkit.errors.ConfigError: python:os.path:nope: os.path has no callable 'nope'.
    """
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f"python:{target}: expected python:MODULE:FUNCTION or python:FILE.py:FUNCTION."
        )
    try:
        if module_name.endswith(".py"):
            module = _import_file(target, module_name)
        else:
            if "" not in sys.path and str(Path.cwd()) not in sys.path:
                sys.path.insert(0, str(Path.cwd()))
            module = importlib.import_module(module_name)
    except ConfigError:
        raise
    except (ImportError, SyntaxError) as exc:
        # A module that is not there (or cannot be parsed) is a bad spec, like an unknown
        # metric: exit 2 before any sample is run, not a run failure.
        missing = getattr(exc, "name", None)
        what = f"module '{missing}' not found" if missing else f"{type(exc).__name__}: {exc}"
        raise ConfigError(
            f"python:{target}: cannot import {module_name} ({what}); check the module name "
            "and that it is importable from the working directory (or give python:FILE.py:FN)."
        ) from None
    except Exception as exc:
        raise AdapterError(f"python:{target}: importing {module_name} failed: {exc}") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"python:{target}: {module_name} has no callable '{attr}'.")
    return module, fn
