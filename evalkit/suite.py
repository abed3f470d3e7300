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
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from evalkit._textio import read_utf8

# DatasetSpec (the dataset mapping) is defined with its loader; re-exported as part of the schema.
from evalkit.data.samples import DatasetSpec as DatasetSpec
from evalkit.data.samples import default_reference_field
from evalkit.errors import ConfigError, EvalkitError, did_you_mean
from evalkit.metrics.base import Metric


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


#: The largest width or precision a prompt field's format spec may ask for (``{x:>1000}``): a
#: larger one is a typo or an attempt to make one prompt gigabytes long.
MAX_FORMAT_WIDTH = 1000
# Python's standard format-spec mini-language (docs: "Format Specification Mini-Language"):
# [[fill]align][sign]["z"]["#"]["0"][width][grouping]["." precision][type].
_FORMAT_SPEC = re.compile(
    r"(?:(?P<fill>.)?[<>=^])?[-+ ]?z?#?0?(?P<width>\d+)?[_,]?"
    r"(?:\.(?P<precision>\d+))?[bcdeEfFgGnosxX%]?",
    re.DOTALL,
)
_FIX = (
    "use plain field names only, such as {question} or {score:.2f}; write literal braces as "
    "{{ and }}"
)


def _check_field(field: str, spec: str, conversion: str | None) -> None:
    """ValueError unless ``{field!conversion:spec}`` names a field with a literal spec."""
    shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
    shown += "}"
    if not field:
        raise ValueError(f"prompt field {shown} is positional; {_FIX}")
    if not field.isidentifier():
        kind = "positional" if field.isdigit() else "an attribute or index lookup"
        raise ValueError(f"prompt field {shown} is {kind}; {_FIX}")
    if conversion not in (None, "r", "s", "a"):
        raise ValueError(
            f"prompt field {shown}: unknown conversion !{conversion}; use !r, !s or !a"
        )
    if "{" in spec or "}" in spec:
        raise ValueError(f"prompt field {shown} nests a field in its format spec; {_FIX}")
    match = _FORMAT_SPEC.fullmatch(spec)
    if match is None:
        raise ValueError(
            f"prompt field {shown}: '{spec}' is not a format spec (Python's mini-language, "
            "such as >10 or .2f)"
        )
    for part in ("width", "precision"):
        number = match.group(part)
        if number is not None and int(number) > MAX_FORMAT_WIDTH:
            raise ValueError(
                f"prompt field {shown}: {part} {number} is above the limit of "
                f"{MAX_FORMAT_WIDTH}; use at most {MAX_FORMAT_WIDTH}"
            )


def _check_template(value: str) -> str:
    """A ``str.format`` template over plain field names with literal format specs, or ValueError.

    Templates come from YAML, so they may only name fields: attribute and index lookups
    (``{x.__class__}``, ``{x[0]}``), positional fields and fields nested in a format spec are
    refused, and so are widths and precisions above :data:`MAX_FORMAT_WIDTH`.
    """
    try:
        parts = [(f, spec or "", conv) for _, f, spec, conv in string.Formatter().parse(value)]
    except ValueError as exc:
        raise ValueError(
            f"prompt is not a valid str.format template ({exc}); "
            "double literal braces: {{{{ }}}}"
        ) from exc
    for field, spec, conversion in parts:
        if field is not None:
            _check_field(field, spec, conversion)
    return value


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

    @property
    def templates(self) -> list[str]:
        """The task's prompt templates (prompt, and continuation when there is one)."""
        templates = (self.spec.prompt, self.spec.continuation, *self.spec.prompt_variants)
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


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its closest existing parent)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                    nxt = v
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            nxt = node.value[part]
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def _fix_for(err: Any, parent_model: type[BaseModel] | None) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden" and parent_model is not None:
        key = str(err["loc"][-1])
        fields = list(parent_model.model_fields)
        return f"unknown key '{key}'.{did_you_mean(key, fields)} Allowed keys: {', '.join(fields)}."
    if kind == "missing":
        return f"required key '{err['loc'][-1]}' is missing; add it."
    return f"{err.get('msg', 'invalid value')} (got {err.get('input')!r})."


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of ``loc`` (for did-you-mean on keys)."""
    model: type[BaseModel] | None = SuiteSpec
    for part in loc[:-1]:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        inner = getattr(ann, "__args__", (ann,))
        model = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return model


def parse_suite(text: str, path: Path) -> SuiteSpec:
    """Parse and validate suite YAML text (safe loading only)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = exc.problem or str(exc)
        hint = ""
        if "python/" in str(exc) or "constructor" in problem:
            hint = " Suites are data only: tags that build Python objects are refused."
        raise ConfigError(f"{path}{line}: invalid YAML: {problem}.{hint}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a suite must be a mapping with 'name' and 'tasks', got {type(data).__name__}."
        )
    try:
        return SuiteSpec.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            # pydantic reports union branches as extra loc parts ('str', 'dict[...]'); drop them.
            loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p == "str")))
            ln = _line_of(root, loc)
            where = f"{path}:{ln}" if ln else str(path)
            lines.append(f"{where}: {_loc_to_path(loc)}: {_fix_for(err, _model_at(loc))}")
        # de-duplicate union noise, keep order
        seen: dict[str, None] = dict.fromkeys(lines)
        raise ConfigError("\n".join(seen)) from None


def _build_metrics(spec: TaskSpec, index: int, path: Path, root: yaml.Node | None) -> Task:
    entries: list[MetricEntry] = []
    from evalkit.registry import METRICS

    for j, item in enumerate(spec.metrics):
        where_loc: tuple[int | str, ...] = ("tasks", index, "metrics", j)
        params: dict[str, Any]
        if isinstance(item, str):
            name, params = item, {}
        else:
            if len(item) != 1:
                ln = _line_of(root, where_loc)
                raise ConfigError(
                    f"{path}:{ln}: {_loc_to_path(where_loc)}: a metric entry is one name or a "
                    f"one-key mapping {{name: {{params}}}}, got keys {sorted(item)}."
                )
            name, raw = next(iter(item.items()))
            params = dict(raw or {})
            where_loc = (*where_loc, name)
        ln = _line_of(root, where_loc)
        where = f"{path}:{ln}: {_loc_to_path(where_loc)}"
        try:
            cls = METRICS.get(name)
            # Parameters that name files (image metrics' reference and weights) are relative to
            # the suite file, like dataset paths.
            for key in getattr(cls, "path_params", ()):
                value = params.get(key)
                if isinstance(value, str) and value and not Path(value).is_absolute():
                    params[key] = str((path.parent / value).resolve())
            metric = cls.build(params)
        except EvalkitError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {name}: {exc}") from None
        if any(e.key == name for e in entries):
            raise ConfigError(f"{where}: metric '{name}' is listed twice in this task.")
        entries.append(MetricEntry(key=name, metric=metric, where=where))
    dataset_path = (path.parent / spec.dataset.path).resolve()
    spec = _with_qrels_file(spec, index, path, root)
    kinds = {e.metric.request_kind for e in entries}
    where = f"{path}:{_line_of(root, ('tasks', index, 'metrics'))}: tasks[{index}].metrics"
    if len(kinds) > 1:
        listing = ", ".join(f"{e.key} ({e.metric.request_kind})" for e in entries)
        raise ConfigError(
            f"{where}: the metrics need different kinds of model request ({listing}); "
            "put them in separate tasks."
        )
    options: dict[str, Any] = {}
    for e in entries:
        for k, v in e.metric.request_options().items():
            if k in options and options[k] != v:
                raise ConfigError(
                    f"{where}: metrics ask for different request option {k} "
                    f"({options[k]!r} vs {v!r}); give them the same value or split the task."
                )
            options[k] = v
    kind = kinds.pop()
    options.update(_retrieval_options(spec, kind, index, path, root))
    if kind == "loglikelihood" and spec.continuation is None:
        raise ConfigError(
            f"{where}: {', '.join(e.key for e in entries)} score a continuation; add "
            '`continuation: "{field}"` to the task.'
        )
    return Task(
        spec=spec,
        metrics=tuple(entries),
        dataset_path=dataset_path,
        request_kind=kind,
        request_options=tuple(sorted(options.items())),
        model=_resolve_model(spec.model, path.parent),
    )


def _with_qrels_file(spec: TaskSpec, index: int, path: Path, root: yaml.Node | None) -> TaskSpec:
    """The task spec with ``dataset.qrels_file`` resolved against the suite file (checked)."""
    ds = spec.dataset
    if ds.qrels_file is None:
        return spec
    loc: tuple[int | str, ...] = ("tasks", index, "dataset", "qrels_file")
    where = f"{path}:{_line_of(root, loc)}: {_loc_to_path(loc)}"
    if ds.qrels is not None:
        raise ConfigError(
            f"{where}: the dataset maps judgments from both a field (qrels: {ds.qrels}) and a "
            "file (qrels_file); keep one of them."
        )
    qrels_path = (path.parent / ds.qrels_file).resolve()
    if not qrels_path.is_file():
        raise ConfigError(f"{where}: qrels file {qrels_path} not found; check the path.")
    dataset = ds.model_copy(update={"qrels_file": str(qrels_path)})
    return spec.model_copy(update={"dataset": dataset})


def _retrieval_options(
    spec: TaskSpec, kind: str, index: int, path: Path, root: yaml.Node | None
) -> dict[str, Any]:
    """Request options of a retrieval task: corpus path and SHA-256, and depth."""
    loc: tuple[int | str, ...] = ("tasks", index, "retrieval")
    where = f"{path}:{_line_of(root, loc)}: {_loc_to_path(loc)}"
    if kind != "retrieve":
        if spec.retrieval is not None:
            raise ConfigError(
                f"{where}: only tasks whose metrics rank documents (ndcg, recall, ...) take "
                "`retrieval:`; remove it."
            )
        return {}
    if spec.dataset.qrels is None and spec.dataset.qrels_file is None:
        loc = ("tasks", index, "dataset")
        raise ConfigError(
            f"{path}:{_line_of(root, loc)}: {_loc_to_path(loc)}: ranking metrics need relevance "
            "judgments; name the field that holds them: `qrels: FIELD` ({doc_id: grade}), or "
            "the file: `qrels_file: PATH` (TREC qrels or BEIR's qrels TSV)."
        )
    retrieval = spec.retrieval or RetrievalSpec()
    options: dict[str, Any] = {"depth": retrieval.depth}
    if retrieval.corpus is not None:
        corpus = (path.parent / retrieval.corpus).resolve()
        if not corpus.is_file():
            raise ConfigError(f"{where}.corpus: corpus file {corpus} not found; check the path.")
        options["corpus"] = str(corpus)
        options["corpus_sha256"] = hashlib.sha256(corpus.read_bytes()).hexdigest()
    return options


@dataclass(frozen=True)
class _Requirement:
    """What a task must set for a metric's requirement token, and how to say it is missing."""

    satisfied: Callable[[TaskSpec, Path], bool]
    missing: str
    fix: str


#: Requirement tokens (``Metric.requires``) that a task's own settings provide, checked by
#: :func:`load_suite`. Tokens that the model provides (``prediction``, ``ranking``, ``image``,
#: ``embed``, ``loglikelihood_rolling``...) are checked by the runner against the adapter's
#: capabilities once the model is known; tokens not listed here (a third-party metric's own)
#: are left to run time too.
SUITE_REQUIREMENTS: dict[str, _Requirement] = {
    "references": _Requirement(
        lambda t, data: (
            t.dataset.references is not None
            or default_reference_field(data, t.dataset.format) is not None
        ),
        "reference texts, but the task's dataset maps no `references:` field (and its first "
        "row has no `references` or `reference` field)",
        "add `references: FIELD` to the task's dataset (the field holding each sample's "
        "reference: a string or a list of strings)",
    ),
    "qrels": _Requirement(
        lambda t, data: t.dataset.qrels is not None or t.dataset.qrels_file is not None,
        "relevance judgments, but the task's dataset maps no `qrels:` field or `qrels_file:`",
        "add `qrels: FIELD` to the task's dataset (the field holding {doc_id: grade}), or "
        "`qrels_file: PATH` (a TREC qrels file or BEIR's qrels TSV)",
    ),
    "variants": _Requirement(
        lambda t, data: bool(t.prompt_variants),
        "a second version of each prompt, but the task has no `prompt_variants:`",
        'add `prompt_variants: ["{field}"]` to the task (the counterfactual prompt)',
    ),
}


def _requirement_errors(task: Task) -> list[str]:
    """One line per metric requirement that the task's settings cannot provide."""
    errors = []
    for entry in task.metrics:
        declared = getattr(entry.metric, "requires", ())
        tokens = {declared} if isinstance(declared, str) else set(declared)
        for token in sorted(tokens):
            need = SUITE_REQUIREMENTS.get(token)
            if need is None or need.satisfied(task.spec, task.dataset_path):
                continue  # provided, or checked at run time (see SUITE_REQUIREMENTS)
            errors.append(
                f"{entry.where}: {entry.key} requires '{token}': {need.missing}; {need.fix}."
            )
    return errors


#: The last line of a requirement error: what is checked now and what is left to run time.
_RUN_TIME_NOTE = (
    "(A suite's own settings are checked before any model call; what the model must serve "
    "(predictions, rankings, images, embeddings, log-likelihoods) is checked by `evalkit run` "
    "once the model is known.)"
)


def _resolve_model(spec: str | None, base: Path) -> str | None:
    """``KIND:PATH`` with a relative PATH that exists next to the suite made absolute."""
    if spec is None:
        return None
    kind, sep, target = spec.partition(":")
    if sep and target and not Path(target).is_absolute() and (base / target).exists():
        return f"{kind}:{(base / target).resolve()}"
    return spec


def load_suite(path: str | Path) -> Suite:
    """Load, validate and build a suite; raises ConfigError naming file, line and path.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.yaml"
    >>> _ = p.write_text("name: s\\ntasks:\\n  - name: t\\n    dataset: {path: d.jsonl}\\n"
    ...                  "    metrics: [exact_mach]\\n")
    >>> load_suite(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.errors.ConfigError: ...s.yaml:5: tasks[0].metrics[0]: unknown metric 'exact_mach'. ...
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: suite file not found; check the path.")
    text = read_utf8(p, ConfigError)
    spec = parse_suite(text, p)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:  # pragma: no cover - parse_suite already accepted it
        root = None
    names = [t.name for t in spec.tasks]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{p}: task names must be unique; repeated: {', '.join(dupes)}.")
    tasks = tuple(_build_metrics(t, i, p, root) for i, t in enumerate(spec.tasks))
    for i, task in enumerate(tasks):
        values = {v for e in task.metrics for v in e.metric.value_names()}
        for g, gate in enumerate(task.spec.gates):
            if gate.metric not in values:
                loc = ("tasks", i, "gates", g, "metric")
                raise ConfigError(
                    f"{p}:{_line_of(root, loc)}: {_loc_to_path(loc)}: no metric value "
                    f"'{gate.metric}' in this task.{did_you_mean(gate.metric, sorted(values))} "
                    f"Values: {', '.join(sorted(values))}."
                )
    missing = [line for task in tasks for line in _requirement_errors(task)]
    if missing:
        raise ConfigError("\n".join([*missing, _RUN_TIME_NOTE]))
    return Suite(path=p.resolve(), spec=spec, tasks=tasks)
