"""Loading a suite: parse, build every task's metrics, check what the suite must provide."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from evalkit._textio import read_utf8
from evalkit.errors import ConfigError, EvalkitError, did_you_mean
from evalkit.suite.built import MetricEntry, Suite, Task
from evalkit.suite.parsing import _line_of, _loc_to_path, parse_suite
from evalkit.suite.requirements import _RUN_TIME_NOTE, _requirement_errors
from evalkit.suite.schema import RetrievalSpec, TaskSpec


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
                elif isinstance(value, dict):  # a mapping of names to files (judges' `against`)
                    params[key] = {
                        k: str((path.parent / v).resolve())
                        if isinstance(v, str) and v and not Path(v).is_absolute()
                        else v
                        for k, v in value.items()
                    }
            # Parameters that default to the task's name (a pairwise judge's opponents' task).
            for key in getattr(cls, "task_params", ()):
                params.setdefault(key, spec.name)
            # A judge given as a file next to the suite (python:judge.py:grade) is found there.
            if "model" in getattr(cls, "model_params", ()) and isinstance(params.get("model"), str):
                params["model"] = _resolve_model(params["model"], path.parent)
            metric = cls.build(params)
            metric.judge_model()  # a judge metric without a judge fails here, with its line
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
    if spec.retriever is not None and "retrieve" in kinds:
        # Ranking metrics of a RAG task score its retriever's ranking; the model generates.
        kinds = (kinds - {"retrieve"}) or {"generate"}
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
    choosers = [e.key for e in entries if e.metric.builds_continuations]
    if choosers and spec.continuation is not None:
        raise ConfigError(
            f"{where}: {', '.join(choosers)} score(s) each choice as the continuation; remove "
            "the task's `continuation:` (the choices come from the metric's `choices` field)."
        )
    if choosers and len(entries) > len(choosers):
        others = ", ".join(e.key for e in entries if not e.metric.builds_continuations)
        raise ConfigError(
            f"{where}: {others} cannot share a task with {', '.join(choosers)}, which score "
            "several continuations per sample; put them in separate tasks."
        )
    if kind == "loglikelihood" and spec.continuation is None and not choosers:
        raise ConfigError(
            f"{where}: {', '.join(e.key for e in entries)} score a continuation; add "
            '`continuation: "{field}"` to the task.'
        )
    spec = _with_retriever_paths(spec, kind, index, path, root)
    return Task(
        spec=spec,
        metrics=tuple(entries),
        dataset_path=dataset_path,
        request_kind=kind,
        request_options=tuple(sorted(options.items())),
        model=_resolve_model(spec.model, path.parent),
    )


def _with_retriever_paths(
    spec: TaskSpec, kind: str, index: int, path: Path, root: yaml.Node | None
) -> TaskSpec:
    """The task spec with its retriever's corpus and model paths resolved (checked)."""
    r = spec.retriever
    if r is None:
        return spec
    loc: tuple[int | str, ...] = ("tasks", index, "retriever")
    where = f"{path}:{_line_of(root, loc)}: {_loc_to_path(loc)}"
    if kind != "generate":
        raise ConfigError(
            f"{where}: a retriever feeds passages to a generator; this task's metrics ask for "
            f"'{kind}' requests. Score them in a task without a retriever."
        )
    corpus = (path.parent / r.corpus).resolve()
    if not corpus.is_file():
        raise ConfigError(f"{where}.corpus: corpus file {corpus} not found; check the path.")
    model = _resolve_model(r.model, path.parent) or r.model
    return spec.model_copy(
        update={"retriever": r.model_copy(update={"corpus": str(corpus), "model": model})}
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


def _resolve_model(spec: str | None, base: Path) -> str | None:
    """``KIND:PATH`` (or ``python:FILE.py:FUNCTION``) with a relative path that exists next to
    the suite made absolute."""
    if spec is None:
        return None
    kind, sep, target = spec.partition(":")
    if kind == "python" and target.count(":") >= 1:  # python:FILE.py:FUNCTION
        file, _, attr = target.rpartition(":")
        if file.endswith(".py") and not Path(file).is_absolute() and (base / file).is_file():
            return f"python:{(base / file).resolve()}:{attr}"
        return spec
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
    for task in tasks:
        entries = task.metrics
        owner: dict[str, str] = {}
        for e in entries:  # a value name is what results rows, gates and comparisons go by
            for v in e.metric.value_names():
                if v in owner:
                    raise ConfigError(
                        f"{e.where}: {e.key} reports a value '{v}', which {owner[v]} reports too; "
                        "results, gates and comparisons would mix them up. Put one of the metrics "
                        "in a task of its own."
                    )
                owner[v] = e.key
    return Suite(path=p.resolve(), spec=spec, tasks=tasks)
