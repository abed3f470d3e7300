"""``python:MODULE:FUNCTION`` (or ``python:path/to/file.py:FUNCTION``): a Python callable.

The function takes a list of prompts and returns a list of completions of the same length. An
item may also be a mapping ``{"text": ..., **outputs}`` (a completion with other model
outputs, such as the ``confidence`` that ``calibration`` reads). An
item that is ``None`` or an exception instance is a failed call; if the function raises, every
request of that batch is recorded as failed with the exception's message. A function with a
``seeds`` keyword parameter also gets each request's seed (``seeds=[int | None, ...]``), so it
can sample: a task with ``generation: {n: 5}`` sends each prompt five times with five seeds.

``info()`` (the response cache key) holds ``source_sha256``, a hash of the source file of the
module named in the spec and of the file that defines the function (when that is another one,
as for a function re-exported by a package's ``__init__.py``), so editing the function makes
the next run call it again instead of replaying old cached outputs. Code the function reaches
in other modules is not hashed: run with ``--no-cache`` (or ``evalkit cache clear --adapter
python``) after editing only such a helper. A module named by import path is imported once per
process; in a notebook, reload it after editing.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from evalkit._imports import load_callable, load_target
from evalkit.adapters.base import ModelAdapter
from evalkit.types import GenerateRequest, Generation

__all__ = ["CallableAdapter", "load_callable", "source_sha256"]

#: The module and callable of a spec; kept under its old name for callers of this module.
_load = load_target


def source_sha256(module: ModuleType, fn: Callable[..., Any]) -> str | None:
    """SHA-256 of the source files behind ``fn``: its module's file, and the defining file.

    None when neither has a source file (a built-in or a C extension without sources).

    >>> import os.path
    >>> len(source_sha256(os.path, os.path.basename) or "")
    64
    """
    files: list[Path] = []
    for get in (lambda: getattr(module, "__file__", None), lambda: inspect.getsourcefile(fn)):
        try:
            name = get()
        except TypeError:  # a built-in, or a callable object: inspect has no file for it
            name = None
        if name and Path(name).is_file() and Path(name).resolve() not in files:
            files.append(Path(name).resolve())
    if not files:
        return None
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


class CallableAdapter(ModelAdapter):
    """Call a Python function over a batch of prompts."""

    name: ClassVar[str] = "python"

    def __init__(self, target: str, **options: Any) -> None:
        self.target = target
        self.options = dict(options)
        module, self.fn = load_target(target)
        self.source_sha256 = source_sha256(module, self.fn)
        try:
            self._takes_seeds = "seeds" in inspect.signature(self.fn).parameters
        except (TypeError, ValueError):  # builtins without a signature
            self._takes_seeds = False

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        prompts = [r.prompt for r in requests]
        extra = {"seeds": [r.seed for r in requests]} if self._takes_seeds else {}
        try:
            outputs = self.fn(prompts, **self.options, **extra)
        except Exception as exc:
            msg = f"{type(exc).__name__}: {exc}"
            return [Generation(text=None, error=msg) for _ in requests]
        outputs = list(outputs)
        if len(outputs) != len(requests):
            msg = (
                f"python:{self.target} returned {len(outputs)} outputs for {len(requests)} prompts"
            )
            return [Generation(text=None, error=msg) for _ in requests]
        result = []
        for out in outputs:
            if isinstance(out, str):
                result.append(Generation(text=out))
            elif isinstance(out, Mapping) and isinstance(out.get("text"), str):
                # {"text": ..., other outputs (e.g. "confidence")}: a text with model outputs.
                extra = {k: v for k, v in out.items() if k != "text"}
                result.append(Generation(text=out["text"], outputs=extra))
            elif isinstance(out, BaseException):
                result.append(Generation(text=None, error=f"{type(out).__name__}: {out}"))
            elif out is None:
                result.append(Generation(text=None, error="the callable returned None"))
            else:
                result.append(
                    Generation(text=None, error=f"the callable returned {type(out).__name__}")
                )
        return result

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "target": self.target,
            "options": self.options,
            "source_sha256": self.source_sha256,
        }
