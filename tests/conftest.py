"""Shared fixtures: an isolated response cache and small suite builders."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "suites" / "quickstart.yaml"
SYS_A = ROOT / "suites" / "quickstart" / "sys_a.jsonl"
SYS_B = ROOT / "suites" / "quickstart" / "sys_b.jsonl"


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


def quickstart_copy(path: Path, edit: Callable[[str], str] = lambda t: t) -> Path:
    """Write an edited copy of the quickstart suite to ``path``, with its paths made absolute."""
    base = QUICKSTART.parent
    text = QUICKSTART.read_text(encoding="utf-8")
    # Dataset paths, image references and image models are relative to the suite's folder.
    text = re.sub(r"(path: |reference: |images:)(?=[a-z]+/)", rf"\g<1>{base}/", text)
    text = text.replace("hf:../models/", f"hf:{(base.parent / 'models').resolve()}/")
    path.write_text(edit(text), encoding="utf-8")
    return path


def quickstart_tasks(path: Path, keep: Sequence[str]) -> Path:
    """A copy of the quickstart suite (paths absolute) with only the tasks named in ``keep``."""
    import yaml

    quickstart_copy(path)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["tasks"] = [t for t in doc["tasks"] if t["name"] in keep]
    missing = set(keep) - {t["name"] for t in doc["tasks"]}
    if missing:
        raise ValueError(f"the quickstart suite has no task {sorted(missing)}")
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def write_exact_match_suite(path: Path, name: str) -> Path:
    """A one-task suite: exact match of ``{question}`` answers against ``answer`` in
    ``data.jsonl`` beside it, with 50 bootstrap resamples (quick)."""
    path.write_text(
        textwrap.dedent(f"""\
        name: {name}
        bootstrap: {{resamples: 50}}
        tasks:
          - name: t
            dataset: {{path: data.jsonl, id: id, references: answer}}
            prompt: "{{question}}"
            metrics: [exact_match]
        """),
        encoding="utf-8",
    )
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def make_suite(tmp_path: Path) -> Callable[..., Path]:
    """Write a one-task suite over a JSONL dataset; returns the suite path."""

    def make(
        rows: list[dict[str, Any]] | None = None,
        metrics: str = "[exact_match, token_f1]",
        extra: str = "",
        prompt: str = "{question}",
        name: str = "s.yaml",
    ) -> Path:
        if rows is None:
            rows = [{"id": str(i), "question": f"q{i}", "answer": f"a{i}"} for i in range(10)]
        write_jsonl(tmp_path / "data.jsonl", rows)
        suite = tmp_path / name
        suite.write_text(
            textwrap.dedent(f"""\
            name: test
            bootstrap: {{resamples: 200}}
            tasks:
              - name: t
                dataset: {{path: data.jsonl, id: id, references: answer}}
                prompt: "{prompt}"
                metrics: {metrics}
            """)
            + extra,
            encoding="utf-8",
        )
        return suite

    return make
