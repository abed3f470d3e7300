"""LLM-as-judge metrics: single-answer grading, pairwise preference, agreement with people."""

import sys
import types
from typing import Any


class _TwinPackage(types.ModuleType):
    """This package, callable as the ``judge`` metric's functional twin.

    ``evalkit.metrics.judge`` names both the twin (a function of :mod:`evalkit.metrics`) and
    this package; importing the package replaces the function on :mod:`evalkit.metrics`, so
    the package forwards calls to it.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from evalkit.metrics.judge.rubric import judge_score

        return judge_score(*args, **kwargs)


sys.modules[__name__].__class__ = _TwinPackage
