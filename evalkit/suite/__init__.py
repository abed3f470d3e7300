"""Suite YAML: safe loading, schema validation with path-aware errors, metrics built up front.

A suite names tasks; a task names a dataset (path and field mapping), a prompt template
(``str.format`` over the sample's fields, no code), generation settings and metrics::

    name: quickstart
    tasks:
      - name: translate
        dataset: {path: data/translate.jsonl, id: id, references: ref}
        prompt: "Translate to English: {source}"
        metrics:
          - bleu: {tokenize: 13a}
          - chrf

Every error names the file, the line, the path inside the suite (``tasks[0].metrics[1].bleu``)
and what to do. Metrics are constructed here, so bad parameters fail before any model call.

The schema (:mod:`~evalkit.suite.schema`, with prompt templates checked by
:mod:`~evalkit.suite.templates`), the built objects (:mod:`~evalkit.suite.built`), YAML parsing
(:mod:`~evalkit.suite.parsing`), requirement checks (:mod:`~evalkit.suite.requirements`) and
:func:`load_suite` (:mod:`~evalkit.suite.loading`) each have a module; every name is importable
from ``evalkit.suite``.
"""

from __future__ import annotations

from evalkit.suite.built import MetricEntry as MetricEntry
from evalkit.suite.built import Suite as Suite
from evalkit.suite.built import Task as Task
from evalkit.suite.loading import load_suite as load_suite
from evalkit.suite.parsing import parse_suite as parse_suite
from evalkit.suite.requirements import SUITE_REQUIREMENTS as SUITE_REQUIREMENTS
from evalkit.suite.schema import BootstrapSpec as BootstrapSpec
from evalkit.suite.schema import DatasetSpec as DatasetSpec
from evalkit.suite.schema import ExecutorSpec as ExecutorSpec
from evalkit.suite.schema import GateSpec as GateSpec
from evalkit.suite.schema import GenerationSpec as GenerationSpec
from evalkit.suite.schema import RetrievalSpec as RetrievalSpec
from evalkit.suite.schema import SuiteSpec as SuiteSpec
from evalkit.suite.schema import TaskSpec as TaskSpec
from evalkit.suite.templates import MAX_FORMAT_WIDTH as MAX_FORMAT_WIDTH
