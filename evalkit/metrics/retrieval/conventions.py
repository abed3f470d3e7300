"""The conventions and parameters of the ranking metrics, recorded in every signature.

The order of equal scores (:data:`TIES`), the cutoffs ``k`` (canonical once validated), the
relevance level, nDCG's gain, and the ``missing`` / ``no_relevant`` query policies; see
:mod:`evalkit.metrics.retrieval.ranking` for what each means.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

from pydantic import Field, field_validator

from evalkit.metrics.params import MetricParams

__all__ = [
    "K_HELP",
    "POLICIES",
    "TIES",
    "CutoffParams",
    "Cutoffs",
    "GainParams",
    "LevelParams",
    "Policy",
    "PolicyParams",
    "RankingParams",
    "TieWarning",
]

#: The tie-breaking rule, as recorded in signatures.
TIES = "score_desc_docid_desc"
#: A cutoff, or a list of cutoffs (``None``: the whole ranking), as users give them.
Cutoffs = int | None | Sequence[int | None]
#: What to do with a judged query absent from the run, or one without relevant documents.
Policy = Literal["zero", "skip"]
POLICIES = get_args(Policy)
K_HELP = "one cutoff or a list of them; null: the whole ranking"
_MISSING_HELP = "judged queries absent from the run: zero (trec_eval -c) or skip"
_NO_RELEVANT_HELP = "queries without relevant documents: zero (trec_eval) or skip"


class PolicyParams(MetricParams):
    """The query policies every ranking metric has (listed last)."""

    missing: Policy = Field("zero", description=_MISSING_HELP)
    no_relevant: Policy = Field("zero", description=_NO_RELEVANT_HELP)


class LevelParams(MetricParams):
    """The relevance level of the binary measures."""

    relevance_level: int = Field(1, description="grades >= this are relevant (trec_eval -l)")


class GainParams(MetricParams):
    """nDCG's gain function (it takes grades, not a relevance level)."""

    gain: Literal["linear", "exponential"] = Field(
        "linear", description="gain of a grade: linear (trec_eval) or exponential (2**g - 1)"
    )


class CutoffParams(MetricParams):
    """The cutoffs ``k``, canonical once validated: a list, ascending, ``None`` last.

    ``k: 10``, ``k: [10]`` and ``k: [10, 5]`` reach the signature as ``[10]`` and ``[5, 10]``.
    """

    k: Cutoffs = Field(10, validate_default=True, description=K_HELP)

    @field_validator("k")
    @classmethod
    def _canonical(cls, k: Cutoffs) -> list[int | None]:
        values = [k] if k is None or isinstance(k, int) else list(k)
        if not values:
            raise ValueError("the list is empty; give a cutoff such as 10, a list, or null")
        for v in values:
            if v is not None and v < 1:
                raise ValueError(f"{v} is not a cutoff; cutoffs are >= 1 (or null)")
        if len(set(values)) != len(values):
            raise ValueError(f"{values} lists a cutoff twice; list each once")
        return sorted(values, key=lambda v: (v is None, v or 0))


# pydantic lists the fields of the last base first: k, relevance_level, missing, no_relevant.
class RankingParams(PolicyParams, LevelParams, CutoffParams):
    """The parameters of precision, recall, hit rate, MRR and MAP (nDCG has ``gain`` instead
    of ``relevance_level``; R-precision has no ``k``)."""


class TieWarning(UserWarning):
    """Judged documents share their score with other documents; the order of equal scores
    (doc id, descending, as trec_eval does) decides their ranks."""
