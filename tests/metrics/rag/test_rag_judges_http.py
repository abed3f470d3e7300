"""RAG judges against a real HTTP judge: the loopback OpenAI-compatible server.

One task is scored by ``faithfulness`` with ``verifier: judge`` and by ``context_relevance``,
both judged by ``openai:judge`` on the loopback server. Its rule: a passage is relevant when it
shares a word of four letters or more with the question; a claim is supported when every such
word of it is in the passages. A rate limit is retried, a dead judge and a malformed verdict
are counted, never scored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from evalkit.metrics.rag.faithfulness import Faithfulness
from evalkit.metrics.rag.relevance import ContextRelevance
from evalkit.runner import run_suite
from evalkit.testing import OpenAIServer
from evalkit.testing.backends import ScriptedBackend
from evalkit.testing.openai_server import Fault
from evalkit.types import Sample
from tests.conftest import write_jsonl


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 4}


def rule(prompt: str) -> str:
    if "[Passage]" in prompt:  # context_relevance's default template
        question = prompt.split("[Question]\n", 1)[1].split("\n\n[Passage]", 1)[0]
        passage = prompt.split("[Passage]\n", 1)[1].split("\n\n[End]", 1)[0]
        if "garbled" in passage:
            return "Relevant, I would say."
        return json.dumps({"relevant": bool(_words(question) & _words(passage))})
    context = prompt.split("Passages:\n", 1)[1].split("\n\nClaim: ", 1)[0]
    claim = prompt.split("\n\nClaim: ", 1)[1].split("\n\n", 1)[0]
    return json.dumps({"supported": _words(claim) <= _words(context)})


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EVALKIT_INDEX", str(tmp_path / "index.sqlite"))
    yield


def test_faithfulness_and_context_relevance_judged_over_http(tmp_path: Path) -> None:
    rows = [
        ("q1", "Which river flows through Paris?", "The Seine flows through Paris.",
         ["The Seine river flows through Paris.", "Tokyo is large."]),
        ("q2", "How tall is Everest?", "Everest is 8849 metres tall. Climbers love dragons.",
         ["Everest is 8849 metres tall.", "garbled passage"]),
    ]  # fmt: skip
    write_jsonl(tmp_path / "data.jsonl", [{"id": i, "question": q} for i, q, _, _ in rows])
    write_jsonl(
        tmp_path / "preds.jsonl",
        [{"id": i, "prediction": a, "outputs": {"contexts": c}} for i, _, a, c in rows],
    )

    # The exact prompts the metrics will send, for the server's fault plan.
    def prompts(metric: Faithfulness | ContextRelevance, i: int) -> list[str]:
        _, question, answer, ctx = rows[i]
        s = Sample(rows[i][0], prompt=question, prediction=answer, outputs={"contexts": ctx})
        return [str(r.prompt) for r in metric.judge_requests(s)]

    tokyo = prompts(ContextRelevance(model="openai:judge"), 0)[1]
    dragons = prompts(Faithfulness(verifier="judge", model="openai:judge"), 1)[1]
    assert "Tokyo" in tokyo and "dragons" in dragons
    faults: dict[str, Sequence[Fault | str | None]] = {
        tokyo: [Fault("429", retry_after="0"), None],  # retried, then answered
        dragons: ["500", "500"],  # the judge stays down for this claim: a counted failure
    }
    with OpenAIServer(ScriptedBackend(rule), per_prompt=faults, max_lifetime_s=60) as srv:
        opts = {"base_url": srv.url, "backoff_base_s": 0.01, "max_attempts": 2}
        judge = {"model": "openai:judge", "model_options": opts}
        doc = {
            "name": "rag_http",
            "bootstrap": {"resamples": 20},
            "tasks": [
                {
                    "name": "t",
                    "dataset": {"path": "data.jsonl", "id": "id"},
                    "prompt": "{question}",
                    "metrics": [
                        {"faithfulness": {"verifier": "judge", **judge}},
                        {"context_relevance": judge},
                    ],
                }
            ],
        }
        suite = tmp_path / "s.yaml"
        suite.write_text(json.dumps(doc), encoding="utf-8")
        outcome = run_suite(suite, f"predictions:{tmp_path / 'preds.jsonl'}", tmp_path / "run",
                            use_cache=False)  # fmt: skip
        asked = [str(r.prompt) for r in srv.requests if r.path.endswith("/chat/completions")]
    assert outcome.exit_code == 0
    # faithfulness: one prompt per claim (1 + 2); relevance: one per passage (2 + 2); and the
    # retries: the 429 once, the dead judge's second attempt
    assert asked.count(tokyo) == 2 and asked.count(dragons) == 2
    assert sum("Claim: " in p for p in asked) == 3 + 1
    assert sum("[Passage]" in p for p in asked) == 4 + 1
    lines = {
        json.loads(x)["id"]: json.loads(x)
        for x in (tmp_path / "run" / "samples.jsonl").read_text("utf-8").splitlines()
    }
    assert lines["q1"]["stats"]["context_relevance"]["v"] == [[1.0], [0.0]]
    assert lines["q2"]["stats"]["context_relevance"]["v"] == [[1.0], ["unparsed"]]
    # the claim whose judge stayed down is a counted failure, neither supported nor not
    q2 = lines["q2"]["stats"]["faithfulness"]
    assert q2["failures"] == {"call": 1} and q2["unsupported"] == [] and q2["supported"] == 1
    results = json.loads((tmp_path / "run" / "results.json").read_text("utf-8"))
    v = {r["metric"]: r["value"] for r in results["results"]}
    # every judged claim is supported; the failed one is left out, not counted unsupported
    assert v["faithfulness"] == 1.0
    assert v["judge_failure_rate"] == pytest.approx(1 / 3)
    # q2 has a passage without a verdict: unscored, never a guess
    assert v["context_relevance"] == pytest.approx(0.5)  # q1: relevant, then not
    assert v["context_precision_llm"] == 1.0
    assert v["relevance_unscored"] == 1
    assert v["relevance_failure_rate"] == pytest.approx(1 / 4)


def split_rule(prompt: str) -> str:
    """The loopback judge for claims, claim checks and answer relevance."""
    if prompt.startswith("Split the answer"):  # faithfulness's claims template
        answer = prompt.split("[Answer]\n", 1)[1].split("\n[End]", 1)[0]
        if "riddle" in answer:
            return "Here are the claims: one, two."  # not a JSON object: unparsed
        parts = re.split(r"\. | and ", answer.rstrip("."))
        return json.dumps({"claims": [p.strip() + "." for p in parts if p.strip()]})
    if "[Answer]" in prompt:  # answer_relevance's default template
        question = prompt.split("[Question]\n", 1)[1].split("\n\n[Answer]", 1)[0]
        answer = prompt.split("[Answer]\n", 1)[1].split("\n\n[End]", 1)[0]
        return json.dumps({"relevance": 5 if _words(question) & _words(answer) else 1})
    return rule(prompt)


def test_claims_split_by_a_judge_then_checked_by_it_over_http(tmp_path: Path) -> None:
    rows = [
        ("q1", "Which river flows through Paris?",
         "The Seine flows through Paris and the Seine ends near Rouen.",
         ["The Seine river flows through Paris."]),
        ("q2", "How tall is Everest?", "Everest is 8849 metres tall. Everest has dragons.",
         ["Everest is 8849 metres tall."]),
        ("q3", "Who wrote Hamlet?", "A riddle, wrapped in a mystery.", ["Hamlet is a play."]),
    ]  # fmt: skip
    write_jsonl(tmp_path / "data.jsonl", [{"id": i, "question": q} for i, q, _, _ in rows])
    write_jsonl(
        tmp_path / "preds.jsonl",
        [{"id": i, "prediction": a, "outputs": {"contexts": c}} for i, _, a, c in rows],
    )
    with OpenAIServer(ScriptedBackend(split_rule), max_lifetime_s=60) as srv:
        judge = {"model": "openai:judge", "model_options": {"base_url": srv.url}}
        doc = {
            "name": "rag_claims",
            "bootstrap": {"resamples": 20},
            "tasks": [
                {
                    "name": "t",
                    "dataset": {"path": "data.jsonl", "id": "id"},
                    "prompt": "{question}",
                    "metrics": [
                        {"faithfulness": {"verifier": "judge", "claims": "judge", **judge}},
                        {"answer_relevance": {"question_field": "question", **judge}},
                    ],
                }
            ],
        }
        suite = tmp_path / "s.yaml"
        suite.write_text(json.dumps(doc), encoding="utf-8")
        preds = f"predictions:{tmp_path / 'preds.jsonl'}"
        outcome = run_suite(suite, preds, tmp_path / "run")
        asked = [str(r.prompt) for r in srv.requests if r.path.endswith("/chat/completions")]
        # Run again: both rounds come from the response cache, nothing is asked.
        again = run_suite(suite, preds, tmp_path / "run2")
        asked_again = [r for r in srv.requests if r.path.endswith("/chat/completions")]
    assert outcome.exit_code == 0 and again.exit_code == 0
    splits = [p for p in asked if p.startswith("Split the answer")]
    checks = [p for p in asked if "Claim: " in p]
    assert len(splits) == 3  # one claim list per answer
    # round 2 checks the claims the judge listed: 2 for q1, 2 for q2, none for q3 (unparsed)
    assert sorted(p.split("\n\nClaim: ", 1)[1].split("\n\n", 1)[0] for p in checks) == [
        "Everest has dragons.",
        "Everest is 8849 metres tall.",
        "The Seine flows through Paris.",
        "the Seine ends near Rouen.",
    ]
    assert len(asked_again) == len(asked)
    lines = {
        json.loads(x)["id"]: json.loads(x)
        for x in (tmp_path / "run" / "samples.jsonl").read_text("utf-8").splitlines()
    }
    q1 = lines["q1"]["stats"]["faithfulness"]
    assert (q1["claims"], q1["supported"]) == (2, 1)
    assert q1["unsupported"] == ["the Seine ends near Rouen."]
    q3 = lines["q3"]["stats"]["faithfulness"]
    assert q3["split_failure"] == "unparsed" and q3["claims"] == 0
    assert "claim list failed (unparsed)" in lines["q3"]["warnings"]["faithfulness"]
    assert len(lines["q1"]["judgments"]["faithfulness"]) == 3  # the list, then two checks
    results = json.loads((tmp_path / "run" / "results.json").read_text("utf-8"))
    v = {r["metric"]: r["value"] for r in results["results"]}
    assert v["faithfulness"] == pytest.approx((1 / 2 + 1 / 2) / 2)  # q3 is left out
    assert v["claims_per_answer"] == pytest.approx(2.0)
    assert v["judge_failure_rate"] == pytest.approx(1 / 7)  # 3 lists + 4 checks, 1 unparsed
    assert v["answer_relevance"] == pytest.approx(2 / 3)  # q3 shares no word with its question
    rerun = json.loads((tmp_path / "run2" / "results.json").read_text("utf-8"))
    assert [r["value"] for r in rerun["results"]] == [r["value"] for r in results["results"]]
