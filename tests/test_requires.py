"""Metric requirements (``Metric.requires``) that a task's settings must provide are refused
when the suite loads, before any model call; the model's part and unknown tokens are not."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import pytest

from evalkit.errors import ConfigError
from evalkit.metrics.base import MeanMetric
from evalkit.registry import METRICS
from evalkit.suite import SUITE_REQUIREMENTS, load_suite
from evalkit.types import Sample, Stats
from tests.conftest import ROOT, write_jsonl

ROWS = [
    {"id": "1", "source": "le chat", "ref": "the cat", "other": "a cat", "qrels": {"d1": 1}},
    {"id": "2", "source": "le chien", "ref": "the dog", "other": "a dog", "qrels": {"d2": 1}},
]


def _suite(tmp_path: Path, tasks: str) -> Path:
    """A suite over ROWS (``d.jsonl``) with the given ``tasks:`` body."""
    write_jsonl(tmp_path / "d.jsonl", ROWS)
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nbootstrap: {resamples: 0}\ntasks:\n" + tasks, encoding="utf-8")
    return path


BLEU_NO_REFS = """\
  - name: t
    dataset: {path: d.jsonl, id: id}
    prompt: "{source}"
    metrics:
      - distinct_n
      - bleu: {tokenize: 13a}
"""


def _refused(path: Path) -> str:
    with pytest.raises(ConfigError) as err:
        load_suite(path)
    return str(err.value)


def test_bleu_without_references_names_the_place_and_the_fix(tmp_path: Path) -> None:
    path = _suite(tmp_path, BLEU_NO_REFS)
    msg = _refused(path)
    first = msg.splitlines()[0]
    assert first.startswith(f"{path}:9: tasks[0].metrics[1].bleu: bleu requires 'references'")
    assert "add `references: FIELD` to the task's dataset" in first
    assert "distinct_n" not in msg  # it needs predictions only
    assert "checked by `evalkit run` once the model is known" in msg.splitlines()[-1]


def test_mapping_the_references_field_makes_it_valid(tmp_path: Path) -> None:
    text = BLEU_NO_REFS.replace("id: id}", "id: id, references: ref}")
    suite = load_suite(_suite(tmp_path, text))
    assert [e.key for e in suite.tasks[0].metrics] == ["distinct_n", "bleu"]


@pytest.mark.parametrize("field", ["references", "reference"])
def test_a_default_reference_field_in_the_data_satisfies_it(tmp_path: Path, field: str) -> None:
    """Rows with a ``references``/``reference`` field give references without a mapping (the
    loader's default), so such a suite stays valid; without it the suite is refused."""
    path = _suite(tmp_path, BLEU_NO_REFS)
    write_jsonl(tmp_path / "d.jsonl", [{**row, field: row["ref"]} for row in ROWS])
    assert [e.key for e in load_suite(path).tasks[0].metrics] == ["distinct_n", "bleu"]
    write_jsonl(tmp_path / "d.jsonl", ROWS)
    assert "requires 'references'" in _refused(path)


def test_every_missing_requirement_is_listed_once(tmp_path: Path) -> None:
    tasks = BLEU_NO_REFS.replace("      - distinct_n\n", "      - rouge\n") + (
        "  - name: cf\n"
        "    dataset: {path: d.jsonl, id: id}\n"
        '    prompt: "{source}"\n'
        "    metrics: [counterfactual_gap]\n"
    )
    lines = _refused(_suite(tmp_path, tasks)).splitlines()
    assert [ln.split(": ")[1] for ln in lines[:-1]] == [
        "tasks[0].metrics[0]",
        "tasks[0].metrics[1].bleu",
        "tasks[1].metrics[0]",
    ]
    assert "rouge requires 'references'" in lines[0]
    assert "counterfactual_gap requires 'variants'" in lines[2]
    assert 'add `prompt_variants: ["{field}"]` to the task' in lines[2]


def test_prompt_variants_provide_variants(tmp_path: Path) -> None:
    tasks = (
        "  - name: cf\n"
        "    dataset: {path: d.jsonl, id: id}\n"
        '    prompt: "{source}"\n'
        '    prompt_variants: ["{other}"]\n'
        "    metrics: [counterfactual_gap]\n"
    )
    assert load_suite(_suite(tmp_path, tasks)).tasks[0].spec.prompt_variants == ["{other}"]


def test_ranking_metric_without_qrels_is_refused(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "corpus.jsonl", [{"id": "d1", "text": "cat"}, {"id": "d2", "text": "dog"}]
    )
    tasks = (
        "  - name: r\n"
        "    dataset: {path: d.jsonl, id: id}\n"
        '    prompt: "{source}"\n'
        "    retrieval: {corpus: corpus.jsonl, depth: 2}\n"
        "    metrics: [ndcg]\n"
    )
    path = _suite(tmp_path, tasks)
    msg = _refused(path)
    assert f"{path}:5: tasks[0].dataset:" in msg and "`qrels: FIELD`" in msg
    fixed = path.read_text().replace("id: id}", "id: id, qrels: qrels}")
    path.write_text(fixed, encoding="utf-8")
    assert load_suite(path).tasks[0].request_kind == "retrieve"


def test_model_side_requirements_are_left_to_run_time(tmp_path: Path) -> None:
    """Predictions, rankings, images, embeddings and log-likelihoods come from the model,
    which the suite does not know: such tasks load without any dataset mapping."""
    tasks = (
        "  - name: lm\n    dataset: {path: d.jsonl, id: id}\n"
        '    prompt: "{source}"\n    metrics: [perplexity]\n'
        "  - name: w\n    dataset: {path: d.jsonl, id: id}\n"
        '    prompt: "{source}"\n    metrics: [weat]\n'
        "  - name: div\n    dataset: {path: d.jsonl, id: id}\n"
        '    prompt: "{source}"\n    metrics: [distinct_n, self_bleu]\n'
    )
    suite = load_suite(_suite(tmp_path, tasks))
    assert [t.request_kind for t in suite.tasks] == ["loglikelihood_rolling", "embed", "generate"]
    served = {"prediction", "ranking", "image", "embed", "loglikelihood_rolling"}
    assert not served & set(SUITE_REQUIREMENTS)


class LexiconHits(MeanMetric):
    """A third-party metric with a requirement token evalkit does not know."""

    name: ClassVar[str] = "lexicon_hits"
    requires: ClassVar[frozenset[str]] = frozenset({"prediction", "sentiment_lexicon"})

    def value_names(self) -> tuple[str, ...]:
        return ("lexicon_hits",)

    def sample_stats(self, batch: Sequence[Sample]) -> list[Stats]:
        return [[float("cat" in (s.prediction or ""))] for s in batch]


class PluginOverlap(LexiconHits):
    """A third-party metric that needs references like the builtin text metrics."""

    name: ClassVar[str] = "plugin_overlap"
    requires: ClassVar[frozenset[str]] = frozenset({"prediction", "references"})


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Install LexiconHits and PluginOverlap as ``evalkit.metrics`` entry points."""
    points = [
        metadata.EntryPoint(name, f"tests.test_requires:{attr}", "evalkit.metrics")
        for name, attr in (("lexicon_hits", "LexiconHits"), ("plugin_overlap", "PluginOverlap"))
    ]
    real = metadata.entry_points

    def fake(**kwargs: str) -> Any:
        return points if kwargs.get("group") == "evalkit.metrics" else real(**kwargs)

    monkeypatch.setattr(metadata, "entry_points", fake)
    # Leave the process-wide registry as it was after the test.
    monkeypatch.setattr(METRICS, "_lazy", dict(METRICS._lazy))
    monkeypatch.setattr(METRICS, "_loaded", dict(METRICS._loaded))
    monkeypatch.setattr(METRICS, "_entry_points_read", False)


@pytest.mark.usefixtures("plugins")
def test_an_unknown_requirement_token_is_not_refused(tmp_path: Path) -> None:
    tasks = (
        "  - name: t\n    dataset: {path: d.jsonl, id: id}\n"
        '    prompt: "{source}"\n    metrics: [lexicon_hits]\n'
    )
    suite = load_suite(_suite(tmp_path, tasks))
    assert isinstance(suite.tasks[0].metrics[0].metric, LexiconHits)


@pytest.mark.usefixtures("plugins")
def test_a_plugin_needing_references_is_checked_like_a_builtin(tmp_path: Path) -> None:
    tasks = (
        "  - name: t\n    dataset: {path: d.jsonl, id: id}\n"
        '    prompt: "{source}"\n    metrics: [lexicon_hits, plugin_overlap]\n'
    )
    msg = _refused(_suite(tmp_path, tasks))
    assert "tasks[0].metrics[1]: plugin_overlap requires 'references'" in msg
    assert "lexicon_hits" not in msg


@pytest.mark.parametrize("path", sorted((ROOT / "suites").glob("*.yaml")), ids=lambda p: p.stem)
def test_bundled_suites_provide_what_their_metrics_require(path: Path) -> None:
    assert load_suite(path).tasks


# ------------------------------------------------------------------------------ the CLI

MODEL = """\
from pathlib import Path

def answer(prompts):
    Path(__file__).with_name("called").write_text("yes")
    return ["the cat" for _ in prompts]
"""


def _evalkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evalkit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=120,
    )


def test_cli_validate_and_run_exit_2_before_any_model_call(tmp_path: Path) -> None:
    suite = _suite(tmp_path, BLEU_NO_REFS)
    (tmp_path / "model.py").write_text(MODEL, encoding="utf-8")
    checked = _evalkit("validate", str(suite), cwd=ROOT)
    assert checked.returncode == 2, checked.stderr
    assert "tasks[0].metrics[1].bleu: bleu requires 'references'" in checked.stderr
    assert "add `references: FIELD`" in checked.stderr and "Traceback" not in checked.stderr
    out = tmp_path / "run"
    ran = _evalkit(
        "run", str(suite), "--model", f"python:{tmp_path / 'model.py'}:answer", "--out", str(out),
        "--no-cache", "-q", cwd=ROOT,
    )  # fmt: skip
    assert ran.returncode == 2, ran.stderr
    assert "bleu requires 'references'" in ran.stderr
    assert not (tmp_path / "called").exists() and not out.exists()
    # With the field mapped, the same model runs and is called.
    suite.write_text(suite.read_text().replace("id: id}", "id: id, references: ref}"))
    ran = _evalkit(
        "run", str(suite), "--model", f"python:{tmp_path / 'model.py'}:answer", "--out", str(out),
        "--no-cache", "-q", cwd=ROOT,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "called").read_text() == "yes"
