"""A validated suite, ready to run: its tasks with their metrics built."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import InputError
from evalkit.metrics.base import Metric
from evalkit.suite.schema import SuiteSpec, TaskSpec
from evalkit.types import Sample


@dataclass(frozen=True)
class MetricEntry:
    """A metric of a task: its key in the record, the built metric and where it was declared."""

    key: str
    metric: Metric
    where: str


@dataclass(frozen=True)
class Task:
    """A validated task with its metrics built."""

    spec: TaskSpec
    metrics: tuple[MetricEntry, ...]
    dataset_path: Path
    request_kind: str = "generate"
    request_options: tuple[tuple[str, Any], ...] = ()
    model: str | None = None

    @property
    def name(self) -> str:
        """The task name."""
        return self.spec.name

    @property
    def no_relevant(self) -> str | None:
        """How the task's ranking metrics score queries without relevant documents.

        ``zero`` or ``skip`` when they agree, ``zero for KEY, skip for KEY...`` when not, and
        None for a task without ranking metrics (for the note about a qrels file).
        """
        policies = {
            e.key: str(e.metric.params["no_relevant"])
            for e in self.metrics
            if "no_relevant" in (getattr(e.metric, "params", None) or {})
        }
        if len(set(policies.values())) <= 1:
            return next(iter(policies.values()), None)
        return ", ".join(f"{v} for {k}" for k, v in policies.items())

    def continuations(self, sample: Sample) -> tuple[str, ...]:
        """The continuations the task's metrics score for ``sample`` (multiple choice), or ().

        Every metric that builds continuations must build the same ones (InputError if not).
        """
        found: tuple[str, ...] | None = None
        for e in self.metrics:
            if not e.metric.builds_continuations:
                continue
            conts = e.metric.request_continuations(sample)
            if found is not None and conts != found:
                raise InputError(
                    f"{sample.where or sample.id}: the metrics of task '{self.name}' build "
                    "different choices for this sample; give them the same choices field and "
                    "target_delimiter."
                )
            found = conts
        return found or ()

    @property
    def templates(self) -> list[str]:
        """The task's templates whose fields every sample must have: the prompt (without a
        RAG task's ``{passages}``), the continuation and variants, the retriever's query."""
        prompt = self.spec.prompt
        query = None
        if self.spec.retriever is not None:
            # {passages} comes from the retriever, not the dataset: check the other fields,
            # and the query's.
            prompt, query = prompt.replace("{passages}", ""), self.spec.retriever.query
        templates = (prompt, self.spec.continuation, *self.spec.prompt_variants, query)
        return [t for t in templates if t is not None]


@dataclass(frozen=True)
class Suite:
    """A validated suite, ready to run."""

    path: Path
    spec: SuiteSpec
    tasks: tuple[Task, ...]

    @property
    def name(self) -> str:
        """The suite name."""
        return self.spec.name

    def fingerprint(self) -> str:
        """SHA-256 of the canonical suite configuration (dataset contents are hashed apart)."""
        spec = self.spec.model_dump(mode="json", exclude={"executor"})
        canon = json.dumps(spec, sort_keys=True)
        return hashlib.sha256(canon.encode()).hexdigest()
