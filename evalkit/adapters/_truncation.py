"""The one warning line of retrieval adapters whose rankings were cut at the depth."""

from __future__ import annotations

import sys
from collections.abc import Iterable


def truncation_note(task: str, lengths: Iterable[int], depth: int) -> str | None:
    """What to say when some of a task's full rankings are longer than ``depth``.

    Args:
        task: The task's name.
        lengths: The full ranking length of each query of the task (before the cut).
        depth: How many documents a query keeps.

    Returns:
        One line with the counts, or None when no ranking was cut.

    >>> truncation_note("ict", [1500, 20, 1200], 1000)
    "task 'ict': 2 of 3 queries had rankings cut at depth 1000 (longest 1500)"
    >>> truncation_note("ict", [3, 4], 10) is None
    True
    """
    sizes = list(lengths)
    cut = [n for n in sizes if n > depth]
    if not cut:
        return None
    return (
        f"task '{task}': {len(cut)} of {len(sizes)} queries had rankings cut at depth {depth} "
        f"(longest {max(cut)})"
    )


def warn_truncated(task: str, lengths: Iterable[int], depth: int) -> None:
    """Print :func:`truncation_note` as a ``warning:`` line on stderr (once per task)."""
    note = truncation_note(task, lengths, depth)
    if note is not None:
        print(f"warning: {note}", file=sys.stderr, flush=True)
