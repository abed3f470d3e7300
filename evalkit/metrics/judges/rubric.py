"""``judge``: single-answer grading by a judge model against a rubric of criteria.

The judge reads each sample's prompt, prediction and reference and answers with a JSON object
holding one value per criterion (or, with ``parser: regex``, text the pattern's named groups
read). Each verdict is parsed strictly (:mod:`evalkit.metrics.judges.verdicts`): a failed call,
an unparsed answer, a missing or out-of-scale field is a counted judge failure, never a score.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from evalkit.errors import ConfigError, InputError
from evalkit.metrics.judges._base import JudgeMetric, JudgeParams, judgments_of
from evalkit.metrics.judges._resample import weighted_means, weighted_spearman
from evalkit.metrics.judges.criteria import Criterion, criteria_of
from evalkit.metrics.judges.verdicts import Scale, Verdict, VerdictParser
from evalkit.types import Sample, Score, Stats

__all__ = ["Criterion", "RubricJudge", "judge_score", "judged_samples"]

#: The built-in template; ``{criteria}``, ``{keys}`` and ``{example}`` are filled at setup
#: (escaped), the other fields per sample.
DEFAULT_TEMPLATE = """You are grading an answer to a task against a rubric. Be strict and fair; \
do not reward length for its own sake.

[Task]
{{prompt}}

[Reference answer (may be empty)]
{{reference}}

[Answer to grade]
{{prediction}}

[Rubric]
{criteria}

Reply with only a JSON object with exactly these keys: {keys}, like {example}"""

#: Excerpt length of a failed verdict in a sample warning (characters).
EXCERPT = 40


class RubricJudge(JudgeMetric):
    """Single-answer grading by a judge model with a rubric of weighted criteria.

    Each sample is judged ``repeats`` times; every judgment must be a verdict holding one
    value per criterion, on the criterion's scale (``[1, 5]``, ``"0-10"`` or
    ``"pass_fail"``, counted 1/0). A judgment's **total** is the weighted mean
    ``sum(w_c * v_c) / sum(w_c)``; a sample's score is the mean total of its parsed judgments,
    and ``score`` is the mean over samples with at least one parsed judgment. A sample whose
    judgments all failed has no score (never 0): it is counted in ``unscored``, and every
    failed judgment in ``judge_failure_rate`` (failed judgments / judgments) and in the
    sample's warning.

    The readings, beside ``score`` and one value per criterion (its mean over scored
    samples; a single criterion named ``score`` is the headline itself):

    - ``length_corr``: Spearman's rank correlation between a sample's score and the length of
      its output (``length_unit``), over scored samples: the judge's **length bias**. Near 0
      is what an unbiased judge gives on outputs whose quality does not grow with length.
    - With ``repeats > 1`` (**self-consistency**, at the judge's ``temperature``):
      ``repeat_sd``, the mean over samples with two or more parsed judgments of the sample
      standard deviation (ddof 1) of their totals; ``repeat_agreement``, the share of those
      samples whose parsed judgments all give the same total.
    - With ``human_label`` (**agreement with people**): between the judge's value of
      ``human_criterion`` (averaged over the sample's parsed repeats) and the person's label,
      over samples that have both: ``spearman`` and ``kendall`` (tau-b) on the averaged values,
      and Cohen's ``kappa`` (weighted per ``agreement_weights``, over every value of the
      scale so absent categories count) and Krippendorff's ``alpha`` (ordinal on a range
      scale, nominal on pass/fail) on the averaged value rounded half up to the scale
      (2.5 -> 3; a pass rate of 0.5 -> pass).

    Intervals come from resampling samples and aggregating each resample, like every
    value (``unscored``, a count, has none).

    Args:
        model: The judge, an adapter spec (``openai:gpt-4o-mini``, ``python:MOD:FN``...).
        model_options: The judge adapter's options (``base_url``, ``api_key_env``...).
        template: The judge prompt (``{prompt}``, ``{prediction}``, ``{reference}``, dataset
            fields; ``{{ }}`` for braces). Default: a rubric prompt listing the criteria.
        template_file: A file holding the judge prompt, relative to the suite.
        parser: ``json`` (one JSON object, bare or alone in a fenced block) or ``regex``.
        pattern: The verdict regex with ``parser: regex`` (a named group per criterion).
        repeats: Judgments per sample (seeded apart; see the self-consistency readings).
        temperature: The judge's temperature.
        max_tokens: The longest verdict asked for.
        seed: The seed of the first repeat.
        criteria: The rubric: ``[{name, scale, weight, description}]``; names are unique
            identifiers, scales ``[LOW, HIGH]``, ``"LOW-HIGH"`` or ``"pass_fail"``, weights
            positive (default 1). Default: one criterion ``score`` on 1-5.
        human_label: A dataset field holding a person's value of ``human_criterion`` (on its
            scale; every sample must have one).
        human_criterion: The criterion people graded; default the only one; ``total`` for the
            weighted total when every criterion has the same scale.
        agreement_weights: Kappa's weights: ``none``, ``linear`` or ``quadratic`` (default:
            quadratic on a range scale, none on pass_fail).
        length_unit: ``chars`` or ``words``, for ``length_corr``.

    References:
        Zheng et al. (2023), "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena" (single
        answer grading; position, verbosity and self-enhancement biases). Dubois et al.
        (2024), "Length-Controlled AlpacaEval" (length bias). Cohen (1960, 1968) for kappa,
        Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability"; see
        :mod:`evalkit.metrics.judges.agreement`.

    Example:
        >>> from evalkit.types import Sample
        >>> m = RubricJudge(model="python:my_judges:grade", repeats=2,
        ...     criteria=[{"name": "accuracy", "scale": [1, 5], "weight": 2},
        ...               {"name": "clarity", "scale": [1, 5]}])
        >>> def s(i, pred, *texts):
        ...     js = [{"text": t, "error": None, "cached": False} for t in texts]
        ...     return Sample(id=i, prediction=pred, outputs={"judgments": js})
        >>> samples = [
        ...     s("1", "Paris.", '{"accuracy": 5, "clarity": 5}', '{"accuracy": 5, "clarity": 2}'),
        ...     s("2", "It is Lyon, I think", '{"accuracy": 1, "clarity": 4}', "Looks fine to me"),
        ...     s("3", "?", '{"accuracy": 9, "clarity": 1}', '{"accuracy": 1}'),
        ... ]
        >>> v = m.aggregate(m.sample_stats(samples))
        >>> v["score"], v["accuracy"], v["clarity"]  # sample 1: (5 + 4) / 2, sample 2: 2
        (3.25, 3.0, 3.75)
        >>> v["judge_failure_rate"], v["unscored"], v["repeat_agreement"]
        (0.5, 1.0, 0.0)
        >>> print(m.sample_warnings(samples)[2])
        judge: 2 of 2 verdicts failed: out_of_scale:accuracy '{"accuracy": 9, "clarity": 1}'; missing:clarity '{"accuracy": 1}'
    """  # noqa: E501

    name = "judge"
    requires: ClassVar[frozenset[str]] = frozenset({"prediction"})
    default_template = DEFAULT_TEMPLATE

    class Params(JudgeParams):
        criteria: list[dict[str, Any]] = Field(
            default_factory=lambda: [{"name": "score", "scale": [1, 5]}],
            description="the rubric: [{name, scale ([1, 5] | 'pass_fail'), weight (1), "
            "description}]; the verdict holds one key per name",
        )
        human_label: str | None = Field(
            default=None,
            description="a dataset field holding a person's value of human_criterion",
        )
        human_criterion: str | None = Field(
            default=None,
            description="the criterion human_label grades (default: the only one); 'total' "
            "for the weighted total when all criteria share one scale",
        )
        agreement_weights: Literal["none", "linear", "quadratic"] | None = Field(
            default=None,
            description="Cohen's kappa weights (default: quadratic on a range scale, none on "
            "pass_fail)",
        )

    p: Params

    # ---------------------------------------------------------------- setup

    @classmethod
    def buildable(cls, recorded: dict[str, Any]) -> dict[str, Any]:
        out = super().buildable(recorded)
        crit = recorded.get("criteria")
        if isinstance(crit, str):  # "name:scale:weight,..." as setup records it
            out["criteria"] = [
                {"name": n, "scale": sc, "weight": float(w)}
                for n, sc, w in (c.split(":") for c in crit.split(","))
            ]
        return out

    def setup(self) -> None:
        self.criteria = criteria_of(self.name, self.p.criteria)
        self.weights = np.array([c.weight for c in self.criteria])
        super().setup()
        fields = {c.name: c.scale for c in self.criteria}
        self.parser = VerdictParser(
            fields, parser=self.p.parser, pattern=self.p.pattern, metric=self.name
        )
        self.params.pop("pattern", None)
        self.params["parser"] = self.parser.describe()
        self.params["criteria"] = ",".join(
            f"{c.name}:{c.scale.describe()}:{c.weight:g}" for c in self.criteria
        )
        self.human_scale: Scale | None = None
        self.human_index = -1  # the criterion's position; -1 = the total
        if self.p.human_label is None:
            if self.p.human_criterion is not None or self.p.agreement_weights is not None:
                raise ConfigError(
                    f"{self.name}: human_criterion and agreement_weights are read only with "
                    "human_label; name the dataset field holding the people's labels."
                )
            for key in ("human_label", "human_criterion", "agreement_weights"):
                self.params.pop(key, None)
        else:
            self._setup_human()
        names = [c.name for c in self.criteria]
        own = [] if names == ["score"] else names
        extra: list[str] = []
        if self.p.repeats > 1:
            extra += ["repeat_sd", "repeat_agreement"]
        if self.human_scale is not None:
            extra += ["kappa", "alpha", "spearman", "kendall"]
        self._names = ("score", *own, "judge_failure_rate", "unscored", "length_corr", *extra)

    def _setup_human(self) -> None:
        crit = self.p.human_criterion
        names = [c.name for c in self.criteria]
        if crit is None:
            if len(self.criteria) > 1:
                raise ConfigError(
                    f"{self.name}: human_label needs human_criterion with more than one "
                    f"criterion; set it to one of {', '.join(names)} (or 'total')."
                )
            crit = names[0]
        if crit == "total":
            scales = {c.scale for c in self.criteria}
            if len(scales) > 1:
                raise ConfigError(
                    f"{self.name}: human_criterion: 'total' needs all criteria on one scale "
                    f"(they use {', '.join(sorted(s.describe() for s in scales))}); name one "
                    "criterion instead."
                )
            self.human_scale = self.criteria[0].scale
        elif crit in names:
            self.human_index = names.index(crit)
            self.human_scale = self.criteria[self.human_index].scale
        else:
            raise ConfigError(
                f"{self.name}: human_criterion {crit!r} is not a criterion; use one of "
                f"{', '.join(names)} or 'total'."
            )
        weights = self.p.agreement_weights
        if weights is None:
            weights = "quadratic" if self.human_scale.kind == "range" else "none"
        self.kappa_weights = None if weights == "none" else weights
        self.params["human_criterion"] = crit
        self.params["agreement_weights"] = weights

    def default_prompt(self) -> str:
        lines = []
        for c in self.criteria:
            pf = c.scale.kind == "pass_fail"
            scale = "pass or fail" if pf else f"an integer {c.scale.describe()}"
            desc = f": {c.description}" if c.description else ""
            weight = f", weight {c.weight:g}" if len(self.criteria) > 1 else ""
            lines.append(f"- {c.name} ({scale}{weight}){desc}")
        example = ", ".join(
            f'"{c.name}": '
            + ('"pass" or "fail"' if c.scale.kind == "pass_fail" else f"<{c.scale.describe()}>")
            for c in self.criteria
        )
        return DEFAULT_TEMPLATE.format(
            criteria=_escape("\n".join(lines)),
            keys=", ".join(f'"{c.name}"' for c in self.criteria),
            example=_escape("{" + example + "}"),
        )

    # ---------------------------------------------------------------- values

    def value_names(self) -> tuple[str, ...]:
        return self._names

    def primary_values(self) -> tuple[str, ...]:
        return ("score", *(c.name for c in self.criteria if c.name != "score"))

    def value_higher_is_better(self, value_name: str) -> bool:
        return value_name not in ("judge_failure_rate", "unscored", "repeat_sd")

    def value_target(self, value_name: str) -> float | None:
        # No length bias: a rank correlation of 0 between score and output length.
        return 0.0 if value_name == "length_corr" else None

    def interval_values(self) -> tuple[str, ...]:
        return tuple(n for n in self._names if n != "unscored")

    # ---------------------------------------------------------------- statistics

    def _verdicts(self, sample: Sample) -> list[Verdict]:
        # One prompt per sample, asked `repeats` times (see JudgeMetric.judge_requests).
        found = judgments_of(sample, self.p.repeats)
        return [self.parser.parse(j) for j in found]

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """Per sample: ``{"j": [[value per criterion] | "failure", ...], "len", "human"}``."""
        out: list[Stats] = []
        names = [c.name for c in self.criteria]
        for sample in batch:
            reps: list[Any] = []
            for v in self._verdicts(sample):
                if v.values is None:
                    reps.append(v.failure)
                else:
                    reps.append([v.values[n] for n in names])
            text = sample.prediction or ""
            length = len(text.split()) if self.p.length_unit == "words" else len(text)
            out.append({"j": reps, "len": length, "human": self._human(sample)})
        return out

    def _human(self, sample: Sample) -> float | None:
        field = self.p.human_label
        if field is None or self.human_scale is None:
            return None
        where = sample.where or f"sample {sample.id!r}"
        if field not in sample.inputs:
            raise InputError(
                f"{where}: field {field!r} is missing; the {self.name} metric reads the people's "
                f"labels from it (human_label: {field}); label every sample or drop human_label."
            )
        raw = sample.inputs[field]
        value = self.human_scale.value(raw)
        if value is None:
            raise InputError(
                f"{where}: field {field!r} is {raw!r}, not a value of the scale "
                f"{self.human_scale.describe()} of {self.params['human_criterion']}; fix the "
                "label or the scale."
            )
        return value

    def sample_warnings(self, batch: Sequence[Sample]) -> list[str | None]:
        out: list[str | None] = []
        for sample in batch:
            found = judgments_of(sample, self.p.repeats)
            failed = []
            for j in found:
                v = self.parser.parse(j)
                if v.failure is not None:
                    what = j.get("error") if v.failure == "call" else j.get("text")
                    failed.append(f"{v.failure} {_excerpt(what)}")
            out.append(
                None
                if not failed
                else f"{self.name}: {len(failed)} of {len(found)} verdicts failed: "
                + "; ".join(failed)
            )
        return out

    # ---------------------------------------------------------------- aggregate

    def _table(self, stats: Sequence[Stats]) -> _Table:
        """The statistics as arrays (one row per sample), built in one pass of plain Python."""
        k = len(self.criteria)
        nan = math.nan
        w = self.weights.tolist()
        wsum = float(self.weights.sum())
        crit: list[Sequence[float]] = []
        total: list[float] = []
        sd: list[float] = []
        same: list[float] = []
        length: list[float] = []
        human: list[float] = []
        judged: list[int] = []
        failed: list[int] = []
        empty = [nan] * k
        for s in stats:
            reps = s["j"]
            ok = [r for r in reps if type(r) is list]
            judged.append(len(reps))
            failed.append(len(reps) - len(ok))
            length.append(s["len"])
            h = s["human"]
            human.append(nan if h is None else h)
            if not ok:
                crit.append(empty)
                total.append(nan)
                sd.append(nan)
                same.append(nan)
                continue
            if k == 1:
                totals = [r[0] for r in ok]
                crit.append([sum(totals) / len(ok)])
            else:
                totals = [sum(a * b for a, b in zip(w, r, strict=True)) / wsum for r in ok]
                crit.append([sum(col) / len(ok) for col in zip(*ok, strict=True)])
            m = sum(totals) / len(totals)
            total.append(m)
            if len(ok) > 1:
                sd.append(math.sqrt(sum((t - m) ** 2 for t in totals) / (len(ok) - 1)))
                same.append(float(max(totals) - min(totals) <= 1e-9))
            else:
                sd.append(nan)
                same.append(nan)
        return _Table(
            np.array(crit, dtype=np.float64).reshape(len(stats), k),
            np.array(total, dtype=np.float64),
            np.array(sd, dtype=np.float64),
            np.array(same, dtype=np.float64),
            np.array(length, dtype=np.float64),
            np.array(human, dtype=np.float64),
            np.array(judged, dtype=np.int64),
            np.array(failed, dtype=np.int64),
        )

    def resample_block(
        self, stats: Sequence[Stats]
    ) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
        """Bootstrap values from the ``(B, n)`` resample counts, without building resamples.

        The means are count-weighted means and ``length_corr`` is
        :func:`~evalkit.metrics.judges._resample.weighted_spearman`, equal to :meth:`_values`
        of each resample's rows to rounding. With people's labels (``human_label``) the
        agreement values (kappa, alpha...) are computed resample by resample, as before.
        """
        if self.human_scale is not None:
            return super().resample_block(stats)
        t = self._table(stats)
        scored = ~np.isnan(t.total)
        has_sd, has_same = ~np.isnan(t.sd), ~np.isnan(t.same)
        criteria = [(i, c.name) for i, c in enumerate(self.criteria) if c.name != "score"]
        judged, failed = t.judged.astype(np.float64), t.failed.astype(np.float64)
        total, length = np.where(scored, t.total, 0.0), np.where(scored, t.length, 0.0)

        def block(counts: np.ndarray) -> dict[str, np.ndarray]:
            out = {"score": weighted_means(counts, t.total, scored)}
            for i, name in criteria:
                out[name] = weighted_means(counts, t.crit[:, i], scored)
            asked = counts @ judged
            with np.errstate(invalid="ignore", divide="ignore"):
                out["judge_failure_rate"] = np.where(asked > 0, counts @ failed / asked, np.nan)
            out["unscored"] = counts @ (~scored).astype(np.float64)
            out["length_corr"] = weighted_spearman(counts * scored, total, length)
            if self.p.repeats > 1:
                out["repeat_sd"] = weighted_means(counts, t.sd, has_sd)
                out["repeat_agreement"] = weighted_means(counts, t.same, has_same)
            return out

        return block

    def _values(self, t: _Table) -> dict[str, float]:
        scored = ~np.isnan(t.total)
        n_scored = int(scored.sum())
        out: dict[str, float] = {"score": _mean(t.total[scored])}
        for i, c in enumerate(self.criteria):
            if c.name != "score":
                out[c.name] = _mean(t.crit[scored, i])
        judged = int(t.judged.sum())
        out["judge_failure_rate"] = int(t.failed.sum()) / judged if judged else math.nan
        out["unscored"] = float(len(t.total) - n_scored) if len(t.total) else math.nan
        out["length_corr"] = _spearman(t.total[scored], t.length[scored])
        if self.p.repeats > 1:
            out["repeat_sd"] = _mean(t.sd[~np.isnan(t.sd)])
            out["repeat_agreement"] = _mean(t.same[~np.isnan(t.same)])
        if self.human_scale is not None:
            out.update(self._agreement(t))
        return out

    def _agreement(self, t: _Table) -> dict[str, float]:
        from evalkit.metrics.judges import agreement

        assert self.human_scale is not None
        judge = t.total if self.human_index < 0 else t.crit[:, self.human_index]
        both = ~np.isnan(judge) & ~np.isnan(t.human)
        x, y = judge[both], t.human[both]
        nan = math.nan
        if len(x) == 0:
            return {"kappa": nan, "alpha": nan, "spearman": nan, "kendall": nan}
        # Kappa and alpha need categories: the repeat mean rounded half up to the scale.
        rounded = np.floor(x + 0.5)
        labels = list(self.human_scale.values())
        level: Literal["ordinal", "nominal"] = (
            "ordinal" if self.human_scale.kind == "range" else "nominal"
        )
        return {
            "kappa": float(
                agreement.cohen_kappa(rounded, y, labels=labels, weights=self.kappa_weights)
            ),
            "alpha": float(
                agreement.krippendorff_alpha(np.stack([rounded, y]), level=level, values=labels)
            ),
            "spearman": float(agreement.spearman(x, y)),
            "kendall": float(agreement.kendall_tau_b(x, y)),
        }


@dataclass
class _Table:
    crit: np.ndarray  # (n, criteria): mean value over the parsed repeats (NaN: none)
    total: np.ndarray  # (n,): mean total over the parsed repeats (NaN: unscored)
    sd: np.ndarray  # (n,): SD of the totals (NaN: fewer than two parsed)
    same: np.ndarray  # (n,): 1 if the parsed totals agree (NaN: fewer than two parsed)
    length: np.ndarray  # (n,)
    human: np.ndarray  # (n,) (NaN: no label)
    judged: np.ndarray  # (n,): judgments asked
    failed: np.ndarray  # (n,): judgments failed

    def take(self, idx: np.ndarray) -> _Table:
        return _Table(*(getattr(self, f)[idx] for f in _TABLE_FIELDS))


_TABLE_FIELDS = ("crit", "total", "sd", "same", "length", "human", "judged", "failed")


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else math.nan


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from evalkit.metrics.judges.agreement import spearman

    return float(spearman(x, y)) if len(x) >= 2 else math.nan


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _excerpt(text: object) -> str:
    if not isinstance(text, str):
        return "(no text)"
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= EXCERPT else flat[: EXCERPT - 3] + "...")


def judged_samples(
    predictions: Sequence[str],
    judgments: Sequence[Sequence[str | None]],
    human: Sequence[Any] | None = None,
) -> list[Sample]:
    """Samples for the functional twin: each prediction with its judge answers (None: failed).

    Raises:
        InputError: The sequences differ in length.
    """
    if len(judgments) != len(predictions) or (human is not None and len(human) != len(predictions)):
        raise InputError(
            f"judge: predictions, judgments and human labels differ in length "
            f"({len(predictions)}, {len(judgments)}, {'-' if human is None else len(human)})."
        )
    out = []
    for i, (pred, answers) in enumerate(zip(predictions, judgments, strict=True)):
        js = [
            {
                "text": a,
                "error": None if a is not None else "the judge call failed",
                "cached": False,
            }
            for a in answers
        ]
        inputs = {} if human is None else {"human": human[i]}
        out.append(Sample(id=str(i), inputs=inputs, prediction=pred, outputs={"judgments": js}))
    return out


def judge_score(
    predictions: Sequence[str],
    judgments: Sequence[Sequence[str | None]],
    *,
    human: Sequence[Any] | None = None,
    **params: Any,
) -> Score:
    """The functional twin ``evalkit.metrics.judges``: rubric grading of given judge answers.

    ``judgments[i]`` holds the judge's ``repeats`` answers about ``predictions[i]`` (None: a
    failed call); ``human[i]``, with ``human_label="human"``, a person's label.

    Example:
        >>> judge_score(["Paris", "Lyon"], [['{"score": 5}'], ["no idea"]]).details["score"]
        5.0
    """
    return RubricJudge(**params).score(judged_samples(predictions, judgments, human))
