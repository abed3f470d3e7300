"""One batch of image-family samples decoded and stacked: images and precomputed features alike.

Each sample's reference is found by the caller (which knows what a missing one means), decoded,
and named in any error; arrays of different shapes are refused with each shape's first sample.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from evalkit.errors import InputError
from evalkit.types import Sample


def decode_batch(
    metric: str,
    batch: Sequence[Sample],
    reference_of: Callable[[Sample], Any],
    decode: Callable[[Any], np.ndarray],
    shape_text: Callable[[tuple[int, ...]], str],
    mismatch: str,
) -> list[np.ndarray]:
    """Decode each sample's reference, in order; raise InputError naming the sample.

    Args:
        metric: The metric's name, for messages.
        batch: The samples.
        reference_of: The sample's reference (raises InputError when it has none).
        decode: Reference -> array.
        shape_text: How a shape reads in the mismatch message (``28x28x1``, ``64``).
        mismatch: The message when shapes differ, with ``{listing}`` for the shapes.

    >>> s = [Sample(id="a"), Sample(id="b")]
    >>> decode_batch("fid", s, lambda x: x.id, lambda r: np.zeros(2 if r == "a" else 3),
    ...              lambda sh: str(sh[0]), "rows differ ({listing}).")
    Traceback (most recent call last):
    ...
    evalkit.errors.InputError: fid: rows differ ('a' 2, 'b' 3).
    """
    arrays = []
    for s in batch:
        ref = reference_of(s)
        try:
            arrays.append(decode(ref))
        except InputError as exc:
            raise InputError(f"{metric}: sample '{s.id}': {exc}") from None
    if arrays and len({a.shape for a in arrays}) > 1:
        first = {a.shape: s.id for a, s in zip(arrays, batch, strict=True)}
        listing = ", ".join(f"'{i}' {shape_text(sh)}" for sh, i in first.items())
        raise InputError(f"{metric}: {mismatch.format(listing=listing)}")
    return arrays
