"""Executors: where a run's batches are served and scored (``local`` or ``ray``).

>>> from evalkit.suite import ExecutorSpec
>>> make_executor(ExecutorSpec()).kind
'local'
"""

from __future__ import annotations

from evalkit.errors import ConfigError, did_you_mean
from evalkit.executors.base import (
    Batch,
    Executor,
    JudgeSlot,
    TaskSlot,
    call_adapter,
    judge_batch,
    score_batch,
)
from evalkit.suite import ExecutorSpec

#: The executor kinds.
KINDS = ("local", "ray")

__all__ = [
    "KINDS",
    "Batch",
    "Executor",
    "JudgeSlot",
    "TaskSlot",
    "call_adapter",
    "judge_batch",
    "make_executor",
    "merge_specs",
    "score_batch",
]


def merge_specs(*specs: ExecutorSpec | str | None) -> ExecutorSpec:
    """Combine executor settings; fields set in a later spec win (suite, then command line).

    A string is the executor's kind (``"ray"``).

    >>> a = ExecutorSpec(kind="ray", workers=4)
    >>> merge_specs(a, ExecutorSpec(workers=2)).model_dump(exclude_none=True)
    {'kind': 'ray', 'workers': 2}
    >>> merge_specs(a, "local").kind
    'local'
    """
    out = ExecutorSpec()
    for spec in specs:
        if isinstance(spec, str):
            if spec not in KINDS:
                raise ConfigError(
                    f"executor {spec!r}: expected 'local' or 'ray'.{did_you_mean(spec, KINDS)}"
                )
            spec = ExecutorSpec.model_validate({"kind": spec})
        if spec is not None:
            out = out.model_copy(update={k: getattr(spec, k) for k in spec.model_fields_set})
    return out


def make_executor(spec: ExecutorSpec | None = None) -> Executor:
    """Build the executor that ``spec`` names (default: local).

    Raises:
        ConfigError: ``ray`` was asked for and Ray is not installed.
    """
    spec = spec or ExecutorSpec()
    if spec.kind == "ray":
        from evalkit.executors.ray import RayExecutor

        return RayExecutor(spec)
    from evalkit.executors.local import LocalExecutor

    return LocalExecutor()
