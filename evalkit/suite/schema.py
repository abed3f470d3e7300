"""The suite file's schema: strict pydantic models, one per YAML mapping.

Unknown keys are errors (``_Strict``); the models hold what the file says, checked field by
field. :mod:`evalkit.suite.loading` builds the runnable :class:`~evalkit.suite.built.Suite`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# DatasetSpec (the dataset mapping) is defined with its loader; re-exported as part of the schema.
from evalkit.data.samples import DatasetSpec as DatasetSpec
from evalkit.data.samples import template_fields
from evalkit.suite.templates import _check_template


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GenerationSpec(_Strict):
    """Generation settings passed to the adapter (and part of the cache key)."""

    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)
    stop: list[str] = Field(default_factory=list)
    seed: int | None = None
    #: Samples per prompt (seeded: sample k of a request seeded s uses ``sample_seed(s, k)``);
    #: all are kept in the record (``outputs.samples``) and diversity metrics use them.
    n: int = Field(default=1, ge=1, le=1000)


class RetrievalSpec(_Strict):
    """What a retrieval task searches: a corpus file (relative to the suite) and a depth."""

    corpus: str | None = None
    depth: int = Field(default=100, ge=1)


class RetrieverSpec(_Strict):
    """A RAG task's retriever: it ranks the corpus for each sample's query, and the task's
    prompt receives the top ``k`` passages as ``{passages}`` (see docs/rag.md)."""

    #: An adapter that serves ``retrieve`` requests (``bm25:``, ``dense:PATH``,
    #: ``trec_run:FILE``); paths relative to the suite file.
    model: str = Field(min_length=1)
    #: The corpus (JSONL ``{"id", "text"}``, or BEIR's), relative to the suite file.
    corpus: str = Field(min_length=1)
    #: The query template (dataset fields).
    query: str = "{question}"
    #: Passages given to the generator.
    k: int = Field(default=3, ge=1, le=100)
    #: Documents ranked per query (default ``k``): what ranking metrics of the task score
    #: (nDCG@10 needs a depth of 10 or more; the generator still sees the top ``k``).
    depth: int | None = Field(default=None, ge=1, le=1000)
    #: Each passage as the prompt shows it (``{id}``, ``{text}``, ``{rank}``).
    passage: str = "[{id}] {text}"
    #: Between two passages.
    separator: str = "\n\n"

    @field_validator("query", "passage")
    @classmethod
    def _template_parses(cls, value: str) -> str:
        return _check_template(value)

    @model_validator(mode="after")
    def _depth_covers_k(self) -> RetrieverSpec:
        if self.depth is not None and self.depth < self.k:
            raise ValueError(
                f"depth ({self.depth}) is below k ({self.k}); the generator's passages are the "
                "top k of the ranked documents, so depth must be at least k"
            )
        return self

    @field_validator("passage")
    @classmethod
    def _passage_fields(cls, value: str) -> str:
        unknown = sorted(set(template_fields(value)) - {"id", "text", "rank"})
        if unknown:
            raise ValueError(
                f"the passage template names {', '.join(unknown)}; it may name only "
                "{id}, {text} and {rank}"
            )
        return value


class GateSpec(_Strict):
    """A quality gate on one metric value of the task."""

    metric: str
    min: float | None = None
    max: float | None = None
    max_drop: float | None = None
    no_significant_regression: bool = False
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _checks_something(self) -> GateSpec:
        # A gate that names no check would be reported as nothing and pass every build.
        if (self.min, self.max, self.max_drop) == (None, None, None) and not (
            self.no_significant_regression
        ):
            raise ValueError(
                f"the gate on '{self.metric}' checks nothing: add min, max, max_drop or "
                "no_significant_regression: true"
            )
        return self


class TaskSpec(_Strict):
    """One task of a suite."""

    name: str = Field(min_length=1)
    dataset: DatasetSpec
    prompt: str = "{input}"
    continuation: str | None = None
    #: More templates sent as the same request (counterfactual pairs: ``["{text_b}"]``); their
    #: results are the sample's ``outputs.variants``.
    prompt_variants: list[str] = Field(default_factory=list)
    #: A model spec for this task only (``hf:../models/...``; paths relative to the suite
    #: file), e.g. to score a bundled checkpoint's perplexity next to replayed predictions.
    model: str | None = None
    generation: GenerationSpec = GenerationSpec()
    #: For tasks whose metrics rank documents (``retrieve`` requests).
    retrieval: RetrievalSpec | None = None
    #: For RAG tasks: the retriever whose passages the prompt receives as ``{passages}``.
    retriever: RetrieverSpec | None = None
    metrics: list[str | dict[str, dict[str, Any] | None]] = Field(min_length=1)
    gates: list[GateSpec] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        # Task names name folders (images:DIR/TASK/) and files: never a path.
        if value in (".", "..") or any(c in value for c in "/\\") or not value.isprintable():
            raise ValueError(
                f"task name {value!r} is not a plain name; drop '/', '\\' and control "
                "characters (and do not use '.' or '..'), e.g. name: news"
            )
        return value

    @model_validator(mode="after")
    def _passages_are_shown(self) -> TaskSpec:
        if self.retriever is not None and "passages" not in template_fields(self.prompt):
            raise ValueError(
                "the task has a retriever but its prompt does not name {passages}; put the "
                'passages in the prompt, e.g. prompt: "{passages}\\n\\nQuestion: {question}"'
            )
        return self

    @field_validator("prompt_variants")
    @classmethod
    def _variants_parse(cls, value: list[str]) -> list[str]:
        for v in value:
            _check_template(v)
        return value

    @field_validator("prompt", "continuation")
    @classmethod
    def _template_parses(cls, value: str | None) -> str | None:
        return value if value is None else _check_template(value)


class BootstrapSpec(_Strict):
    """Bootstrap confidence interval settings."""

    resamples: int = Field(default=1000, ge=0)
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)


class ExecutorSpec(_Strict):
    """Where batches are served and scored (``executor: ray`` or a mapping); see docs/ray.md.

    Not part of the suite fingerprint: the executor never changes a result.
    """

    kind: Literal["local", "ray"] = "local"
    #: Ray cluster to join (``host:6379``, ``ray://host:10001``, ``auto``); None: a new local one.
    address: str | None = None
    workers: int | None = Field(default=None, ge=1)
    gpus_per_worker: float | None = Field(default=None, gt=0)
    runtime_env: dict[str, Any] | None = None


class SuiteSpec(_Strict):
    """The whole suite file."""

    name: str = Field(min_length=1)
    description: str = ""
    seed: int = 0
    batch_size: int = Field(default=32, ge=1)
    bootstrap: BootstrapSpec = BootstrapSpec()
    executor: ExecutorSpec | None = None
    tasks: list[TaskSpec] = Field(min_length=1)

    @field_validator("executor", mode="before")
    @classmethod
    def _executor_name(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value
