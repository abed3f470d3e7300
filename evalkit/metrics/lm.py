"""Perplexity and its tokenizer-free relatives, from rolling log-likelihoods.

A model scores each text with a ``loglikelihood_rolling`` request: the summed negative
log-likelihood ``NLL`` (nats) of every token of the text, each scored exactly once (see
:mod:`evalkit.adapters.hf` for the windows and for how the first token is conditioned). Each
sample's statistic is ``[NLL, tokens, words, bytes]`` (``words``: whitespace-separated words of
the text, ``bytes``: its UTF-8 length), and the corpus values are formulas over their sums:

- ``perplexity = exp(sum NLL / sum tokens)`` (corpus-level: *not* a mean of per-text
  perplexities, which would weight short texts as much as long ones);
- ``word_perplexity = exp(sum NLL / sum words)``;
- ``byte_perplexity = exp(sum NLL / sum bytes)``;
- ``bits_per_byte = sum NLL / (sum bytes * ln 2)``, so ``2 ** bits_per_byte ==
  byte_perplexity``.

All are lower-is-better. ``perplexity`` depends on the tokenizer, so it compares checkpoints
of one model; the word and byte values compare models with different tokenizers (the
definitions of lm-evaluation-harness' ``wikitext`` task, except that words are counted with
``str.split()`` rather than ``re.split(r"\\s+", text)``, which also counts empty strings at
leading or trailing whitespace).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
from pydantic import Field, model_validator

from evalkit.errors import InputError, RunError
from evalkit.metrics.base import VectorMetric
from evalkit.metrics.params import MetricParams
from evalkit.registry import build_adapter
from evalkit.types import GenerateRequest, Sample, Score, Stats

if TYPE_CHECKING:  # pragma: no cover
    from evalkit.adapters.base import ModelAdapter

__all__ = ["Perplexity", "score_texts"]

_LN2 = math.log(2.0)


class Perplexity(VectorMetric):
    """Corpus perplexity, word and byte perplexity, and bits per byte of the scored texts.

    Definition: with ``NLL`` the summed negative log-likelihood (nats) over all texts,
    ``perplexity = exp(NLL / tokens)``, ``word_perplexity = exp(NLL / words)``,
    ``byte_perplexity = exp(NLL / bytes)`` and ``bits_per_byte = NLL / (bytes * ln 2)``.

    Args:
        max_length: Tokens per scoring window (default: the model's maximum length).
        stride: Tokens the window advances by (default: ``max_length``: no overlap). A smaller
            stride gives each scored token more context, at more compute; every token is still
            scored once.

    References:
        Jelinek et al. (1977), "Perplexity -- a measure of the difficulty of speech recognition
        tasks"; the Hugging Face guide "Perplexity of fixed-length models" (strided windows);
        Gao et al. (2020), "The Pile" (bits per byte).

    Example:
        >>> from evalkit.types import Sample
        >>> text = Sample(id="1", prompt="to be or not", outputs={"nll": 6.0, "n_tokens": 3})
        >>> values = Perplexity().score([text]).details
        >>> round(values["perplexity"], 4), round(values["word_perplexity"], 4)
        (7.3891, 4.4817)
        >>> round(2 ** values["bits_per_byte"] - values["byte_perplexity"], 12)
        0.0
    """

    name: ClassVar[str] = "perplexity"
    higher_is_better: ClassVar[bool] = False
    requires: ClassVar[frozenset[str]] = frozenset({"loglikelihood_rolling"})
    request_kind: ClassVar[str] = "loglikelihood_rolling"

    class Params(MetricParams):
        """The scoring windows (``None``: the model's own choice)."""

        max_length: int | None = Field(
            None, ge=1, description="tokens per scoring window (default: the model's maximum)"
        )
        stride: int | None = Field(
            None, ge=1, description="tokens the window advances by (default: max_length)"
        )

        @model_validator(mode="after")
        def _no_gaps(self) -> Self:
            length, stride = self.max_length, self.stride
            if length is not None and stride is not None and stride > length:
                raise ValueError(
                    f"stride={stride} exceeds max_length={length}; tokens between windows "
                    "would go unscored. Use a stride <= max_length"
                )
            return self

    p: Params

    def request_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.params.items() if v is not None}

    def signature_fields(self) -> dict[str, Any]:
        fields = super().signature_fields()
        for key in ("max_length", "stride"):
            if fields[key] is None:
                fields[key] = "model"
        return fields

    def value_names(self) -> tuple[str, ...]:
        return ("perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte")

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        stats = []
        for s in batch:
            if not isinstance(s.prompt, str):
                raise InputError(
                    f"{self.name}: sample '{s.id}' has no scored text (Sample.prompt); the "
                    "runner sets it to the rendered prompt of a loglikelihood_rolling request."
                )
            nll, n_tokens = s.outputs.get("nll"), s.outputs.get("n_tokens")
            if not isinstance(nll, int | float) or not isinstance(n_tokens, int):
                raise InputError(
                    f"{self.name}: sample '{s.id}' has no rolling log-likelihood outputs "
                    f"(nll, n_tokens), got {dict(s.outputs)!r}; score it with a model that "
                    "serves loglikelihood_rolling requests."
                )
            if not math.isfinite(nll) or nll < 0 or n_tokens < 0:
                raise InputError(
                    f"{self.name}: sample '{s.id}': nll={nll!r}, n_tokens={n_tokens!r} are not "
                    "a summed negative log-likelihood and a token count."
                )
            stats.append([float(nll), n_tokens, len(s.prompt.split()), len(s.prompt.encode())])
        return stats

    def sample_warnings(self, batch: Sequence[Sample]) -> list[str | None]:
        return [
            "no tokens scored (empty text)" if s.outputs.get("n_tokens") == 0 else None
            for s in batch
        ]

    def from_totals(self, totals: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
        nll, tokens, words, nbytes = (totals[:, i] for i in range(4))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return {
                "perplexity": np.exp(nll / tokens),
                "word_perplexity": np.exp(nll / words),
                "byte_perplexity": np.exp(nll / nbytes),
                "bits_per_byte": nll / (nbytes * _LN2),
            }


def score_texts(
    texts: Sequence[str],
    model: str | ModelAdapter,
    *,
    max_length: int | None = None,
    stride: int | None = None,
    model_options: Mapping[str, Any] | None = None,
) -> Score:
    """Perplexity of ``texts`` under ``model`` in one call (the functional front end).

    Args:
        texts: The texts to score.
        model: An adapter spec (``hf:models/tiny-gpt2/step-0600``) or an adapter.
        max_length: Tokens per window (default: the model's maximum length).
        stride: Tokens the window advances by (default: ``max_length``).
        model_options: Adapter options when ``model`` is a spec (``{"batch_size": 16}``).

    Returns:
        The ``perplexity`` score, with the other values in ``details``.

    Example:
        >>> score = score_texts(["ab c", "d"], "scripted:echo")  # exp((1.2 + 1.1 + 1.1) / 3)
        >>> round(score.value, 6), score.n
        (3.105993, 2)
    """
    if isinstance(texts, str):
        raise InputError("perplexity: texts is a string; pass a list of strings.")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"perplexity: texts[{i}] is {type(text).__name__}, not a string.")
    metric = Perplexity(max_length=max_length, stride=stride)
    adapter = build_adapter(model, dict(model_options or {})) if isinstance(model, str) else model
    options = tuple(sorted(metric.request_options().items()))
    requests = [
        GenerateRequest(text, sample_id=str(i), kind=metric.request_kind, options=options)
        for i, text in enumerate(texts)
    ]
    adapter.prepare({"perplexity": requests})
    gens = adapter.call(requests)
    failed = [(i, g.error) for i, g in enumerate(gens) if not g.ok]
    if failed:
        raise RunError(
            f"perplexity: the model could not score {len(failed)} of {len(texts)} texts; "
            f"first: texts[{failed[0][0]}]: {failed[0][1]}"
        )
    samples = [
        Sample(id=str(i), prompt=text, outputs=g.outputs)
        for i, (text, g) in enumerate(zip(texts, gens, strict=True))
    ]
    return metric.score(samples)
