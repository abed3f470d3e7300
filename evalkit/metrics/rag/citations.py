"""``citation_accuracy``: cited passages that were retrieved and support what the answer says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import Field

from evalkit.metrics.params import MetricParams
from evalkit.metrics.rag._contexts import sample_citations, sample_contexts
from evalkit.metrics.rag._lexical import Tokens, supports, tokens_of
from evalkit.metrics.rag._ratios import RatioMetric, prediction_of
from evalkit.metrics.rag.faithfulness import checkable_claims
from evalkit.types import Sample, Stats

__all__ = ["CitationAccuracy"]


class CitationAccuracy(RatioMetric):
    """Precision and recall of an answer's citations against its retrieved passages.

    A sample's citations are the passage ids of
    :func:`~evalkit.metrics.rag._contexts.sample_citations` (each distinct id once: citing a
    passage twice is one citation). A citation is **valid** when its id is among the sample's
    retrieved passages *and* that passage lexically supports at least one claim of the answer
    (one passage holds ``threshold`` of the claim's content tokens and all its numbers: the
    check of ``faithfulness``'s lexical verifier). A cited id that was not retrieved is invalid
    and named in a sample warning (ids are checked against the retrieved list; evalkit cannot
    tell a passage that exists elsewhere in the corpus from an id that exists nowhere).

    - ``citation_precision`` = valid citations / citations, summed over answers (answers that
      cite nothing do not count);
    - ``citation_recall`` = claims supported by one of the answer's valid cited passages /
      claims, summed over answers (an answer with claims and no citation counts all its claims
      as unsupported by a citation);
    - ``citations_per_answer`` (a diagnostic): mean distinct citations per non-empty answer.

    Claims are those of :func:`~evalkit.metrics.rag.faithfulness.checkable_claims` (sentences
    with a content word). Citations are answer-level: a claim may be backed by any of the
    answer's cited passages, not only by the one cited next to it. An empty answer is a counted
    sample warning and is left out.

    Args:
        contexts_field: Where the passages are logged (``outputs``, else a dataset field).
        citations_field: Where the cited ids are logged.
        threshold: The share of a claim's content tokens a cited passage must hold.

    Raises:
        InputError: Contexts that are not a list of passages, or citations that are not a list
            of strings (naming the file and line).

    References:
        Gao et al. (2023), "Enabling Large Language Models to Generate Text with Citations",
        EMNLP (ALCE: citation precision and recall, there judged by NLI; here lexically).

    Example:
        >>> from evalkit.types import Sample
        >>> s = Sample("q1", prediction="The tower is 330 metres tall.", outputs={
        ...     "contexts": [{"id": "d1", "text": "The tower is 330 metres tall."},
        ...                  {"id": "d2", "text": "Lyon is a city."}],
        ...     "citations": ["d1", "d2", "d9"]})
        >>> m = CitationAccuracy()
        >>> m.sample_stats([s])[0]["invalid"]
        [['d2', 'unsupported'], ['d9', 'not_retrieved']]
        >>> m.score([s]).details
        {'citation_precision': 0.3333333333333333, 'citation_recall': 1.0, 'citations_per_answer': 3.0}
        >>> m.sample_warnings([s])[0]
        "cites 'd9', which is not among the retrieved passages (retrieved: d1, d2)"
    """  # noqa: E501 - a doctest output line

    name: ClassVar[str] = "citation_accuracy"
    higher_is_better: ClassVar[bool] = True

    class Params(MetricParams):
        """Parameters of the citation check."""

        contexts_field: str = Field("contexts", description="where the passages are logged")
        citations_field: str = Field("citations", description="where the cited ids are logged")
        threshold: float = Field(
            0.8, gt=0.0, le=1.0, description="share of a claim's content tokens a passage covers"
        )

    p: Params

    def value_names(self) -> tuple[str, ...]:
        return ("citation_precision", "citation_recall", "citations_per_answer")

    def primary_values(self) -> tuple[str, ...]:
        return ("citation_precision", "citation_recall")

    def value_higher_is_better(self, value_name: str) -> bool:
        return value_name != "citations_per_answer"

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """Per sample: counts and ``invalid``: ``[id, "not_retrieved" | "unsupported"]`` pairs."""
        out: list[Stats] = []
        for sample in batch:
            passages = sample_contexts(sample, field=self.p.contexts_field)
            cited = list(dict.fromkeys(sample_citations(sample, field=self.p.citations_field)))
            answer = prediction_of(sample)
            claims = [tokens_of(c) for c in checkable_claims(answer)]
            by_id = {p.id: tokens_of(p.text) for p in passages if p.id is not None}
            invalid: list[list[str]] = []
            valid: list[Tokens] = []
            for pid in cited:
                if pid not in by_id:
                    invalid.append([pid, "not_retrieved"])
                elif not any(
                    supports(c, [by_id[pid]], self.p.threshold) is not None for c in claims
                ):
                    invalid.append([pid, "unsupported"])
                else:
                    valid.append(by_id[pid])
            backed = sum(supports(c, valid, self.p.threshold) is not None for c in claims)
            out.append(
                {
                    "empty": not answer.strip(),
                    "citations": len(cited),
                    "valid": len(cited) - len(invalid),
                    "claims": len(claims),
                    "cited_claims": backed,
                    "invalid": invalid,
                }
            )
        return out

    def columns(self, stat: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
        if stat["empty"]:
            return {k: (0.0, 0.0) for k in self.value_names()}
        return {
            "citation_precision": (float(stat["valid"]), float(stat["citations"])),
            "citation_recall": (float(stat["cited_claims"]), float(stat["claims"])),
            "citations_per_answer": (float(stat["citations"]), 1.0),
        }

    def sample_warnings(self, batch: Sequence[Sample]) -> list[str | None]:
        out: list[str | None] = []
        for sample in batch:
            if not prediction_of(sample).strip():
                out.append("empty answer: no citations to check (left out of citation_accuracy)")
                continue
            ids = [p.id for p in sample_contexts(sample, field=self.p.contexts_field)]
            known = {i for i in ids if i is not None}
            cited = sample_citations(sample, field=self.p.citations_field)
            unknown = list(dict.fromkeys(c for c in cited if c not in known))
            if not unknown:
                out.append(None)
                continue
            shown = ", ".join(i for i in ids if i is not None) or "none with an id"
            names = ", ".join(f"'{u}'" for u in unknown)
            out.append(
                f"cites {names}, which {'is' if len(unknown) == 1 else 'are'} not among the "
                f"retrieved passages (retrieved: {shown})"
            )
        return out
