"""The ``openai:`` adapter against a real OpenAI-compatible server on loopback.

Generation on both endpoints, log-likelihoods equal to the backend's ground truth (a scripted
backend with hand-computable numbers, and a real transformers model), the self-check that
refuses to make numbers up, the concurrency bound, and the API key kept out of every record.
"""

from __future__ import annotations

import logging
import math
import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from evalkit.adapters import build_adapter
from evalkit.adapters.openai_compat import OpenAICompatAdapter
from evalkit.cache import cache_key
from evalkit.errors import ConfigError, RunError
from evalkit.registry import METRICS
from evalkit.runner import run_suite
from evalkit.store import load_run
from evalkit.testing import OpenAIServer, ScriptedBackend
from evalkit.testing.backends import HFBackend, TokenScore, find_tiny_gpt2, make_random_gpt2
from evalkit.types import GenerateRequest
from tests.adapters.test_request_kinds import ToyChoice, ToyNLL
from tests.conftest import ROOT, write_jsonl

SECRET = "sk-loopback-7f3a9c1e5b2d4f60a8e1"


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    # The toy metrics of test_request_kinds stand in for log-likelihood metrics.
    monkeypatch.setitem(METRICS._loaded, "toy_nll", ToyNLL)
    monkeypatch.setitem(METRICS._loaded, "toy_choice", ToyChoice)


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(max_lifetime_s=60) as srv:
        yield srv


def make(srv: OpenAIServer, **options: Any) -> OpenAICompatAdapter:
    options.setdefault("backoff_base_s", 0.01)
    options.setdefault("timeout_s", 5.0)
    return OpenAICompatAdapter("loopback", base_url=srv.url, **options)


def expected_continuation(tokens: Sequence[TokenScore], boundary: int) -> tuple[float, int]:
    cont = [t for t in tokens if t.offset >= boundary]
    return sum(t.logprob or 0.0 for t in cont), len(cont)


# -- generation ------------------------------------------------------------------------------


def test_chat_generation_sends_the_settings(server: OpenAIServer) -> None:
    adapter = make(server)
    reqs = [
        GenerateRequest("a b c d", max_tokens=2, temperature=0.0, seed=7),
        GenerateRequest("a b c d", stop=(" C",), seed=7),
        GenerateRequest("x y"),
    ]
    gens = adapter.generate(reqs)
    assert [g.text for g in gens] == ["A B", "A B", "X Y"]
    assert [g.outputs["finish_reason"] for g in gens] == ["length", "stop", "stop"]
    bodies = [
        r.body for r in sorted(server.requests, key=lambda r: r.body["messages"][0]["content"])
    ]
    by_prompt = {(b["messages"][0]["content"], b.get("max_tokens")): b for b in bodies}
    first = by_prompt[("a b c d", 2)]
    assert first == {
        "model": "loopback",
        "temperature": 0.0,
        "messages": [{"role": "user", "content": "a b c d"}],
        "max_tokens": 2,
        "seed": 7,
    }
    assert by_prompt[("a b c d", None)]["stop"] == [" C"]
    assert "seed" not in by_prompt[("x y", None)] and "stop" not in by_prompt[("x y", None)]
    assert {r.path for r in server.requests} == {"/v1/chat/completions"}


def test_completions_endpoint_and_seeded_samples(server: OpenAIServer) -> None:
    adapter = make(server, endpoint="completions")
    gens = adapter.generate(
        [
            GenerateRequest("p q", temperature=0.8, seed=1),
            GenerateRequest("p q", temperature=0.8, seed=2),
        ]
    )
    assert [g.text for g in gens] == ["P Q #1", "P Q #2"]
    assert {r.path for r in server.requests} == {"/v1/completions"}
    assert sorted(r.body["seed"] for r in server.requests) == [1, 2]
    # Sampled outputs are cached per seed, and per endpoint/model/server.
    info = adapter.info()
    one, two = (GenerateRequest("p q", temperature=0.8, seed=s) for s in (1, 2))
    assert cache_key(info, one) != cache_key(info, two)
    assert cache_key(info, one) != cache_key(make(server).info(), one)
    assert cache_key(info, one) != cache_key({**info, "model": "other"}, one)


def test_info_and_spec(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = build_adapter("openai:org/model:8b", {"base_url": server.url, "max_concurrency": 2})
    assert isinstance(adapter, OpenAICompatAdapter)
    assert adapter.info() == {
        "kind": "openai",
        "model": "org/model:8b",
        "base_url": server.url,
        "endpoint": "chat",
        "prefix_text": "",
    }
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.port}")
    assert OpenAICompatAdapter("m").base_url == server.url  # /v1 added to a bare host


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"base_url": None}, "no server to call"),
        ({"endpoint": "chta"}, "Did you mean 'chat'"),
        ({"api_key": SECRET}, "never an option"),
        ({"api_key_env": SECRET}, "NAME of an environment variable"),
        ({"base_url": f"http://user:{SECRET}@127.0.0.1/v1"}, "must not hold credentials"),
        ({"max_concurrency": 0}, "max_concurrency must be an integer >= 1"),
        ({"timeout_s": "soon"}, "timeout_s must be a number > 0"),
        ({"max_atempts": 3}, "Did you mean 'max_attempts'"),
    ],
)
def test_bad_options_are_config_errors(
    options: dict[str, Any], match: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    options = {"base_url": "http://127.0.0.1:9/v1", **options}
    with pytest.raises(ConfigError, match=match) as err:
        OpenAICompatAdapter("m", **options)
    assert SECRET not in str(err.value)


# -- log-likelihoods -------------------------------------------------------------------------


def test_loglikelihood_equals_the_scripted_ground_truth(server: OpenAIServer) -> None:
    adapter = make(server)
    pairs = [("a bb", " cccc d"), ("The cat", " sat"), ("x", " yy zzzz"), ("q", "\nab")]
    gens = adapter.loglikelihood([GenerateRequest(c, continuation=x) for c, x in pairs])
    backend = ScriptedBackend()
    for (context, cont), g in zip(pairs, gens, strict=True):
        assert g.ok, g.error
        want, n = expected_continuation(backend.score(context + cont), len(context))
        assert g.outputs["logprob"] == pytest.approx(want, abs=1e-12)
        assert g.outputs["n_tokens"] == n
    # By hand: " cccc" costs 0.25 * (1 + 4), " d" 0.25 * 2; "cccc" is not the greedy token.
    assert gens[0].outputs == {"logprob": -1.75, "is_greedy": False, "n_tokens": 2}
    assert gens[1].outputs["is_greedy"] is True  # " sat": 3 letters, the scripted argmax
    for r in server.requests:
        assert r.body["echo"] is True and r.body["logprobs"] == 1 and r.body["max_tokens"] == 0


def test_rolling_equals_the_scripted_ground_truth() -> None:
    texts = ["a bb cccc", "one", "  lead and trail  ", "w1 w2 w3 w4 w5 w6"]
    for bos in (False, True):
        backend = ScriptedBackend(bos=bos)
        with OpenAIServer(backend) as srv:
            gens = make(srv).loglikelihood_rolling([GenerateRequest(t) for t in texts])
        for text, g in zip(texts, gens, strict=True):
            assert g.ok, g.error
            scored = [t.logprob for t in backend.score(text)[1:]]
            assert g.outputs["nll"] == pytest.approx(-sum(x or 0.0 for x in scored), abs=1e-12)
            assert g.outputs["n_tokens"] == len(scored)
        # With a BOS token every word is scored; without, all but the first.
        words = len(texts[0].split())
        assert gens[0].outputs["n_tokens"] == (words if bos else words - 1)


def test_servers_refusing_max_tokens_zero_get_one(server: OpenAIServer) -> None:
    server.refuse_zero_max_tokens = True
    adapter = make(server)
    first = adapter.loglikelihood_rolling([GenerateRequest("a bb cccc")])
    again = adapter.loglikelihood_rolling([GenerateRequest("a bb cccc dd")])
    assert first[0].outputs == {"nll": 2.0, "n_tokens": 2}  # the generated token is ignored
    assert again[0].outputs["n_tokens"] == 3
    assert [(r.status, r.body["max_tokens"]) for r in server.requests] == [
        (400, 0),
        (200, 1),
        (200, 1),
    ]


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("generated_only", "did not echo the prompt"),
        ("null", "null log-probabilities at 2 of 2"),
        ("mismatch", "4 tokens, 3 token_logprobs"),  # with the 1 generated token
    ],
)
def test_self_check_fails_loudly_instead_of_guessing(mode: str, message: str) -> None:
    with OpenAIServer(logprobs_mode=mode, refuse_zero_max_tokens=True) as srv:
        adapter = make(srv)
        rolling = adapter.loglikelihood_rolling([GenerateRequest("a bb cccc")])
        ll = adapter.loglikelihood([GenerateRequest("a bb", continuation=" cccc")])
    for g in (*rolling, *ll):
        assert not g.ok and g.outputs == {}
        assert (g.error or "").startswith("LogprobsUnavailable: ")
    assert message in (rolling[0].error or "")


def test_self_check_failures_are_counted_by_the_runner(tmp_path: Path) -> None:
    rows = [{"id": str(i), "text": "ab " * (i + 1), "answer": "ab"} for i in range(4)]
    write_jsonl(tmp_path / "d.jsonl", rows)
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: lm\nbootstrap: {resamples: 20}\ntasks:\n  - name: t\n"
        '    dataset: {path: d.jsonl, references: answer}\n    prompt: "{text}"\n'
        "    metrics: [toy_nll]\n"
    )
    with OpenAIServer(logprobs_mode="null") as srv, pytest.raises(RunError) as err:
        run_suite(suite, "openai:loopback", tmp_path / "r", model_options={"base_url": srv.url})
    assert "every model call failed (4 of 4)" in str(err.value)
    assert "null log-probabilities" in str(err.value)
    lines = load_run(tmp_path / "r").samples
    assert all(ln["error"] and "outputs" not in ln for ln in lines)


def test_token_spanning_the_boundary_is_refused(server: OpenAIServer) -> None:
    gens = make(server).loglikelihood(
        [
            GenerateRequest("Answer: ", continuation="yes"),  # " yes" would span the boundary
            GenerateRequest("q\n", continuation="ab"),  # so would "\nab"
            GenerateRequest("", continuation="yes"),
            GenerateRequest("Answer:", continuation=""),
        ]
    )
    assert "token ' yes' spans the end of the context" in (gens[0].error or "")
    assert "token '\\nab' spans" in (gens[1].error or "")
    assert "context is empty" in (gens[2].error or "")
    assert "continuation is empty" in (gens[3].error or "")


@pytest.fixture(scope="module")
def causal_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    found = find_tiny_gpt2()
    return found if found is not None else make_random_gpt2(tmp_path_factory.mktemp("gpt2"))


def test_transformers_backend_ground_truth(causal_lm: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(causal_lm)
    model = AutoModelForCausalLM.from_pretrained(causal_lm, dtype=torch.float32).eval()

    def logprobs(text: str) -> tuple[list[int], list[float], list[tuple[int, int]]]:
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = enc["input_ids"]
        with torch.no_grad():
            lp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)
        return ids, [float(lp[i - 1, ids[i]]) for i in range(1, len(ids))], enc["offset_mapping"]

    pairs = [("The value of", " the function"), ("import os", " and sys")]
    texts = ["Return the number of items in a container.", "x = 1"]
    with OpenAIServer(HFBackend(causal_lm)) as srv:
        adapter = make(srv, timeout_s=30.0)
        ll = adapter.loglikelihood([GenerateRequest(c, continuation=x) for c, x in pairs])
        rolling = adapter.loglikelihood_rolling([GenerateRequest(t) for t in texts])
        gen = adapter.generate([GenerateRequest("def f(x):", max_tokens=4)])
    for (context, cont), g in zip(pairs, ll, strict=True):
        assert g.ok, g.error
        ids, lps, offsets = logprobs(context + cont)
        # Continuation tokens: those ending after the context (whole words here).
        first = next(i for i, (_, end) in enumerate(offsets) if end > len(context))
        want = sum(lps[first - 1 :])
        assert g.outputs["n_tokens"] == len(ids) - first
        assert math.isclose(g.outputs["logprob"], want, rel_tol=1e-5, abs_tol=1e-5)
        assert isinstance(g.outputs["is_greedy"], bool)
    for text, g in zip(texts, rolling, strict=True):
        ids, lps, _ = logprobs(text)
        assert g.outputs["n_tokens"] == len(ids) - 1
        assert math.isclose(g.outputs["nll"], -sum(lps), rel_tol=1e-5, abs_tol=1e-5)
    assert gen[0].ok and isinstance(gen[0].text, str)


def test_prefix_text_scores_every_token_like_the_hf_adapter(causal_lm: Path) -> None:
    hf = pytest.importorskip("evalkit.adapters.hf")
    local = hf.HFAdapter(str(causal_lm))
    texts = ["Return the number of items in a container.", "x = 1", "a"]
    pairs = [("The value of", " the function"), ("", "import os")]
    rolling = [GenerateRequest(t, kind="loglikelihood_rolling") for t in texts]
    ll = [GenerateRequest(c, continuation=x, kind="loglikelihood") for c, x in pairs]
    with OpenAIServer(HFBackend(causal_lm)) as srv:
        adapter = make(srv, timeout_s=30.0, prefix_text="<|endoftext|>")
        remote = adapter.loglikelihood_rolling(rolling) + adapter.loglikelihood(ll)
    want = local.loglikelihood_rolling(rolling) + local.loglikelihood(ll)
    for got, ref in zip(remote, want, strict=True):
        assert got.ok and ref.ok, (got.error, ref.error)
        assert got.outputs["n_tokens"] == ref.outputs["n_tokens"]
        key = "nll" if "nll" in ref.outputs else "logprob"
        assert math.isclose(got.outputs[key], ref.outputs[key], rel_tol=1e-4, abs_tol=1e-4)
    assert rolling and remote[2].outputs["n_tokens"] == 1  # one token, scored after the prefix


# -- concurrency -----------------------------------------------------------------------------


@pytest.mark.parametrize("bound", [1, 3])
def test_concurrency_is_bounded(bound: int) -> None:
    with OpenAIServer(latency_s=0.04) as srv:
        adapter = make(srv, max_concurrency=bound)
        prompts = [f"p{i} x" for i in range(12)]
        gens = adapter.generate([GenerateRequest(p) for p in prompts])
        adapter.close()
    assert [g.text for g in gens] == [p.upper() for p in prompts]  # order kept
    assert srv.max_in_flight == bound


# -- the API key -----------------------------------------------------------------------------


def _files_with(root: Path, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_secret_never_reaches_records_caches_or_logs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("EVALKIT_TEST_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    rows = [{"id": str(i), "question": f"q{i} x", "answer": f"Q{i} X"} for i in range(8)]
    write_jsonl(tmp_path / "d.jsonl", rows)
    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: secret\nbootstrap: {resamples: 20}\ntasks:\n  - name: t\n"
        '    dataset: {path: d.jsonl, references: answer}\n    prompt: "{question}"\n'
        "    metrics: [exact_match]\n"
    )
    # The server wants the key; it fails q2 with a body that echoes the Authorization header
    # (as a careless server might) and q5 twice with a 500 (a retry, so a log line).
    faults: dict[str, Any] = {"q2 x": ["401"], "q5 x": ["500", "500"]}
    with OpenAIServer(api_key=SECRET, per_prompt=faults) as srv:
        opts = {"base_url": srv.url, "api_key_env": "EVALKIT_TEST_KEY", "backoff_base_s": 0.01}
        outcome = run_suite(suite, "openai:loopback", tmp_path / "run", model_options=opts)
        adapter = build_adapter("openai:loopback", opts)
        adapter.generate([GenerateRequest("q1 x")])
    assert all(r.authorized for r in srv.requests if r.fault is None)  # the key was sent
    lines = {ln["id"]: ln for ln in load_run(tmp_path / "run").samples}
    assert "Incorrect API key provided: Bearer [REDACTED]" in lines["2"]["error"]
    assert lines["5"]["error"] is None and outcome.results[0]["n_errors"] == 1
    assert any("retry 2 of 5" in r.getMessage() for r in caplog.records)

    needle = SECRET.encode()
    from evalkit.cache import default_cache_path

    assert _files_with(tmp_path / "run", needle) == []
    assert _files_with(default_cache_path().parent, needle) == []  # cache and run index
    assert SECRET not in caplog.text
    out, err = capfd.readouterr()
    assert SECRET not in out and SECRET not in err
    assert SECRET not in repr(adapter.info()) and SECRET not in repr(vars(adapter))
    assert needle not in pickle.dumps(adapter)


def test_http_bench_smoke() -> None:
    """``bench/http_adapter.py`` runs and its two cases agree (timings are not asserted)."""
    import importlib
    import sys

    bench = str(ROOT / "bench")
    sys.path.insert(0, bench)
    try:
        mod = importlib.import_module("http_adapter")
    finally:
        sys.path.remove(bench)
    rows = mod.run(
        sizes=[12], repeats=1, latency_s=0.005, concurrencies=(1, 4), subprocess_server=False
    )
    assert [(r.group, r.impl) for r in rows] == [
        ("c=1", "evalkit"),
        ("c=1", "urllib+threads"),
        ("c=4", "evalkit"),
        ("c=4", "urllib+threads"),
    ]
    assert all(r.median_s and r.median_s > 0 for r in rows)
    assert all(r.parity_max_abs_diff == 0 for r in rows if not r.is_evalkit)
    assert "of ideal" in mod.rps_table(rows, 0.005)


def test_a_malformed_key_fails_each_call_without_showing_it(
    server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALKIT_TEST_KEY", SECRET + "\nX-Injected: 1")
    g = make(server, api_key_env="EVALKIT_TEST_KEY").generate([GenerateRequest("a")])[0]
    assert "$EVALKIT_TEST_KEY holds spaces, line breaks" in (g.error or "")
    assert SECRET not in (g.error or "") and server.requests == []
