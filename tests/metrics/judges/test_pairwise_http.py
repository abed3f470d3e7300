"""``judge_pairwise`` against a real HTTP judge: the loopback OpenAI-compatible server.

The judge prompt is ``A: X | B: Y``; the backend prefers the answer that names Paris, and
answers a tie with ``A`` (a position bias), so both orders matter. Faults come from the
server's ``per_prompt`` plan: a rate limit that is retried, and a judge that stays down.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from evalkit.runner import run_suite
from evalkit.testing import OpenAIServer
from evalkit.testing.backends import ScriptedBackend
from evalkit.testing.openai_server import Fault
from tests.conftest import write_jsonl

TEMPLATE = "A: {output_a} | B: {output_b}"


def prefer_paris(prompt: str) -> str:
    """``{"winner": ...}`` for the answer naming Paris; ``A`` when neither or both do."""
    a, b = prompt.removeprefix("A: ").split(" | B: ")
    if "garbled" in prompt:
        return "Answer A, clearly."
    return json.dumps({"winner": "B" if "Paris" in b and "Paris" not in a else "A"})


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EVALKIT_INDEX", str(tmp_path / "index.sqlite"))
    yield


def _suite(tmp: Path, url: str, mine: list[str], theirs: list[Any]) -> tuple[Path, Path]:
    write_jsonl(tmp / "data.jsonl", [{"id": str(i), "q": f"q{i}"} for i in range(len(mine))])
    preds = write_jsonl(
        tmp / "mine.jsonl", [{"id": str(i), "prediction": p} for i, p in enumerate(mine)]
    )
    rows = [
        {"id": str(i), "prediction": "", "error": "HTTP 503"}
        if t is None
        else {"id": str(i), "prediction": t}
        for i, t in enumerate(theirs)
    ]
    write_jsonl(tmp / "theirs.jsonl", rows)
    judge = {
        "model": "openai:judge",
        "model_options": {"base_url": url, "backoff_base_s": 0.01, "max_attempts": 3},
        "template": TEMPLATE,
        "against": {"theirs": "theirs.jsonl"},
    }
    doc = {
        "name": "pairs",
        "bootstrap": {"resamples": 20},
        "tasks": [
            {
                "name": "t",
                "dataset": {"path": "data.jsonl", "id": "id"},
                "prompt": "{q}",
                "metrics": [{"judge_pairwise": judge}],
            }
        ],
    }
    suite = tmp / "s.yaml"
    suite.write_text(json.dumps(doc), encoding="utf-8")
    return suite, preds


def _values(run: Path) -> dict[str, float]:
    doc = json.loads((run / "results.json").read_text("utf-8"))
    return {r["metric"]: r["value"] for r in doc["results"]}


def test_both_orders_are_asked_and_faults_are_counted(tmp_path: Path) -> None:
    mine = ["Paris", "Lyon", "Paris too", "garbled", "Nice"]
    theirs = ["Lyon", "Paris it is", "Paris", "x", None]
    faults: dict[str, Sequence[Fault | str | None]] = {
        "A: Paris | B: Lyon": [Fault("429", retry_after="0"), None],
        "A: Paris it is | B: Lyon": ["500", "500", "500"],  # sample 1 as B: stays down
    }
    with OpenAIServer(ScriptedBackend(prefer_paris), per_prompt=faults, max_lifetime_s=60) as srv:
        suite, preds = _suite(tmp_path, srv.url, mine, theirs)
        outcome = run_suite(suite, f"predictions:{preds}", tmp_path / "run", use_cache=False)
        asked = [str(r.prompt) for r in srv.requests if r.path.endswith("/chat/completions")]
    assert outcome.exit_code == 0
    # Each judged pair in both orders; sample 4's opponent failed, so it is never asked.
    assert len(asked) == 8 + 1 + 2
    assert sorted(set(asked)) == sorted(
        f"A: {a} | B: {b}"
        for x, y in zip(mine[:4], theirs[:4], strict=True)
        for a, b in ((x, y), (y, x))
    )
    assert asked.count("A: Paris | B: Lyon") == 2  # the 429, then the answer
    assert asked.count("A: Paris it is | B: Lyon") == 3  # three attempts, then counted
    lines = {
        json.loads(x)["id"]: json.loads(x)
        for x in (tmp_path / "run" / "samples.jsonl").read_text("utf-8").splitlines()
    }
    assert lines["0"]["stats"]["judge_pairwise"]["p"] == [[[1.0], [1.0]]]
    assert lines["1"]["stats"]["judge_pairwise"]["p"] == [[[0.0], ["call"]]]
    assert lines["2"]["stats"]["judge_pairwise"]["p"] == [[[1.0], [0.0]]]  # a flip
    assert lines["3"]["stats"]["judge_pairwise"]["p"] == [[["unparsed"], ["unparsed"]]]
    assert lines["4"]["stats"]["judge_pairwise"]["p"] == [None]
    v = _values(tmp_path / "run")
    assert v["win_rate"] == pytest.approx((1.0 + 0.0 + 0.5) / 3)
    assert v["flip_rate"] == pytest.approx(1 / 2)  # samples 0 and 2 parsed in both orders
    assert v["judge_failure_rate"] == pytest.approx(3 / 8)
    assert v["opponent_failure_rate"] == pytest.approx(1 / 5)
