"""What every judge metric shares: the judge model, its prompt, repeats and the answers.

A judge metric names its judge as an adapter spec (``model: openai:gpt-4o-mini``, with
``model_options`` such as ``base_url``), renders one prompt per judgment from its template and
asks for ``repeats`` judgments of each prompt at the judge's ``temperature`` (repeat ``k``
seeded by :func:`~evalkit.types.sample_seed`, and ``sample_index=k`` so that the response cache
keeps the repeats apart). The executor sends the requests through the cache and the judge
adapter (see :meth:`evalkit.metrics.base.Metric.judge_model`) and hands the answers back in
``sample.outputs["judgments"]``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from evalkit.errors import ConfigError, InputError
from evalkit.metrics.base import Metric, portable_spec
from evalkit.metrics.judges.prompts import JudgePrompt
from evalkit.metrics.params import MetricParams
from evalkit.types import JUDGMENTS, GenerateRequest, Sample, Stats, sample_seed

__all__ = ["JudgeMetric", "JudgeParams", "judgments_of"]


class JudgeParams(MetricParams):
    """Parameters every judge metric takes."""

    model: str | None = Field(
        default=None,
        description="the judge: an adapter spec (openai:MODEL, hf:PATH, python:MODULE:FN, "
        "scripted:FILE.json); needed to run, not to score judge answers given directly",
    )
    model_options: dict[str, Any] = Field(
        default_factory=dict,
        description="the judge adapter's options (base_url, api_key_env, max_attempts...)",
    )
    template: str | None = Field(
        default=None, description="the judge prompt (str.format fields; {{ }} for braces)"
    )
    template_file: str | None = Field(
        default=None, description="a UTF-8 file holding the judge prompt (relative to the suite)"
    )
    parser: Literal["json", "regex"] = Field(
        default="json", description="how verdicts are read: a JSON object, or `pattern`"
    )
    pattern: str | None = Field(
        default=None, description="the verdict regex (named groups), with parser: regex"
    )
    repeats: int = Field(default=1, ge=1, le=50, description="judgments per prompt")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="the judge's temperature")
    max_tokens: int = Field(default=512, ge=1, description="the longest verdict asked for")
    seed: int | None = Field(default=0, description="seed of the first repeat (None: unseeded)")
    length_unit: Literal["chars", "words"] = Field(
        default="chars", description="how length_corr measures an output's length"
    )


class JudgeMetric(Metric):
    """Base of judge metrics: the judge model, the checked prompt and the judge requests.

    Subclasses set :attr:`default_template` (or None to require one), :attr:`prompt_fields`
    (their own template fields), call ``super().setup()`` and build their verdict parser.
    """

    path_params: ClassVar[tuple[str, ...]] = ("template_file",)
    #: Parameters holding an adapter spec whose file the suite loader finds next to the suite.
    model_params: ClassVar[tuple[str, ...]] = ("model",)
    default_template: ClassVar[str | None] = None
    prompt_fields: ClassVar[tuple[str, ...]] = ()
    p: JudgeParams

    @classmethod
    def rebuild(cls, params: Mapping[str, Any]) -> Metric:
        """The recorded metric, for aggregating recorded statistics: built from
        :meth:`buildable` parameters (no template or opponent files are read), with the
        recorded ``params`` (hence the recorded signature) restored."""
        metric = cls.build(cls.buildable(dict(params)))
        metric.params = dict(params)
        return metric

    @classmethod
    def buildable(cls, recorded: dict[str, Any]) -> dict[str, Any]:
        """Parameters that build a metric aggregating like the recorded one: the recorded
        values of the declared parameters, the JSON parser (a verdict regex is recorded by its
        hash; recorded statistics are parsed already) and the built-in template."""
        fields = cls.Params.model_fields if cls.Params is not None else {}
        out = {k: v for k, v in recorded.items() if k in fields}
        out["parser"] = "json"
        for key in ("pattern", "template", "template_file"):
            out.pop(key, None)
        return out

    def setup(self) -> None:
        self.prompt = JudgePrompt(
            self.name,
            self.p.template,
            self.p.template_file,
            default=self.default_prompt(),
            extra=self.prompt_fields,
        )
        # The signature holds the template's hash, not its text or the file's path.
        for key in ("template", "template_file", "model_options"):
            self.params.pop(key, None)
        self.params["template_sha256"] = self.prompt.sha256[:16]
        if self.p.model is not None:
            self.params["model"] = portable_spec(self.p.model)
        if self.p.repeats == 1:
            self.params.pop("repeats", None)

    def default_prompt(self) -> str | None:
        """The built-in template (default: :attr:`default_template`; the rubric fills in its
        criteria)."""
        return self.default_template

    def judge_model(self) -> tuple[str, dict[str, Any]] | None:
        if self.p.model is None:
            raise ConfigError(
                f"{self.name}: no judge model; set `model:` to an adapter spec (e.g. "
                "openai:gpt-4o-mini, python:my_judges:grade, scripted:judge.json)."
            )
        return self.p.model, dict(self.p.model_options)

    # A judge metric reads its statistics into a table once (``_table``, whose ``take(rows)``
    # selects samples) and computes its values from a table (``_values``); aggregating and
    # each bootstrap resample are the same computation on different rows.

    @abstractmethod
    def _table(self, stats: Sequence[Stats]) -> Any:
        """The statistics as arrays, one row per sample, with ``take(rows)``."""

    @abstractmethod
    def _values(self, table: Any) -> dict[str, float]:
        """The values of a table (what :meth:`aggregate` returns)."""

    def aggregate(self, stats: Sequence[Stats]) -> dict[str, float]:
        return self._values(self._table(stats))

    def resample_block(
        self, stats: Sequence[Stats]
    ) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
        """Bootstrap values from the ``(B, n)`` resample counts (see :mod:`evalkit.stats`).

        The statistics are read into a table once; each resample takes the rows it draws
        (``np.repeat`` by the counts) and computes exactly what :meth:`aggregate` computes.
        """
        table = self._table(stats)
        rows = np.arange(len(stats))
        names = self.value_names()

        def block(counts: np.ndarray) -> dict[str, np.ndarray]:
            out = {k: np.empty(counts.shape[0]) for k in names}
            for b, row in enumerate(np.rint(counts).astype(np.int64)):
                for k, v in self._values(table.take(np.repeat(rows, row))).items():
                    out[k][b] = v
            return out

        return block

    def judge_prompts(self, sample: Sample) -> list[str]:
        """The distinct prompts judged for ``sample`` (each asked ``repeats`` times)."""
        return [self.prompt.render(sample)]

    def judge_requests(self, sample: Sample) -> list[GenerateRequest]:
        p = self.p
        return [
            GenerateRequest(
                prompt=text,
                sample_id=sample.id,
                max_tokens=p.max_tokens,
                temperature=p.temperature,
                seed=sample_seed(p.seed, k),
                sample_index=k,
            )
            for text in self.judge_prompts(sample)
            for k in range(p.repeats)
        ]


def judgments_of(sample: Sample, expected: int) -> list[Mapping[str, Any]]:
    """The judge's answers for ``sample``: ``expected`` ``{"text", "error", "cached"}`` mappings.

    Raises:
        InputError: The sample carries no judgments, or another number of them (a judge metric
            scored outside the runner must be given them, as the runner does).

    Example:
        >>> s = Sample(id="1", outputs={"judgments": [{"text": "5", "error": None}]})
        >>> judgments_of(s, 1)[0]["text"]
        '5'
    """
    found = sample.outputs.get(JUDGMENTS)
    if not isinstance(found, Sequence) or len(found) != expected:
        got = "none" if found is None else f"{len(found)}" if isinstance(found, Sequence) else "?"
        raise InputError(
            f"{sample.where or 'sample ' + repr(sample.id)}: a judge metric needs {expected} "
            f"judgments in outputs['{JUDGMENTS}'] and found {got}; judge metrics are scored by "
            "`evalkit run` (which asks the judge), or given the judge's answers."
        )
    return list(found)
