"""``faithfulness``: the share of an answer's claims that its retrieved passages support."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from evalkit.metrics.base import Metric, portable_spec
from evalkit.metrics.judges._base import judgments_of
from evalkit.metrics.judges.prompts import JudgePrompt
from evalkit.metrics.judges.verdicts import (
    MAX_VERDICT_CHARS,
    Scale,
    VerdictParser,
    failure_kind,
    json_object,
)
from evalkit.metrics.params import MetricParams
from evalkit.metrics.rag._claims import split_claims
from evalkit.metrics.rag._contexts import Passage, sample_contexts
from evalkit.metrics.rag._lexical import supports, tokens_of
from evalkit.metrics.rag._ratios import RatioMetric, clip, prediction_of
from evalkit.types import JUDGMENTS, GenerateRequest, Sample, Stats, sample_seed

__all__ = [
    "CLAIMS_TEMPLATE",
    "DEFAULT_TEMPLATE",
    "Faithfulness",
    "checkable_claims",
    "claims_of_judgment",
]

#: The judge prompt asked once per claim ({context}: the passages, numbered by rank).
DEFAULT_TEMPLATE = (
    "You check whether a claim is supported by retrieved passages.\n\n"
    "Passages:\n{context}\n\nClaim: {claim}\n\n"
    "Is every part of the claim stated or directly implied by the passages? Answer with only "
    'a JSON object: {{"supported": true}} or {{"supported": false}}.'
)

#: The judge prompt that splits an answer into claims (``claims: judge``), asked once per answer.
CLAIMS_TEMPLATE = (
    "Split the answer below into its claims: short statements of fact, each understandable "
    "on its own (write out what a pronoun refers to). Leave out greetings, hedges and "
    "questions, and add nothing the answer does not say.\n\n"
    "[Answer]\n{prediction}\n[End]\n\n"
    'Reply with only a JSON object: {{"claims": ["first claim", "second claim"]}}.'
)

_JUDGE_ONLY = ("template", "template_file", "pattern")
_NLI_ONLY = ("nli_model",)


def claims_of_judgment(judgment: Mapping[str, Any]) -> tuple[list[str] | None, str | None]:
    """The claims a splitting judge listed, or None and the failure (see the verdict kinds).

    The answer must be one JSON object whose ``claims`` is a list of strings (an empty list:
    the answer claims nothing). Claims without a content word are dropped, as
    :func:`checkable_claims` drops such sentences.

    Example:
        >>> claims_of_judgment({"text": '{"claims": ["Paris is in France.", "Yes."]}'})
        (['Paris is in France.'], None)
        >>> claims_of_judgment({"text": '{"claims": "Paris"}'}), claims_of_judgment({"text": "?"})
        ((None, 'out_of_scale:claims'), (None, 'unparsed'))
    """
    if judgment.get("error"):
        return None, "call"
    text = judgment.get("text")
    obj = json_object(text) if isinstance(text, str) and len(text) <= MAX_VERDICT_CHARS else None
    if obj is None:
        return None, "unparsed"
    found = obj.get("claims")
    if found is None:
        return None, "missing:claims"
    if not isinstance(found, list) or not all(isinstance(c, str) for c in found):
        return None, "out_of_scale:claims"
    return [c.strip() for c in found if tokens_of(c).content], None


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

    Claims (``claims``): ``sentences`` (default) splits by the rules above; ``judge`` asks the
    judge ``model`` once per answer with ``claims_template`` (field ``{prediction}`` and the
    dataset's) for ``{"claims": [...]}``, ragas' statement generation. An unparsed list is a
    counted judge failure and leaves the answer out of faithfulness; an empty list means the
    answer claims nothing. With ``verifier: judge`` too, the claims the judge listed are then
    checked one by one in a second round of judge requests.

    Each sample's statistic lists its unsupported claims (each cut to 300 characters), so the
    report shows them.

    Args:
        verifier: ``lexical`` (default), ``judge`` or ``nli``.
        contexts_field: Where the passages are logged (``outputs``, else a dataset field).
        threshold: Lexical: the share of a claim's content tokens one passage must hold.
        claims: ``sentences`` (default) or ``judge`` (a judge prompt lists the claims).
        claims_template: Claims by judge: the splitting prompt (default
            :data:`CLAIMS_TEMPLATE`); ``claims_max_tokens`` the longest list asked for.
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
        claims: Literal["sentences", "judge"] = Field(
            "sentences", description="how an answer is split into claims: sentences or judge"
        )
        claims_template: str | None = Field(
            None, description="claims: judge: the splitting prompt ({prediction}, dataset fields)"
        )
        claims_max_tokens: int = Field(
            1024, ge=1, description="claims: judge: the longest claim list asked for"
        )
        model: str | None = Field(
            None, description="the judge's adapter spec (verifier: judge or claims: judge)"
        )
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
            judged = self.verifier == "judge" or self.claims == "judge"
            if judged and self.model is None:
                what = "verifier: judge" if self.verifier == "judge" else "claims: judge"
                raise ValueError(f"{what} needs `model` (the judge's adapter spec)")
            if self.model is not None and not judged:
                raise ValueError(
                    "model only applies to verifier: judge or claims: judge; drop it or set one"
                )
            if self.claims_template is not None and self.claims != "judge":
                raise ValueError("claims_template only applies to claims: judge")
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
        if p.claims == "judge":
            keep |= {"claims", "model", "temperature", "claims_max_tokens", "seed"}
            self.claims_prompt = JudgePrompt(
                self.name, p.claims_template, None, default=CLAIMS_TEMPLATE
            )
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
        if p.model is not None:
            self.params["model"] = portable_spec(p.model)
        if p.claims == "judge":
            self.params["claims_template_sha256"] = self.claims_prompt.sha256[:16]
        if p.verifier == "judge":
            self.params["template_sha256"] = self.prompt.sha256[:16]
            self.params["parser"] = self.verdicts.describe()
        if p.verifier == "nli":
            self.params["nli_sha256"] = self.nli.sha256[:16]

    @classmethod
    def rebuild(cls, params: Mapping[str, Any]) -> Metric:
        """The recorded metric, to aggregate recorded statistics: a judge's or NLI model's
        verdicts are in the statistics already, so neither is loaded (nor its template)."""
        verifier = params.get("verifier", "lexical")
        claims = params.get("claims", "sentences")
        if verifier == "lexical" and claims == "sentences":
            return cls.build(params)
        metric = cls.build({"contexts_field": params.get("contexts_field", "contexts")})
        metric.p = metric.p.model_copy(update={"verifier": verifier, "claims": claims})
        metric.params = dict(params)
        return metric

    @property
    def _judged(self) -> bool:
        return self.p.verifier == "judge" or self.p.claims == "judge"

    def value_names(self) -> tuple[str, ...]:
        extra = ("judge_failure_rate",) if self._judged else ()
        return ("faithfulness", "claims_per_answer", *extra)

    def primary_values(self) -> tuple[str, ...]:
        return ("faithfulness",)

    def value_higher_is_better(self, value_name: str) -> bool:
        return value_name == "faithfulness"

    def judge_model(self) -> tuple[str, dict[str, Any]] | None:
        if not self._judged or self.p.model is None:
            return None
        return self.p.model, dict(self.p.model_options)

    def judge_rounds(self) -> int:
        # The judge lists the claims, then (verifier: judge) checks each one.
        return 2 if self.p.claims == "judge" and self.p.verifier == "judge" else 1

    def judge_requests(self, sample: Sample) -> list[GenerateRequest]:
        p = self.p
        if p.claims == "judge":
            done = sample.outputs.get(JUDGMENTS) or []
            if not done:  # round 1: the claim list (nothing to split in an empty answer)
                if not prediction_of(sample).strip():
                    return []
                return [
                    GenerateRequest(
                        prompt=self.claims_prompt.render(sample),
                        sample_id=sample.id,
                        max_tokens=p.claims_max_tokens,
                        temperature=p.temperature,
                        seed=sample_seed(p.seed, 0),
                    )
                ]
            if p.verifier != "judge":
                return []
            claims = claims_of_judgment(done[0])[0] or []
        elif p.verifier == "judge":
            claims = checkable_claims(prediction_of(sample))
        else:
            return []
        return self._verify_requests(sample, claims)

    def _verify_requests(self, sample: Sample, claims: list[str]) -> list[GenerateRequest]:
        context = _context_text(sample_contexts(sample, field=self.p.contexts_field))
        return [
            GenerateRequest(
                prompt=self.prompt.render(sample, claim=claim, context=context),
                sample_id=sample.id,
                max_tokens=self.p.max_tokens,
                temperature=self.p.temperature,
                seed=sample_seed(self.p.seed, 0),
            )
            for claim in claims
        ]

    def _claims(self, sample: Sample, answer: str) -> tuple[list[str], str | None, int]:
        """The answer's claims, the splitting judge's failure, and the judgments it used."""
        if self.p.claims == "sentences":
            return checkable_claims(answer), None, 0
        if not answer.strip():
            return [], None, 0
        found = sample.outputs.get(JUDGMENTS)
        if not isinstance(found, Sequence) or not found:
            judgments_of(sample, 1)  # raises: the runner hands a judge metric its judgments
            raise AssertionError("unreachable")
        claims, failure = claims_of_judgment(found[0])
        return claims or [], failure, 1

    def _verdicts(
        self, sample: Sample, claims: list[str], passages: list[Passage], skip: int = 0
    ) -> tuple[list[bool | None], Counter[str]]:
        """Per claim True/False, or None for a failed judgment (with failure counts); the
        verifier's judgments follow the first ``skip`` (the claim list's)."""
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
        answers = judgments_of(sample, skip + len(claims)) if claims else []
        for judgment in answers[skip:]:
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
            claims, split_failure, skip = self._claims(sample, answer)
            verdicts, failures = self._verdicts(sample, claims, passages, skip)
            if split_failure is not None:
                failures[failure_kind(split_failure)] += 1
            stat: dict[str, Any] = {
                "empty": not answer.strip(),
                "claims": len(claims),
                "judged": sum(v is not None for v in verdicts),
                "supported": sum(v is True for v in verdicts),
                "unsupported": [
                    clip(c) for c, v in zip(claims, verdicts, strict=True) if v is False
                ],
                "failures": dict(sorted(failures.items())),
            }
            if self.p.claims == "judge":
                stat["split_failure"] = split_failure
            out.append(stat)
        return out

    def _counts(self, sample: Sample) -> Mapping[str, Any]:
        """What the warnings need, without running a lexical or NLI check again."""
        if self._judged:
            return dict(self.sample_stats([sample])[0])
        answer = prediction_of(sample)
        n = len(checkable_claims(answer))
        return {"empty": not answer.strip(), "claims": n, "judged": n, "failures": {}}

    def columns(self, stat: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
        judged, claims = stat["judged"], stat["claims"]
        split = stat.get("split_failure")  # claims: judge, the claim list unparsed
        cols = {
            "faithfulness": (stat["supported"] / judged, 1.0) if judged else (0.0, 0.0),
            "claims_per_answer": (0.0, 0.0) if stat["empty"] or split else (float(claims), 1.0),
        }
        if self._judged:
            # Judgments asked: the claim list (claims: judge) and one per claim checked by
            # the judge (verifier: judge; a lexical or NLI check is not a judgment).
            listed = int(self.p.claims == "judge" and not stat["empty"])
            checks = claims if self.p.verifier == "judge" else 0
            failed = (checks - judged if self.p.verifier == "judge" else 0) + int(bool(split))
            cols["judge_failure_rate"] = (float(failed), float(listed + checks))
        return cols

    def sample_warnings(self, batch: Sequence[Sample]) -> list[str | None]:
        out: list[str | None] = []
        for sample in batch:
            stat = self._counts(sample)
            if stat["empty"]:
                out.append("empty answer: no claims to check (left out of faithfulness)")
            elif stat.get("split_failure"):
                out.append(
                    f"the judge's claim list failed ({stat['split_failure']}); left out of "
                    "faithfulness"
                )
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
