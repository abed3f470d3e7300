"""What the diversity metrics share: a sample's outputs, tokenisation, n-gram orders.

The n-gram metrics (:mod:`~evalkit.metrics.diversity.ngram`) take one order or a list of them
(:func:`canonical_orders`); self-BLEU and embedding diversity identify outputs by sample id and
index (:func:`unique_outputs`), so a resample that draws a prompt twice never compares an output
with its own copy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

import numpy as np
from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from evalkit.errors import InputError
from evalkit.metrics.params import MetricParams
from evalkit.types import Sample, Stats

#: The tokenizers of the n-gram metrics: ``str.split`` or sacrebleu's BLEU tokenizer.
TokenizerName = Literal["whitespace", "13a"]
TOKENIZERS: tuple[str, ...] = get_args(TokenizerName)


def sample_outputs(metric: str, sample: Sample) -> list[str]:
    """The texts a diversity metric scores for one sample: its ``n`` samples, else its prediction.

    >>> sample_outputs("distinct_n", Sample(id="1", outputs={"samples": ["a", "b"]}))
    ['a', 'b']
    >>> sample_outputs("distinct_n", Sample(id="1"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.errors.InputError: distinct_n: sample '1' has no prediction (NoneType); ...
    """
    samples = sample.outputs.get("samples") if sample.outputs else None
    if samples is None:
        if not isinstance(sample.prediction, str):
            raise InputError(
                f"{metric}: sample '{sample.id}' has no prediction "
                f"({type(sample.prediction).__name__}); score samples after generation."
            )
        return [sample.prediction]
    if not isinstance(samples, list) or not all(isinstance(t, str) for t in samples):
        raise InputError(
            f"{metric}: sample '{sample.id}': outputs['samples'] must be a list of strings "
            "(the texts of a task with generation n > 1)."
        )
    return list(samples)


def tokenizer(name: str, lowercase: bool) -> Callable[[str], list[str]]:
    """A function from text to tokens: ``whitespace`` or sacrebleu's ``13a``."""
    split: Callable[[str], list[str]]
    if name == "whitespace":
        split = str.split
    else:
        from evalkit.metrics.text._sacre_fast import fast_13a_available, tokens_13a

        if fast_13a_available():
            split = tokens_13a
        else:  # pragma: no cover - the fast path is available wherever sacrebleu is
            from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

            tok = Tokenizer13a()

            def split_13a(text: str) -> list[str]:
                return str(tok(text)).split()

            split = split_13a

    if lowercase:
        return lambda text: split(text.lower())
    return split


def _renamed(
    fields: dict[str, Any], old: str, new: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``fields`` with key ``old`` renamed ``new`` in place (and ``extra`` after it)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        out[new if key == old else key] = value
        if key == old:
            out.update(extra or {})
    return out


def _ngrams(tokens: Sequence[str], n: int) -> list[str]:
    # Tokens never hold spaces (both tokenizers split on whitespace), so joining is unambiguous.
    return [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


#: An n-gram order, or a list of orders, as users give them.
Orders = int | list[int]
#: The orders the n-gram metrics accept.
MIN_ORDER, MAX_ORDER = 1, 10
_N_HELP = "n-gram order (1-10), or a list of orders; names the values"


def canonical_orders(value: Any) -> Orders:
    """``value`` checked as one n-gram order or a list of them; a list comes back sorted.

    A list of one order is that order, so ``n: [2]`` scores (and signs) like ``n: 2``. Errors
    are pydantic errors that :class:`~evalkit.metrics.params.MetricParams` words
    (``n must be between 1 and 10, got 0``).

    >>> canonical_orders(3), canonical_orders([3, 1]), canonical_orders([2])
    (3, [1, 3], 2)
    >>> canonical_orders([2, 2])
    Traceback (most recent call last):
    ...
    ValueError: [2, 2] lists an order twice; list each once
    """

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if not (is_int(value) or (isinstance(value, list) and all(is_int(v) for v in value))):
        raise PydanticCustomError("int_type", "an order or a list of orders")
    orders: list[int] = [value] if is_int(value) else list(value)
    if not orders:
        raise ValueError("the list is empty; give an order such as 2, or a list such as [1, 2]")
    if min(orders) < MIN_ORDER:
        raise PydanticCustomError("greater_than_equal", "order too low", {"ge": MIN_ORDER})
    if max(orders) > MAX_ORDER:
        raise PydanticCustomError("less_than_equal", "order too high", {"le": MAX_ORDER})
    if len(set(orders)) != len(orders):
        raise ValueError(f"{value} lists an order twice; list each once")
    return orders[0] if len(orders) == 1 else sorted(orders)


class _OrderParams(MetricParams):
    """The n-gram order(s) and the tokenisation (shared by the n-gram metrics)."""

    # The bounds word the error messages (MetricParams reads them); the plain validator replaces
    # pydantic's own checks, so canonical_orders applies them, to one order or to each listed.
    n: Orders = Field(2, ge=MIN_ORDER, le=MAX_ORDER, description=_N_HELP)
    tokenize: TokenizerName = Field(
        "whitespace", description="whitespace: str.split; 13a: sacrebleu's BLEU tokenizer"
    )
    lowercase: bool = Field(False, description="lower-case before tokenising")

    @field_validator("n", mode="plain")
    @classmethod
    def _canonical(cls, value: Any) -> Orders:
        return canonical_orders(value)


def order_list(n: Orders) -> list[int]:
    """The orders of a canonical ``n``, ascending: ``[n]`` for one order.

    >>> order_list(2), order_list([1, 3])
    ([2], [1, 3])
    """
    return [n] if isinstance(n, int) else list(n)


def _order_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Signature fields with ``tokenize`` as ``tok`` and a list of orders as ``1,2``."""
    if isinstance(fields.get("n"), list):
        fields["n"] = ",".join(str(k) for k in fields["n"])
    return _renamed(fields, "tokenize", "tok")


def unique_outputs(
    stats: Sequence[Stats], field: str
) -> tuple[list[tuple[str, int]], list[Any], np.ndarray]:
    """Distinct outputs (by sample id and index) in a stable order, with their multiplicity."""
    weight: Counter[tuple[str, int]] = Counter()
    value: dict[tuple[str, int], Any] = {}
    for st in stats:
        for k, item in enumerate(st[field]):
            key = (str(st["id"]), k)
            weight[key] += 1
            value[key] = item
    keys = sorted(weight)
    return keys, [value[k] for k in keys], np.array([weight[k] for k in keys], dtype=np.float64)
