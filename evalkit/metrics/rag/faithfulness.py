"""``faithfulness``: the share of an answer's claims that its retrieved passages support."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from evalkit.metrics.base import Metric, portable_spec
from evalkit.metrics.judges._base import judgments_of
from evalkit.metrics.judges.prompts import JudgePrompt
from evalkit.metrics.judges.verdicts import Scale, VerdictParser, failure_kind
from evalkit.metrics.params import MetricParams
from evalkit.metrics.rag._claims import split_claims
from evalkit.metrics.rag._contexts import Passage, sample_contexts
from evalkit.metrics.rag._lexical import supports, tokens_of
from evalkit.metrics.rag._ratios import RatioMetric, clip, prediction_of
from evalkit.types import GenerateRequest, Sample, Stats, sample_seed

__all__ = ["DEFAULT_TEMPLATE", "Faithfulness", "checkable_claims"]

#: The judge prompt asked once per claim ({context}: the passages, numbered by rank).
DEFAULT_TEMPLATE = (
    "You check whether a claim is supported by retrieved passages.\n\n"
    "Passages:\n{context}\n\nClaim: {claim}\n\n"
    "Is every part of the claim stated or directly implied by the passages? Answer with only "
    'a JSON object: {{"supported": true}} or {{"supported": false}}.'
)

_JUDGE_ONLY = ("model", "template", "template_file", "pattern")
_NLI_ONLY = ("nli_model",)


def checkable_claims(answer: str) -> list[str]:
    """The claims of ``answer`` that have content: sentences with a content word or number.

    "Yes." or "Thanks!" assert nothing a passage could support and are not claims.

    Example:
        >>> checkable_claims("Yes. The tower is 330 m tall. Thanks!")
        ['The tower is 330 m tall.']
    """
    return [c for c in split_claims(answer) if tokens_of(c).content]


def _context_text(passages: Sequence[Passage]) -> str:
    return "\n\n".join(f"[{p.rank}] {p.text}" for p in passages)


class Faithfulness(RatioMetric):
    """Supported claims over claims, per answer, averaged over answers.

    ``faithfulness = mean over answers of supported(a) / claims(a)``, with the claims of an
    answer its sentences that hold a content word (:func:`checkable_claims`; the splitter's
    rules are in :mod:`evalkit.metrics.rag._claims`) and the retrieved passages the sample's
    ``contexts`` (:func:`~evalkit.metrics.rag._contexts.sample_contexts`). An empty answer, or
    one without a checkable claim, has no faithfulness: it is counted in a sample warning and
    left out of the mean (never a 1.0). An answer with claims but no retrieved passage scores 0.
    ``claims_per_answer`` (a diagnostic) is the mean claim count over non-empty answers.

    Verifiers (``verifier``):

    - ``lexical`` (default, no model): a claim is supported when one single passage holds at
      least ``threshold`` of its content tokens (:mod:`evalkit.metrics.rag._lexical`:
      case-folded, stop words out, numbers normalised) and *every* number of the claim. The
      default 0.8 lets a five-word claim add one word of its own (4/5) while two new words out
      of five fail; numbers must match exactly because a changed number is the commonest
      hallucination that a word overlap would let through. It measures close support
      (quotation, light paraphrase): paraphrases with other words count as unsupported.
    - ``judge``: each claim is asked of the judge ``model`` with ``template`` (fields
      ``{claim}``, ``{context}`` and the dataset's); the verdict must be the JSON object
      ``{"supported": true|false}`` (``parser: regex`` reads the group ``supported`` of
      ``pattern``; the pass/fail scale also reads ``1``/``0``, ``pass``/``fail``). A failed or
      unparsed verdict is a counted failure (``judge_failure_rate``, the sample's
      ``failures``) and the claim is left out of that answer's ratio, never scored.
    - ``nli``: an NLI cross-encoder from the local folder ``nli_model`` (never downloaded); a
      claim is supported when P(entailment | passage, claim) >= ``nli_threshold`` for some
      passage.

    Each sample's statistic lists its unsupported claims (each cut to 300 characters), so the
    report shows them.

    Args:
        verifier: ``lexical`` (default), ``judge`` or ``nli``.
        contexts_field: Where the passages are logged (``outputs``, else a dataset field).
        threshold: Lexical: the share of a claim's content tokens one passage must hold.
        model: Judge: the judge's adapter spec; ``model_options`` its options.
        template: Judge: the prompt (``template_file``: a file holding it).
        parser: Judge: ``json`` (default) or ``regex`` with ``pattern``.
        max_tokens: Judge: the longest verdict; ``temperature``, ``seed`` as sent to the judge.
        nli_model: NLI: a local model folder; ``nli_threshold``, ``batch_size``,
            ``max_length`` as described.

    Raises:
        ConfigError: A verifier without its model, options of another verifier, a bad
            template or regex, an NLI model without an entailment label.
        InputError: Contexts that are not a list of passages (naming the file and line).

    References:
        Es et al. (2024), "RAGAS: Automated Evaluation of Retrieval Augmented Generation",
        EACL demos (faithfulness as supported statements over statements).

    Example:
        >>> from evalkit.types import Sample
        >>> m = Faithfulness()
        >>> s = Sample("q1", prediction="The Eiffel Tower is 330 metres tall. It opened in 1899.",
        ...            outputs={"contexts": ["The Eiffel Tower is 330 metres tall."]})
        >>> stat = m.sample_stats([s])[0]
        >>> stat["claims"], stat["supported"], stat["unsupported"]
        (2, 1, ['It opened in 1899.'])
        >>> m.aggregate([stat])
        {'faithfulness': 0.5, 'claims_per_answer': 2.0}
    """

    name: ClassVar[str] = "faithfulness"
    higher_is_better: ClassVar[bool] = True
    path_params: ClassVar[tuple[str, ...]] = ("template_file", "nli_model")
    model_params: ClassVar[tuple[str, ...]] = ("model",)

    class Params(MetricParams):
        """Faithfulness parameters."""

        verifier: Literal["lexical", "judge", "nli"] = Field(
            "lexical", description="how a claim is checked: lexical, judge or nli"
        )
        contexts_field: str = Field("contexts", description="where the passages are logged")
        threshold: float = Field(
            0.8, gt=0.0, le=1.0, description="lexical: share of content tokens a passage covers"
        )
        model: str | None = Field(None, description="judge: the judge's adapter spec")
        model_options: dict[str, Any] = Field(
            default_factory=dict, description="judge: the judge adapter's options"
        )
        template: str | None = Field(None, description="judge: the prompt ({claim}, {context})")
        template_file: str | None = Field(None, description="judge: a file holding the prompt")
        parser: Literal["json", "regex"] = Field("json", description="judge: json or regex")
        pattern: str | None = Field(None, description="judge: regex with a 'supported' group")
        max_tokens: int = Field(256, ge=1, description="judge: the longest verdict asked for")
        temperature: float = Field(0.0, ge=0.0, le=2.0, description="judge: temperature")
        seed: int | None = Field(0, description="judge: the seed of each request")
        nli_model: str | None = Field(None, description="nli: a local model folder")
        nli_threshold: float = Field(
            0.5, gt=0.0, lt=1.0, description="nli: least P(entailment) that supports"
        )
        batch_size: int = Field(16, ge=1, description="nli: pairs per forward pass")
        max_length: int = Field(512, ge=8, description="nli: longest pair in tokens")

        @model_validator(mode="after")
        def _for_verifier(self) -> Faithfulness.Params:
            if self.verifier == "judge" and self.model is None:
                raise ValueError("verifier: judge needs `model` (the judge's adapter spec)")
            if self.verifier == "nli" and self.nli_model is None:
                raise ValueError("verifier: nli needs `nli_model` (a local model folder)")
            for verifier, names in (("judge", _JUDGE_ONLY), ("nli", _NLI_ONLY)):
                given = [n for n in names if getattr(self, n) is not None]
                if given and self.verifier != verifier:
                    raise ValueError(
                        f"{', '.join(given)} only apply to verifier: {verifier} "
                        f"(verifier is {self.verifier}); drop them or set verifier: {verifier}"
                    )
            return self

    p: Params

    def setup(self) -> None:
        p = self.p
        keep = {"verifier", "contexts_field"}
        if p.verifier == "lexical":
            keep.add("threshold")
        elif p.verifier == "judge":
            keep |= {"model", "temperature", "max_tokens", "seed"}
            self.prompt = JudgePrompt(
                self.name,
                p.template,
                p.template_file,
                default=DEFAULT_TEMPLATE,
                extra=("claim", "context"),
            )
            self.verdicts = VerdictParser(
                {"supported": Scale("pass_fail")},
                parser=p.parser,
                pattern=p.pattern,
                metric=self.name,
            )
        else:
            from evalkit.metrics.rag._nli import NLIModel

            keep |= {"nli_threshold", "max_length"}
            assert p.nli_model is not None  # the validator checked it
            self.nli = NLIModel(
                p.nli_model, self.name, max_length=p.max_length, batch_size=p.batch_size
            )
        self.params = {k: v for k, v in self.params.items() if k in keep}
        if p.verifier == "judge":
            if p.model is not None:
                self.params["model"] = portable_spec(p.model)
            self.params["template_sha256"] = self.prompt.sha256[:16]
            self.params["parser"] = self.verdicts.describe()
        if p.verifier == "nli":
            self.params["nli_sha256"] = self.nli.sha256[:16]

    @classmethod
    def rebuild(cls, params: Mapping[str, Any]) -> Metric:
        """The recorded metric, to aggregate recorded statistics: a judge's or NLI model's
        verdicts are in the statistics already, so neither is loaded (nor its template)."""
        verifier = params.get("verifier", "lexical")
        if verifier == "lexical":
            return cls.build(params)
        metric = cls.build({"contexts_field": params.get("contexts_field", "contexts")})
        metric.p = metric.p.model_copy(update={"verifier": verifier})
        metric.params = dict(params)
        return metric

    def value_names(self) -> tuple[str, ...]:
        extra = ("judge_failure_rate",) if self.p.verifier == "judge" else ()
        return ("faithfulness", "claims_per_answer", *extra)

    def primary_values(self) -> tuple[str, ...]:
        return ("faithfulness",)

    def value_higher_is_better(self, value_name: str) -> bool:
        return value_name == "faithfulness"

    def judge_model(self) -> tuple[str, dict[str, Any]] | None:
        if self.p.verifier != "judge" or self.p.model is None:
            return None
        return self.p.model, dict(self.p.model_options)

    def judge_requests(self, sample: Sample) -> list[GenerateRequest]:
        if self.p.verifier != "judge":
            return []
        context = _context_text(sample_contexts(sample, field=self.p.contexts_field))
        return [
            GenerateRequest(
                prompt=self.prompt.render(sample, claim=claim, context=context),
                sample_id=sample.id,
                max_tokens=self.p.max_tokens,
                temperature=self.p.temperature,
                seed=sample_seed(self.p.seed, 0),
            )
            for claim in checkable_claims(prediction_of(sample))
        ]

    def _verdicts(
        self, sample: Sample, claims: list[str], passages: list[Passage]
    ) -> tuple[list[bool | None], Counter[str]]:
        """Per claim True/False, or None for a failed judgment (with failure counts)."""
        failures: Counter[str] = Counter()
        if self.p.verifier == "lexical":
            texts = [tokens_of(p.text) for p in passages]
            found = [supports(tokens_of(c), texts, self.p.threshold) for c in claims]
            return [f is not None for f in found], failures
        if self.p.verifier == "nli":
            pairs = [(p.text, c) for c in claims for p in passages]
            probs = self.nli.entailment(pairs) if pairs else []
            k = len(passages)
            return [
                any(x >= self.p.nli_threshold for x in probs[i * k : (i + 1) * k])
                for i in range(len(claims))
            ], failures
        out: list[bool | None] = []
        for judgment in judgments_of(sample, len(claims)) if claims else []:
            verdict = self.verdicts.parse(judgment)
            if verdict.values is None:
                failures[failure_kind(verdict.failure or "unparsed")] += 1
                out.append(None)
            else:
                out.append(verdict.values["supported"] == 1.0)
        return out, failures

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """Per sample: claim counts, unsupported claims, judge failures (see the class)."""
        out: list[Stats] = []
        for sample in batch:
            passages = sample_contexts(sample, field=self.p.contexts_field)
            answer = prediction_of(sample)
            claims = checkable_claims(answer)
            verdicts, failures = self._verdicts(sample, claims, passages)
            out.append(
                {
                    "empty": not answer.strip(),
                    "claims": len(claims),
                    "judged": sum(v is not None for v in verdicts),
                    "supported": sum(v is True for v in verdicts),
                    "unsupported": [
                        clip(c) for c, v in zip(claims, verdicts, strict=True) if v is False
                    ],
                    "failures": dict(sorted(failures.items())),
                }
            )
        return out

    def _counts(self, sample: Sample) -> Mapping[str, Any]:
        """What the warnings need, without running a lexical or NLI check again."""
        if self.p.verifier == "judge":
            return dict(self.sample_stats([sample])[0])
        answer = prediction_of(sample)
        n = len(checkable_claims(answer))
        return {"empty": not answer.strip(), "claims": n, "judged": n, "failures": {}}

    def columns(self, stat: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
        judged, claims = stat["judged"], stat["claims"]
        cols = {
            "faithfulness": (stat["supported"] / judged, 1.0) if judged else (0.0, 0.0),
            "claims_per_answer": (0.0, 0.0) if stat["empty"] else (float(claims), 1.0),
        }
        if self.p.verifier == "judge":
            cols["judge_failure_rate"] = (float(claims - judged), float(claims))
        return cols

    def sample_warnings(self, batch: Sequence[Sample]) -> list[str | None]:
        out: list[str | None] = []
        for sample in batch:
            stat = self._counts(sample)
            if stat["empty"]:
                out.append("empty answer: no claims to check (left out of faithfulness)")
            elif not stat["claims"]:
                out.append("the answer has no checkable claim (left out of faithfulness)")
            elif stat["failures"]:
                kinds = ", ".join(f"{k}: {n}" for k, n in stat["failures"].items())
                out.append(
                    f"{stat['claims'] - stat['judged']} of {stat['claims']} claims have no "
                    f"judge verdict ({kinds}); left out of this answer's faithfulness"
                )
            elif not sample_contexts(sample, field=self.p.contexts_field):
                out.append("no passage was retrieved: every claim is unsupported")
            else:
                out.append(None)
        return out
