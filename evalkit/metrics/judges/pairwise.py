"""``judge_pairwise``: pairwise preference by a judge model, asked in both orders.

For each sample the judge sees the run's output and an opponent system's output for the same
prompt, as answers A and B, and names the better one (``A``, ``B`` or ``tie``). Judges favour
a position (Zheng et al. 2023 measured it in GPT-4 and Claude), so by default every pair is
asked twice, once with each output first; the two verdicts are averaged, and how often they
disagree is reported. Opponents are predictions files or run folders (``against``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from evalkit.errors import ConfigError, InputError
from evalkit.metrics.judges._base import JudgeMetric, JudgeParams, judgments_of
from evalkit.metrics.judges._resample import weighted_means, weighted_spearman
from evalkit.metrics.judges.opponents import Opponent, load_opponent, opponent_from_texts
from evalkit.metrics.judges.verdicts import Scale, VerdictParser
from evalkit.types import Sample, Score, Stats

__all__ = ["PairwiseJudge", "pairwise_score"]

#: The verdict's one field: which answer is better.
WINNER = Scale("labels", labels=("A", "B", "tie"))
#: A verdict's value (its label's index) -> the preference for the answer shown first.
_FOR_A = (1.0, 0.0, 0.5)

DEFAULT_TEMPLATE = """You are comparing two answers to the same task. Decide which answer is \
better: more correct first, then more helpful and clearer. Do not let the answers' order or \
their length sway you.

[Task]
{prompt}

[Reference answer (may be empty)]
{reference}

[Answer A]
{output_a}

[Answer B]
{output_b}

[End]

Reply with only a JSON object: {{"winner": "A"}}, {{"winner": "B"}} or {{"winner": "tie"}}."""

_NAME = re.compile(r"\A[A-Za-z0-9_.-]{1,64}\Z")


class PairwiseJudge(JudgeMetric):
    """Pairwise preference of the run's outputs over other systems', by a judge model.

    Each sample's output is paired with each opponent's output for the same sample id (and,
    with ``all_pairs``, the opponents with one another). Each pair is asked in both orders
    (``orders: both``; ``ab`` asks only with the pair's first system as A), ``repeats`` times
    each. A verdict is a JSON object ``{"winner": "A" | "B" | "tie"}`` (or, with
    ``parser: regex``, a match of ``pattern`` with a group ``winner``); anything else is a
    counted judge failure, never a verdict. A verdict's **preference** for a pair's first
    system is 1 (it won), 1/2 (tie) or 0 (it lost), whichever position it was shown in; a
    sample's preference is the mean over its parsed verdicts, the **order-averaged verdict**.

    The readings, per opponent ``X`` (with one opponent, without the ``[X]``):

    - ``win_rate[X]``: the mean preference of the run's outputs over X's, over samples with
      a parsed verdict (a tie counts 1/2, as AlpacaEval counts it); 0.5 is parity.
    - ``tie_rate[X]``: the share of those samples whose order-averaged verdict is 1/2.
    - ``sign_p[X]``: the exact two-sided sign test of samples won (preference above 1/2)
      against samples lost (below), ties left out
      (:func:`~evalkit.metrics.judges.ranking.sign_test`); a p-value, without an interval.

    And over all pairs:

    - ``flip_rate``: **position bias**: among repeats asked in both orders with both verdicts
      parsed, the share whose two verdicts disagree once mapped back to the same system.
    - ``first_position_rate``: among parsed verdicts that name a winner, the share naming the
      answer shown first (0.5 is unbiased; reported with its distance from 0.5).
    - ``length_corr``: **length bias**: Spearman's correlation of a sample's preference with
      the length difference (first system minus second, ``length_unit``), 0 for no bias.
    - ``judge_failure_rate``: failed judgments over judgments asked.
    - ``opponent_failure_rate``: pairs (sample, pair) not judged because a side has no output
      (its call failed): they are left out of every reading, never scored as a loss.
    - ``bt[S]`` for each system ``S`` (with two or more opponents): Bradley-Terry strengths
      on the Elo scale (:func:`~evalkit.metrics.judges.ranking.bt_scores`), fitted to every
      judged pair with the order-averaged verdict as a fractional win (prior 1.0).

    Args:
        model: The judge, an adapter spec (``openai:gpt-4o-mini``, ``python:MOD:FN``...).
        model_options: The judge adapter's options (``base_url``, ``api_key_env``...).
        template: The judge prompt; ``{output_a}`` and ``{output_b}`` hold the two answers,
            besides ``{prompt}``, ``{reference}``, ``{references}`` and dataset fields.
        template_file: A file holding the judge prompt, relative to the suite.
        parser: ``json`` or ``regex``.
        pattern: The verdict regex with ``parser: regex`` (a named group ``winner``).
        repeats: Judgments per pair and order.
        temperature: The judge's temperature.
        max_tokens: The longest verdict asked for.
        seed: The seed of the first repeat.
        against: Opponent name -> predictions file or evalkit run folder (relative to the
            suite), or an inline mapping of sample id -> output text (None: a failed call).
        against_task: The opponents' task name (default: the task's own name).
        system: The run's own name in the readings (``bt[model]``).
        all_pairs: Also judge the opponents against one another (for the ranking).
        orders: ``both`` (default) or ``ab``.
        length_unit: ``chars`` or ``words``, for ``length_corr``.

    References:
        Zheng et al. (2023), "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena"
        (position bias; verdicts asked in both orders). Li et al. (2023), AlpacaEval (win
        rate against a reference system's outputs, ties counted 1/2). Bradley & Terry (1952);
        Hunter (2004) for the fit, see :mod:`evalkit.metrics.judges.ranking`.

    Example:
        >>> m = PairwiseJudge(model="python:judges:prefer", against={"base": {"1": "Lyon",
        ...     "2": "Rome", "3": "Oslo"}})
        >>> def s(i, pred, ab, ba):
        ...     js = [{"text": f'{{"winner": "{w}"}}', "error": None} for w in (ab, ba)]
        ...     return Sample(id=i, prediction=pred, outputs={"judgments": js})
        >>> samples = [s("1", "Paris", "A", "B"), s("2", "Rome", "A", "A"), s("3", "Oslo", "tie", "tie")]
        >>> v = m.aggregate(m.sample_stats(samples))
        >>> v["win_rate"], v["tie_rate"], v["flip_rate"]  # sample 2 flipped: (1 + 0) / 2
        (0.6666666666666666, 0.6666666666666666, 0.3333333333333333)
        >>> v["first_position_rate"], v["sign_p"]
        (0.75, 1.0)
    """  # noqa: E501

    name = "judge_pairwise"
    requires: ClassVar[frozenset[str]] = frozenset({"prediction"})
    default_template = DEFAULT_TEMPLATE
    prompt_fields: ClassVar[tuple[str, ...]] = ("output_a", "output_b")
    path_params: ClassVar[tuple[str, ...]] = ("template_file", "against")
    #: Parameters the suite loader sets to the task's name when they are not given.
    task_params: ClassVar[tuple[str, ...]] = ("against_task",)

    class Params(JudgeParams):
        against: dict[str, str | dict[str, Any]] = Field(
            default_factory=dict,
            description="opponent name -> predictions file or run folder (relative to the "
            "suite), or an inline mapping of sample id -> output",
        )
        against_task: str | None = Field(
            default=None, description="the opponents' task (default: this task's name)"
        )
        system: str = Field(default="model", description="the run's own name in the readings")
        all_pairs: bool = Field(
            default=False, description="also judge the opponents against one another"
        )
        orders: Literal["both", "ab"] = Field(
            default="both", description="ask each pair in both orders, or only as given"
        )

    p: Params

    # ---------------------------------------------------------------- setup

    @classmethod
    def buildable(cls, recorded: dict[str, Any]) -> dict[str, Any]:
        out = super().buildable(recorded)
        against = recorded.get("against")
        if isinstance(against, str):  # "name:sha256,..." as setup records it: names suffice
            out["against"] = {item.split(":", 1)[0]: {} for item in against.split(",")}
        return out

    def setup(self) -> None:
        p = self.p
        for key, name in (("system", p.system), *(("against", n) for n in p.against)):
            if not _NAME.match(name):
                raise ConfigError(
                    f"{self.name}: {key}: the system name {name!r} must be 1-64 letters, "
                    "digits, '_', '.' or '-'."
                )
        if p.system in p.against:
            raise ConfigError(
                f"{self.name}: system: the run's own name {p.system!r} is also an opponent "
                "in `against`; rename one of them."
            )
        super().setup()
        self.parser = VerdictParser(
            {"winner": WINNER}, parser=p.parser, pattern=p.pattern, metric=self.name
        )
        self.params.pop("pattern", None)
        self.params["parser"] = self.parser.describe()
        self.opponents: dict[str, Opponent] = {}
        for name, src in sorted(p.against.items()):
            if isinstance(src, str):
                self.opponents[name] = load_opponent(name, src, p.against_task)
            else:
                self.opponents[name] = opponent_from_texts(name, src)
        # The signature holds what the opponents said (a hash), not where it was read.
        self.params["against"] = ",".join(f"{n}:{o.sha256[:16]}" for n, o in self.opponents.items())
        for key, default in (("all_pairs", False), ("orders", "both"), ("length_unit", "chars")):
            if self.params.get(key) == default:
                self.params.pop(key, None)
        names = list(self.opponents)
        self.systems = [p.system, *names]
        pairs = [(p.system, n) for n in names]
        if p.all_pairs:
            pairs += list(combinations(names, 2))
        self.pairs = pairs
        self.order_count = 2 if p.orders == "both" else 1
        self.ranked = len(self.systems) > 2
        # One opponent (or none yet: the loader refuses a suite without one): plain names.
        keys: list[str | None] = [*names] or [None]
        self.own = {
            n: ("win_rate", "tie_rate", "sign_p")
            if len(keys) == 1
            else (f"win_rate[{n}]", f"tie_rate[{n}]", f"sign_p[{n}]")
            for n in keys
        }
        shared = ["flip_rate"] if self.order_count == 2 else []
        shared += ["first_position_rate", "length_corr", "judge_failure_rate"]
        shared.append("opponent_failure_rate")
        bt = [f"bt[{s}]" for s in self.systems] if self.ranked else []
        self._names = (
            *(own[0] for own in self.own.values()),
            *(v for own in self.own.values() for v in own[1:]),
            *shared,
            *bt,
        )

    def judge_model(self) -> tuple[str, dict[str, Any]] | None:
        if not self.opponents:
            raise ConfigError(
                f"{self.name}: `against` names no system; map a name to a predictions file "
                "or run folder, e.g. against: {baseline: baseline.jsonl}."
            )
        return super().judge_model()

    def check_samples(self, samples: Sequence[Sample]) -> None:
        """Every sample must have a row in every opponent's outputs (before any model call)."""
        for sample in samples:
            where = sample.where or f"sample {sample.id!r}"
            for o in self.opponents.values():
                o.require(sample.id, where)

    # ---------------------------------------------------------------- requests

    def _text(self, sample: Sample, system: str) -> str | None:
        if system == self.p.system:
            return sample.prediction
        o = self.opponents[system]
        o.require(sample.id, sample.where or f"sample {sample.id!r}")
        return o.texts[sample.id]

    def _judged_pairs(self, sample: Sample) -> list[tuple[int, str, str]]:
        """(pair index, first output, second output) of the pairs with both outputs."""
        out = []
        for i, (a, b) in enumerate(self.pairs):
            ta, tb = self._text(sample, a), self._text(sample, b)
            if ta is not None and tb is not None:
                out.append((i, ta, tb))
        return out

    def judge_prompts(self, sample: Sample) -> list[str]:
        """Per judged pair: the prompt with the first system as A, then (both orders) as B."""
        out = []
        for _, ta, tb in self._judged_pairs(sample):
            out.append(self.prompt.render(sample, output_a=ta, output_b=tb))
            if self.order_count == 2:
                out.append(self.prompt.render(sample, output_a=tb, output_b=ta))
        return out

    # ---------------------------------------------------------------- statistics

    def _length(self, text: str) -> int:
        return len(text.split()) if self.p.length_unit == "words" else len(text)

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        """Per sample, per pair: ``[[verdicts as first], [verdicts as second]]`` and the length
        difference, or None for a pair not judged (a side without output).

        A verdict is the preference for the pair's first system (1, 0.5, 0) or a failure kind.
        """
        out: list[Stats] = []
        reps = self.p.repeats
        per_pair = reps * self.order_count
        for sample in batch:
            judged = self._judged_pairs(sample)
            answers = judgments_of(sample, len(judged) * per_pair)
            pairs: list[Any] = [None] * len(self.pairs)
            diffs: list[int | None] = [None] * len(self.pairs)
            for j, (i, ta, tb) in enumerate(judged):
                mine = answers[j * per_pair : (j + 1) * per_pair]
                orders = []
                for k in range(self.order_count):
                    got: list[float | str | None] = []
                    for judgment in mine[k * reps : (k + 1) * reps]:
                        v = self.parser.parse(judgment)
                        if v.values is None:
                            got.append(v.failure)
                        else:
                            pref = _FOR_A[int(v.values["winner"])]
                            got.append(pref if k == 0 else 1.0 - pref)
                    orders.append(got)
                pairs[i] = orders
                diffs[i] = self._length(ta) - self._length(tb)
            out.append({"p": pairs, "d": diffs})
        return out

    def sample_warnings(self, batch: Sequence[Sample]) -> list[str | None]:
        out: list[str | None] = []
        for stats in self.sample_stats(batch):
            failed = sum(
                isinstance(v, str) for orders in stats["p"] if orders for o in orders for v in o
            )
            asked = sum(len(o) for orders in stats["p"] if orders for o in orders)
            missing = [
                "-".join(pair)
                for pair, orders in zip(self.pairs, stats["p"], strict=True)
                if orders is None
            ]
            parts = []
            if failed:
                parts.append(f"{failed} of {asked} verdicts failed")
            if missing:
                parts.append(f"not judged (an output is missing): {', '.join(missing)}")
            out.append(f"{self.name}: " + "; ".join(parts) if parts else None)
        return out

    # ---------------------------------------------------------------- values

    def value_names(self) -> tuple[str, ...]:
        return self._names

    def primary_values(self) -> tuple[str, ...]:
        return tuple(own[0] for own in self.own.values()) + tuple(
            n for n in self._names if n.startswith("bt[")
        )

    def value_higher_is_better(self, value_name: str) -> bool:
        return value_name.startswith(("win_rate", "bt["))

    def value_target(self, value_name: str) -> float | None:
        if value_name == "first_position_rate":
            return 0.5
        return 0.0 if value_name == "length_corr" else None

    def interval_values(self) -> tuple[str, ...]:
        return tuple(n for n in self._names if not n.startswith("sign_p"))

    # ---------------------------------------------------------------- aggregate

    def _table(self, stats: Sequence[Stats]) -> _Table:
        n, k = len(stats), len(self.pairs)
        pref = np.full((n, k), np.nan)
        diff = np.full((n, k), np.nan)
        counts = np.zeros((n, 6), dtype=np.int64)  # asked, failed, flips, both, first, decided
        missing = np.zeros(n, dtype=np.int64)
        for r, s in enumerate(stats):
            c = counts[r]
            for i, orders in enumerate(s["p"]):
                if orders is None:
                    missing[r] += 1
                    continue
                parsed = []
                for o, got in enumerate(orders):
                    c[0] += len(got)
                    for v in got:
                        if isinstance(v, str):
                            c[1] += 1
                            continue
                        parsed.append(v)
                        if v != 0.5:
                            c[5] += 1
                            # shown first and won, or shown second and lost
                            c[4] += (v == 1.0) if o == 0 else (v == 0.0)
                if len(orders) == 2:
                    for x, y in zip(orders[0], orders[1], strict=True):
                        if not isinstance(x, str) and not isinstance(y, str):
                            c[3] += 1
                            c[2] += x != y
                if parsed:
                    pref[r, i] = sum(parsed) / len(parsed)
                    diff[r, i] = s["d"][i]
        return _Table(pref, diff, counts, missing)

    def _values(self, t: _Table) -> dict[str, float]:
        from evalkit.metrics.judges.agreement import spearman
        from evalkit.metrics.judges.ranking import sign_test

        nan = math.nan
        out: dict[str, float] = {}
        for i, (win, tie, sign) in enumerate(self.own.values()):
            col = t.pref[:, i] if i < len(self.pairs) else np.empty(0)
            col = col[~np.isnan(col)]
            out[win] = float(col.mean()) if len(col) else nan
            out[tie] = float((col == 0.5).mean()) if len(col) else nan
            won, lost = int((col > 0.5).sum()), int((col < 0.5).sum())
            out[sign] = sign_test(won, lost) if len(col) else nan
        asked, failed, flips, both, first, decided = (int(x) for x in t.counts.sum(axis=0))
        if self.order_count == 2:
            out["flip_rate"] = flips / both if both else nan
        out["first_position_rate"] = first / decided if decided else nan
        ok = ~np.isnan(t.pref)
        x, y = t.pref[ok], t.diff[ok]
        out["length_corr"] = float(spearman(x, y)) if len(x) >= 2 else nan
        out["judge_failure_rate"] = failed / asked if asked else nan
        total = len(t.missing) * len(self.pairs)
        out["opponent_failure_rate"] = int(t.missing.sum()) / total if total else nan
        if self.ranked:
            out.update(self._ranking(t))
        return out

    def resample_block(
        self, stats: Sequence[Stats]
    ) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
        """Bootstrap values from the ``(B, n)`` resample counts, without building resamples.

        Rates are count-weighted means and sums, ``length_corr`` is
        :func:`~evalkit.metrics.judges._resample.weighted_spearman` over the judged
        (sample, pair) entries, and with more than two systems the Bradley-Terry fit of each
        resample starts from its count-weighted wins: equal to :meth:`_values` of each
        resample's rows to rounding. Sign-test p-values have no interval: NaN here.
        """
        t = self._table(stats)
        n, k = t.pref.shape
        ok = ~np.isnan(t.pref)
        pref = np.where(ok, t.pref, 0.0)
        cols = [
            (own, pref[:, i], ok[:, i], (ok[:, i] & (t.pref[:, i] == 0.5)).astype(np.float64))
            for i, own in enumerate(list(self.own.values())[:k])
        ]
        absent = list(self.own.values())[k:]  # no pair (no opponent yet): NaN, as _values
        per = t.counts.astype(np.float64)
        missing = t.missing.astype(np.float64)
        flat_x, flat_y = pref.ravel(), np.where(ok, t.diff, 0.0).ravel()
        flat_ok = ok.ravel()

        def block(counts: np.ndarray) -> dict[str, np.ndarray]:
            nan = np.full(counts.shape[0], np.nan)
            out: dict[str, np.ndarray] = {}
            judged_per_pair = counts @ ok
            for (win, tie, sign), col, keep, tied in cols:
                out[win] = weighted_means(counts, col, keep)
                out[tie] = weighted_means(counts, tied, keep)
                out[sign] = nan
            for win, tie, sign in absent:
                out[win] = out[tie] = out[sign] = nan
            asked, failed, flips, both, first, decided = (counts @ per).T
            with np.errstate(invalid="ignore", divide="ignore"):
                if self.order_count == 2:
                    out["flip_rate"] = np.where(both > 0, flips / both, np.nan)
                out["first_position_rate"] = np.where(decided > 0, first / decided, np.nan)
                out["judge_failure_rate"] = np.where(asked > 0, failed / asked, np.nan)
                total = n * len(self.pairs)
                out["opponent_failure_rate"] = (counts @ missing) / total if total else nan
            weights = np.repeat(counts, k, axis=1) * flat_ok
            out["length_corr"] = weighted_spearman(weights, flat_x, flat_y)
            if self.ranked:
                sums = counts @ pref
                fits = [self._ranking_of(s, j) for s, j in zip(sums, judged_per_pair, strict=True)]
                for name in fits[0] if fits else ():
                    out[name] = np.array([f[name] for f in fits])
            return out

        return block

    def _ranking(self, t: _Table) -> dict[str, float]:
        ok = ~np.isnan(t.pref)
        return self._ranking_of(np.where(ok, t.pref, 0.0).sum(axis=0), ok.sum(axis=0))

    def _ranking_of(self, pref_sums: np.ndarray, judged: np.ndarray) -> dict[str, float]:
        """Bradley-Terry scores from each pair's summed preference and its judged count."""
        from evalkit.metrics.judges.ranking import bradley_terry, bt_scores

        index = {s: i for i, s in enumerate(self.systems)}
        size = len(self.systems)
        wins = np.zeros((size, size))
        for i, (a, b) in enumerate(self.pairs):
            wins[index[a], index[b]] += pref_sums[i]
            wins[index[b], index[a]] += judged[i] - pref_sums[i]
        winners, losers = np.nonzero(wins)
        try:
            strengths = bradley_terry(
                winners, losers, size, weights=wins[winners, losers], names=self.systems
            )
        except InputError:  # a system never judged: no ranking for this resample
            return {f"bt[{s}]": math.nan for s in self.systems}
        scores = bt_scores(strengths)
        return {f"bt[{s}]": float(v) for s, v in zip(self.systems, scores, strict=True)}


@dataclass
class _Table:
    pref: np.ndarray  # (n, pairs): order-averaged preference for the first system (NaN: none)
    diff: np.ndarray  # (n, pairs): length difference where judged (NaN: not judged)
    counts: np.ndarray  # (n, 6): asked, failed, flips, both orders parsed, first, decided
    missing: np.ndarray  # (n,): pairs not judged for want of an output

    def take(self, idx: np.ndarray) -> _Table:
        return _Table(self.pref[idx], self.diff[idx], self.counts[idx], self.missing[idx])


def pairwise_score(
    predictions: Sequence[str],
    judgments: Sequence[Sequence[str | None]],
    *,
    against: Mapping[str, Sequence[str | None]],
    **params: Any,
) -> Score:
    """The functional twin ``evalkit.metrics.judge_pairwise``: preferences from given verdicts.

    ``against[X][i]`` is system X's output for ``predictions[i]`` (None: its call failed);
    ``judgments[i]`` holds the judge's answers about sample ``i`` in request order: per pair
    with both outputs (the run against each opponent, in name order), the ``repeats``
    answers with the run as A, then (both orders) as B; None is a failed judge call.

    Raises:
        InputError: The sequences differ in length.

    Example:
        >>> v = pairwise_score(["Paris", "Rome"], [['{"winner": "A"}', '{"winner": "B"}'],
        ...     ['{"winner": "B"}', '{"winner": "A"}']], against={"base": ["Lyon", "Oslo"]})
        >>> v.details["win_rate"], v.details["flip_rate"]
        (0.5, 0.0)
    """
    n = len(predictions)
    if len(judgments) != n or any(len(v) != n for v in against.values()):
        raise InputError(
            "judge_pairwise: predictions, judgments and every opponent's outputs must have the "
            f"same length ({n}, {len(judgments)}, "
            + ", ".join(f"{k}: {len(v)}" for k, v in against.items())
            + ")."
        )
    inline = {name: {str(i): t for i, t in enumerate(texts)} for name, texts in against.items()}
    metric = PairwiseJudge(against=inline, **params)
    samples = []
    for i, (pred, answers) in enumerate(zip(predictions, judgments, strict=True)):
        js = [
            {"text": a, "error": None if a is not None else "the judge call failed"}
            for a in answers
        ]
        samples.append(Sample(id=str(i), prediction=pred, outputs={"judgments": js}))
    return metric.score(samples)
