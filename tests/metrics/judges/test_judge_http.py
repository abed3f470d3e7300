"""The ``judge`` metric against a real HTTP judge: the loopback OpenAI-compatible server.

A predictions-file task is judged by ``openai:judge`` served by
:class:`~evalkit.testing.OpenAIServer`, whose backend answers each judge prompt
(``Grade: PREDICTION``) with a scripted verdict chosen by the prediction. Faults come from the
server's ``per_prompt`` plan, so every retry, failure and cache hit is counted on the server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from evalkit.runner import run_suite
from evalkit.testing import OpenAIServer
from evalkit.testing.backends import Backend, ScriptedBackend, TokenScore
from evalkit.testing.openai_server import Fault
from evalkit.types import sample_seed
from tests.conftest import write_jsonl

TEMPLATE = "Grade: {prediction}"
CRITERIA = [{"name": "acc", "scale": [1, 5]}, {"name": "clar", "scale": [1, 5]}]

#: prediction -> the judge's answer (a verdict, malformed or not).
VERDICTS = {
    "alpha": '{"acc": 5, "clar": 3, "reasoning": "fine"}',  # total 4
    "beta": '```json\n{"acc": 2, "clar": 2}\n```',  # total 2
    "gamma": "Looks great to me!",  # not JSON: unparsed
    "delta": '{"acc": 4}',  # missing:clar
    "eps": '{"acc": 7, "clar": 1}',  # out_of_scale:acc (1-5)
    "zeta": "I cannot evaluate this.",  # a refusal: unparsed
}


class VerdictBackend(Backend):
    """Answers ``Grade: PREDICTION`` with ``VERDICTS[PREDICTION]`` (the scripted scorer else)."""

    def __init__(self, verdicts: Mapping[str, str]) -> None:
        self.verdicts = dict(verdicts)
        self.scripted = ScriptedBackend()

    def generate(
        self,
        prompt: str,
        *,
        max_tokens: int | None,
        temperature: float,
        stop: Sequence[str],
        seed: int | None,
    ) -> tuple[str, str]:
        answer = prompt.rsplit(":", 1)[-1].strip()
        return self.verdicts.get(answer, "no verdict for this answer"), "stop"

    def score(self, text: str) -> list[TokenScore]:
        return self.scripted.score(text)

    def score_continuation(self, prompt: str, continuation: str) -> list[TokenScore]:
        return self.scripted.score_continuation(prompt, continuation)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EVALKIT_INDEX", str(tmp_path / "index.sqlite"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    yield


def make_task(
    tmp_path: Path, preds: Sequence[str], url: str, template: str = TEMPLATE, **options: Any
) -> tuple[Path, Path]:
    """A suite judging ``preds`` (one sample each) and its predictions file."""
    rows = [{"id": str(i), "q": f"question {i}", "a": "ref"} for i in range(len(preds))]
    write_jsonl(tmp_path / "data.jsonl", rows)
    pred_file = write_jsonl(
        tmp_path / "preds.jsonl",
        [{"task": "t", "id": str(i), "prediction": p} for i, p in enumerate(preds)],
    )
    opts = {"base_url": url, "backoff_base_s": 0.01, "timeout_s": 5.0, **options}
    judge = {
        "model": "openai:judge",
        "model_options": opts,
        "template": template,
        "criteria": CRITERIA,
    }
    doc = {
        "name": "judged",
        "bootstrap": {"resamples": 20},
        "tasks": [
            {
                "name": "t",
                "dataset": {"path": "data.jsonl", "id": "id", "references": "a"},
                "prompt": "{q}",
                "metrics": [{"judge": judge}],
            }
        ],
    }
    suite = tmp_path / "s.yaml"
    suite.write_text(json.dumps(doc, indent=1), encoding="utf-8")  # JSON is YAML
    return suite, pred_file


def values(run: Path) -> dict[str, float]:
    results = json.loads((run / "results.json").read_text("utf-8"))
    return {
        str(r["metric"]): float(r["value"])
        for r in results["results"]
        if str(r["signature"]).startswith("judge|") and r["value"] is not None
    }


def lines(run: Path) -> dict[str, dict[str, Any]]:
    out = [json.loads(x) for x in (run / "samples.jsonl").read_text("utf-8").splitlines()]
    return {line["id"]: line for line in out}


def judge_requests(server: OpenAIServer) -> list[str]:
    return [str(r.prompt) for r in server.requests if r.path.endswith("/chat/completions")]


def test_malformed_verdicts_and_refusals_are_counted_never_scored(tmp_path: Path) -> None:
    preds = list(VERDICTS)
    with OpenAIServer(VerdictBackend(VERDICTS), max_lifetime_s=60) as srv:
        suite, pred_file = make_task(tmp_path, preds, srv.url)
        outcome = run_suite(suite, f"predictions:{pred_file}", tmp_path / "run", use_cache=False)
        assert sorted(judge_requests(srv)) == sorted(f"Grade: {p}" for p in preds)
        body = srv.requests[0].body
    assert {k: body[k] for k in ("model", "max_tokens", "temperature", "seed")} == {
        "model": "judge",
        "max_tokens": 512,
        "temperature": 0.0,
        "seed": sample_seed(0, 0),
    }
    assert outcome.exit_code == 0
    v = values(tmp_path / "run")
    # Only alpha (5, 3) and beta (2, 2) parse: the mean of their totals, 4 and 2.
    assert v["score"] == pytest.approx(3.0)
    assert v["acc"] == pytest.approx(3.5)
    assert v["clar"] == pytest.approx(2.5)
    assert v["judge_failure_rate"] == pytest.approx(4 / 6)
    assert v["unscored"] == 4
    by_id = lines(tmp_path / "run")
    kinds = [by_id[str(i)]["stats"]["judge"]["j"] for i in range(len(preds))]
    assert kinds == [
        [[5.0, 3.0]],
        [[2.0, 2.0]],
        ["unparsed"],
        ["missing:clar"],
        ["out_of_scale:acc"],
        ["unparsed"],
    ]
    for i, p in enumerate(preds):
        (j,) = by_id[str(i)]["judgments"]["judge"]
        assert j["text"] == VERDICTS[p]  # the raw text is kept, malformed or not
        assert j["error"] is None and j["cached"] is False
        assert by_id[str(i)]["prediction"] == p
    assert "I cannot evaluate this." in by_id["5"]["warnings"]["judge"]


def test_rate_limits_are_retried_and_dead_judges_are_counted(tmp_path: Path) -> None:
    faults: dict[str, Sequence[Fault | str | None]] = {
        "Grade: alpha": [Fault("429", retry_after="1"), "429"],
        "Grade: beta": ["500", "500", "500"],
    }
    backend = VerdictBackend(VERDICTS)
    with OpenAIServer(backend, per_prompt=faults, max_lifetime_s=60) as srv:
        suite, pred_file = make_task(tmp_path, ["alpha", "beta"], srv.url, max_attempts=3)
        started = time.monotonic()
        outcome = run_suite(suite, f"predictions:{pred_file}", tmp_path / "run", use_cache=False)
        elapsed = time.monotonic() - started
        seen = judge_requests(srv)
        statuses = {p: [r.status for r in srv.requests if r.prompt == p] for p in faults}
    assert outcome.exit_code == 0
    assert seen.count("Grade: alpha") == 3 and seen.count("Grade: beta") == 3
    assert statuses == {"Grade: alpha": [429, 429, 200], "Grade: beta": [500, 500, 500]}
    assert elapsed >= 1.0  # Retry-After: 1 was honoured
    by_id = lines(tmp_path / "run")
    assert by_id["0"]["stats"]["judge"]["j"] == [[5.0, 3.0]]
    assert by_id["1"]["stats"]["judge"]["j"] == ["call"]
    (failed,) = by_id["1"]["judgments"]["judge"]
    assert failed["text"] is None and "500" in str(failed["error"])
    assert [by_id[i]["prediction"] for i in ("0", "1")] == ["alpha", "beta"]
    v = values(tmp_path / "run")
    assert v["score"] == pytest.approx(4.0)
    assert v["judge_failure_rate"] == pytest.approx(0.5)
    assert v["unscored"] == 1


def test_second_run_is_served_from_the_cache(tmp_path: Path) -> None:
    preds = ["alpha", "beta", "gamma"]
    with OpenAIServer(VerdictBackend(VERDICTS), max_lifetime_s=60) as srv:
        suite, pred_file = make_task(tmp_path, preds, srv.url)
        run_suite(suite, f"predictions:{pred_file}", tmp_path / "r1")
        first = len(srv.requests)
        run_suite(suite, f"predictions:{pred_file}", tmp_path / "r2")
        assert len(srv.requests) == first == 3  # nothing new reached the judge
        for line in lines(tmp_path / "r2").values():
            assert [j["cached"] for j in line["judgments"]["judge"]] == [True]
        assert values(tmp_path / "r2") == values(tmp_path / "r1")
        # Another template is another judge prompt: every sample is asked again.
        suite, pred_file = make_task(tmp_path, preds, srv.url, template="Rate: {prediction}")
        run_suite(suite, f"predictions:{pred_file}", tmp_path / "r3")
        assert sorted(judge_requests(srv)[first:]) == sorted(f"Rate: {p}" for p in preds)
    assert all(
        j["cached"] is False
        for line in lines(tmp_path / "r3").values()
        for j in line["judgments"]["judge"]
    )
    assert values(tmp_path / "r3")["score"] == pytest.approx(3.0)


class SeededBackend(VerdictBackend):
    """Gives accuracy 5 to the first repeat's seed and 3 to any other (clarity 3)."""

    def generate(
        self,
        prompt: str,
        *,
        max_tokens: int | None,
        temperature: float,
        stop: Sequence[str],
        seed: int | None,
    ) -> tuple[str, str]:
        acc = 5 if seed == sample_seed(0, 0) else 3
        return json.dumps({"acc": acc, "clar": 3}), "stop"


def test_repeats_are_seeded_apart_and_give_self_consistency(tmp_path: Path) -> None:
    with OpenAIServer(SeededBackend(VERDICTS), max_lifetime_s=60) as srv:
        suite, pred_file = make_task(tmp_path, ["alpha", "beta"], srv.url)
        doc = json.loads(suite.read_text("utf-8"))
        doc["tasks"][0]["metrics"][0]["judge"].update(repeats=2, temperature=0.5)
        suite.write_text(json.dumps(doc), encoding="utf-8")
        run_suite(suite, f"predictions:{pred_file}", tmp_path / "run", use_cache=False)
        sent = sorted((r.prompt, r.body["seed"], r.body["temperature"]) for r in srv.requests)
    seeds = sorted({s for s in (sample_seed(0, 0), sample_seed(0, 1)) if s is not None})
    assert len(seeds) == 2
    assert sent == [(f"Grade: {p}", s, 0.5) for p in ("alpha", "beta") for s in seeds]
    by_id = lines(tmp_path / "run")
    assert by_id["0"]["stats"]["judge"]["j"] == [[5.0, 3.0], [3.0, 3.0]]
    v = values(tmp_path / "run")
    assert v["score"] == pytest.approx(3.5)  # totals 4 and 3 in each sample
    assert v["repeat_sd"] == pytest.approx(0.5**0.5)
    assert v["repeat_agreement"] == 0.0
