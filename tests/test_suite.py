"""Suite loading: safe YAML, schema errors with file, line, path and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.errors import ConfigError
from evalkit.suite import load_suite
from tests.conftest import QUICKSTART


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "suite.yaml"
    p.write_text(text, encoding="utf-8")
    return p


BASE = """name: s
tasks:
  - name: t
    dataset: {path: d.jsonl}
    metrics:
"""


def test_quickstart_loads_and_builds_metrics() -> None:
    suite = load_suite(QUICKSTART)
    assert [t.name for t in suite.tasks] == [
        "translate",
        "summarize",
        "qa",
        "lm_step0075",
        "lm_step0600",
        "stereotype",
        "diversity",
        "digits",
    ]
    assert all(str(t.model).startswith("hf:/") for t in suite.tasks[3:-1])
    assert str(suite.tasks[-1].model).startswith("images:/")  # resolved next to the suite
    assert [e.key for e in suite.tasks[0].metrics] == ["bleu", "chrf", "ter", "meteor", "bertscore"]
    assert len(suite.fingerprint()) == 64


def test_unknown_metric_names_line_path_and_suggestion(tmp_path: Path) -> None:
    p = _write(tmp_path, BASE + "      - bleu\n      - exact_mach\n")
    with pytest.raises(ConfigError) as err:
        load_suite(p)
    msg = str(err.value)
    assert f"{p}:7: tasks[0].metrics[1]" in msg
    assert "Did you mean 'exact_match'?" in msg


def test_unknown_metric_parameter(tmp_path: Path) -> None:
    p = _write(tmp_path, BASE + "      - bleu: {tokenise: 13a}\n")
    with pytest.raises(ConfigError) as err:
        load_suite(p)
    msg = str(err.value)
    assert "tasks[0].metrics[0].bleu" in msg and ":6:" in msg
    assert "unknown parameter 'tokenise'" in msg and "Did you mean 'tokenize'?" in msg


def test_bad_metric_parameter_value(tmp_path: Path) -> None:
    p = _write(tmp_path, BASE + "      - bleu: {tokenize: no-such-tokenizer}\n")
    with pytest.raises(ConfigError, match=r"tasks\[0\]\.metrics\[0\]\.bleu"):
        load_suite(p)


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    p = _write(tmp_path, "name: s\ntasks:\n  - name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"suite\.yaml:\d+: invalid YAML"):
        load_suite(p)


def test_python_object_tag_is_refused(tmp_path: Path) -> None:
    p = _write(tmp_path, "name: !!python/object/apply:os.system ['echo pwned']\ntasks: []\n")
    with pytest.raises(ConfigError, match="tags that build Python objects are refused"):
        load_suite(p)


def test_unknown_key_with_suggestion_and_line(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        BASE.replace("    dataset:", "    datset: {path: x}\n    dataset:") + "      - bleu\n",
    )
    with pytest.raises(ConfigError) as err:
        load_suite(p)
    msg = str(err.value)
    assert "suite.yaml:4: tasks[0].datset: unknown key 'datset'. Did you mean 'dataset'?" in msg


def test_missing_required_key(tmp_path: Path) -> None:
    p = _write(tmp_path, "name: s\ntasks:\n  - name: t\n    metrics: [bleu]\n")
    with pytest.raises(ConfigError, match=r"tasks\[0\]\.dataset: required key 'dataset'"):
        load_suite(p)


def test_wrong_type(tmp_path: Path) -> None:
    p = _write(tmp_path, BASE.replace("name: s\n", "name: s\nseed: lots\n") + "      - bleu\n")
    with pytest.raises(ConfigError, match=r"suite\.yaml:2: seed: "):
        load_suite(p)


def test_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_suite(_write(tmp_path, "- just\n- a list\n"))


def test_missing_suite_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="suite file not found"):
        load_suite(tmp_path / "nope.yaml")


def test_prompt_with_attribute_lookup_is_refused(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        BASE.replace("    metrics:", '    prompt: "{q.__class__}"\n    metrics:')
        + "      - bleu\n",
    )
    with pytest.raises(ConfigError, match="plain field name"):
        load_suite(p)


def test_gate_on_unknown_value(tmp_path: Path) -> None:
    p = _write(tmp_path, BASE + "      - rouge\n    gates:\n      - {metric: rougel, min: 0.3}\n")
    with pytest.raises(ConfigError, match="Did you mean 'rougeL'"):
        load_suite(p)


def test_duplicate_task_names(tmp_path: Path) -> None:
    text = (
        BASE + "      - bleu\n" + "  - name: t\n    dataset: {path: d.jsonl}\n    metrics: [bleu]\n"
    )
    with pytest.raises(ConfigError, match="task names must be unique"):
        load_suite(_write(tmp_path, text))


def test_two_metrics_reporting_one_value_name_are_refused(tmp_path: Path) -> None:
    # Both judges report length_corr: results rows and gates go by value name.
    p = _write(
        tmp_path,
        BASE
        + "      - judge: {model: 'scripted:v.json'}\n"
        + "      - judge_pairwise: {model: 'scripted:v.json', against: {b: {}}}\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_suite(p)
    msg = str(exc.value)
    assert "suite.yaml:" in msg and "judge_pairwise reports a value 'length_corr'" in msg
    assert "judge reports too" in msg and "task of its own" in msg
