"""The ``hf:`` adapter on the bundled tiny GPT-2 checkpoints and on a random-init model.

Everything runs offline on CPU in seconds: the checkpoints in ``models/tiny-gpt2/`` are 2 MB
each, and the random model is built here from a tiny config.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.adapters.hf import HFAdapter, rolling_windows
from evalkit.cache import cache_key
from evalkit.errors import AssetError, ConfigError
from evalkit.types import GenerateRequest, Generation
from tests.conftest import ROOT

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

MODELS = ROOT / "models" / "tiny-gpt2"
CHECKPOINTS = sorted(p for p in MODELS.glob("step-*") if p.is_dir())
LATEST = CHECKPOINTS[-1]
HELDOUT = [
    json.loads(line)["text"]
    for line in (ROOT / "suites" / "lm" / "heldout.jsonl").read_text(encoding="utf-8").splitlines()
]
#: Short and long texts (several exceed the 128-token window), and awkward ones.
TEXTS = [*HELDOUT[:9], "x", " leading space", "Zürich — naïve ☃ café", "a\n\n\tb", ""]
PROMPTS = ["The", "Return the value of", "class", "import os\n", "If the", "x = 1", "for i in"]
TOL = 1e-5


def rolling(text: str, **options: Any) -> GenerateRequest:
    return GenerateRequest(text, kind="loglikelihood_rolling", options=tuple(options.items()))


def pair(context: str, continuation: str) -> GenerateRequest:
    return GenerateRequest(context, kind="loglikelihood", continuation=continuation)


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    # Tiny matrices: one thread is faster than two, and far faster on a busy machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny() -> HFAdapter:
    return HFAdapter(str(LATEST))


@pytest.fixture(scope="module")
def random_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init GPT-2 with 64 positions and the bundled tokenizer."""
    folder = tmp_path_factory.mktemp("random-gpt2")
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=1024, n_positions=64, n_embd=32, n_layer=2, n_head=2, bos_token_id=0,
        eos_token_id=0,
    )  # fmt: skip
    transformers.GPT2LMHeadModel(config).save_pretrained(folder, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(LATEST / name, folder / name)
    return folder


def _values(gens: list[Generation]) -> list[dict[str, Any]]:
    assert all(g.ok for g in gens), [g.error for g in gens]
    return [dict(g.outputs) for g in gens]


def _assert_close(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for key in x:
            if isinstance(x[key], float):
                # float32 log-softmax, summed in float64: per-token agreement to 1e-5.
                scale = max(1, x.get("n_tokens", 1))
                assert abs(x[key] - y[key]) <= TOL * scale, (key, x[key], y[key])
            else:
                assert x[key] == y[key], key


# ------------------------------------------------------------------------- loading and info


def test_missing_path_is_an_asset_error() -> None:
    with pytest.raises(AssetError, match=r"no model directory at .*models/nope.*downloads nothing"):
        HFAdapter("models/nope")
    with pytest.raises(AssetError, match="nor a model of that name in the local Hugging Face"):
        HFAdapter("no-such-org-evalkit/no-such-model")
    with pytest.raises(AssetError, match=r"no model directory at .*/deep/er/path\. evalkit"):
        HFAdapter("./deep/er/path")


def test_directory_without_safetensors_is_an_asset_error(tmp_path: Path) -> None:
    shutil.copy(LATEST / "config.json", tmp_path / "config.json")
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(AssetError, match=r"no \*\.safetensors weights.*never pickled"):
        HFAdapter(str(tmp_path))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"batchsize": 4}, "unknown option 'batchsize'. Did you mean 'batch_size'"),
        ({"dtype": "fp8"}, "dtype='fp8' is not one of"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"max_length": 129}, r"max_length=129 exceeds the model's maximum \(128\)"),
        ({"padding_side": "top"}, "padding_side"),
        ({"chat_template": "yes"}, "chat_template must be true or false"),
        ({"revision": "main"}, "revision='main' applies to models in the Hugging Face cache"),
    ],
)
def test_bad_options_are_config_errors(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        HFAdapter(str(LATEST), **options)


def test_weights_load_from_safetensors_locally_without_remote_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[dict[str, Any]] = []
    real = transformers.AutoModelForCausalLM.from_pretrained

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", spy)
    HFAdapter(str(LATEST))
    assert seen and seen[0]["use_safetensors"] is True
    assert seen[0]["local_files_only"] is True and seen[0]["trust_remote_code"] is False


def test_info_is_the_cache_key(tiny: HFAdapter) -> None:
    info = tiny.info()
    assert info["kind"] == "hf" and info["path"] == str(LATEST.resolve())
    assert len(info["weights_sha256"]) == 64 and info["revision"] is None
    assert info["dtype"] == "float32" and info["max_length"] == 128
    assert info["prefix_token_id"] == 0 and info["trust_remote_code"] is False
    other = HFAdapter(str(CHECKPOINTS[0])).info()
    assert other["weights_sha256"] != info["weights_sha256"]
    assert other["tokenizer_sha256"] == info["tokenizer_sha256"]
    shorter = HFAdapter(str(LATEST), max_length=64)
    request = rolling("text")
    assert cache_key(shorter.info(), request) != cache_key(info, request)
    # batch size and padding side do not change results, so they are not in the key.
    assert HFAdapter(str(LATEST), batch_size=2, padding_side="left").info() == info


def test_build_adapter_spec(tmp_path: Path) -> None:
    from evalkit.adapters import build_adapter

    adapter = build_adapter(f"hf:{LATEST}", {"batch_size": 2})
    assert isinstance(adapter, HFAdapter) and adapter.settings.batch_size == 2


# --------------------------------------------------------------------------- rolling windows


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 60), max_length=st.integers(1, 20), data=st.data())
def test_rolling_windows_score_every_token_once(n: int, max_length: int, data: Any) -> None:
    stride = data.draw(st.integers(1, max_length))
    ids = list(range(100, 101 + n))  # the prefix token and n targets
    seen: list[int] = []
    for seq, k in rolling_windows(ids, max_length, stride):
        assert 1 <= k <= len(seq) - 1 <= max_length
        assert seq == ids[ids.index(seq[0]) : ids.index(seq[0]) + len(seq)]  # a contiguous run
        seen += seq[len(seq) - k :]
    assert seen == ids[1:]


def test_stride_above_max_length_is_refused(tiny: HFAdapter) -> None:
    with pytest.raises(ValueError, match="stride"):
        rolling_windows([1, 2, 3], 2, 3)
    with pytest.raises(ConfigError, match="task 't': hf: stride=64 exceeds max_length=32"):
        tiny.prepare({"t": [rolling("a", max_length=32, stride=64)]})
    with pytest.raises(ConfigError, match="max_length=256 exceeds the model's maximum"):
        tiny.prepare({"t": [rolling("a", max_length=256)]})


# ------------------------------------------------------------------------------- scoring


def test_rolling_equals_a_direct_transformers_computation(tiny: HFAdapter) -> None:
    model = transformers.AutoModelForCausalLM.from_pretrained(LATEST, use_safetensors=True)
    tok = transformers.AutoTokenizer.from_pretrained(LATEST)
    for text in TEXTS[:6]:
        ids = [tok.bos_token_id, *tok(text, add_special_tokens=False)["input_ids"]][:129]
        text = tok.decode(ids[1:])  # a prefix that fits one window of 128
        with torch.no_grad():
            logits = model(torch.tensor([ids[:-1]])).logits[0]
        want = -logits.log_softmax(-1).gather(-1, torch.tensor(ids[1:])[:, None]).sum().item()
        got = tiny.loglikelihood_rolling([rolling(text)])[0].outputs
        assert got["n_tokens"] == len(ids) - 1
        assert got["nll"] == pytest.approx(want, abs=TOL * len(ids))


@pytest.mark.parametrize("kind", ["rolling", "windowed", "pairs"])
def test_batch_size_and_padding_side_do_not_change_results(kind: str) -> None:
    if kind == "pairs":
        requests = [pair(t[:40], t[40:90]) for t in TEXTS if len(t) > 90]
        requests += [pair("", "The value"), pair("x =", " 1")]
    else:
        opts = {"max_length": 48, "stride": 16} if kind == "windowed" else {}
        requests = [rolling(t, **opts) for t in TEXTS[:4] + TEXTS[9:]]
    results = []
    for batch_size, side in ((1, "right"), (8, "right"), (8, "left"), (3, "left")):
        adapter = HFAdapter(str(LATEST), batch_size=batch_size, padding_side=side)
        results.append(_values(adapter.call(requests)))
    for other in results[1:]:
        _assert_close(results[0], other)


def test_fast_paths_do_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    # Scoring runs GPT-2's GELU as PyTorch's fused kernel and applies the output layer to the
    # scored positions only; neither may change a number beyond float rounding.
    rolls = [rolling(t, max_length=48, stride=16) for t in TEXTS[:5]]
    rolls += [rolling(t) for t in TEXTS[5:9]]
    pairs = [pair("x =", " 1"), pair("The", " value of"), pair(TEXTS[0][:40], TEXTS[0][40:90])]

    def scores(adapter: HFAdapter) -> list[dict[str, Any]]:
        return _values(adapter.call(rolls)) + _values(adapter.call(pairs))

    fast = HFAdapter(str(LATEST), batch_size=4)
    acts = {type(m).__name__ for m in fast.model.modules() if "GELU" in type(m).__name__}
    assert acts == {"GELUTanh"} and fast.info()["fused_gelu"] is True
    plain = HFAdapter(str(LATEST), batch_size=4, fused_gelu=False)
    assert {type(m).__name__ for m in plain.model.modules() if "GELU" in type(m).__name__} == {
        "NewGELUActivation"
    }
    assert plain.info()["fused_gelu"] is False
    plain._gather_head = False  # every position through the output layer, then picked
    _assert_close(scores(plain), scores(fast))
    # A model whose output layer is not what get_output_embeddings() names is noticed (the
    # logits come back whole) and scored the plain way from then on.
    odd = HFAdapter(str(LATEST), batch_size=4)
    monkeypatch.setattr(odd.model, "get_output_embeddings", lambda: torch.nn.Identity())
    _assert_close(scores(odd), scores(fast))
    assert odd._gather_head is False


def test_pad_tokens_are_never_scored(tiny: HFAdapter) -> None:
    tok = tiny.tokenizer
    requests = [rolling(t) for t in TEXTS]
    base = _values(tiny.loglikelihood_rolling(requests))
    for text, out in zip(TEXTS, base, strict=True):
        # every token of the text once, conditioned on the prefix token; nothing else
        assert out["n_tokens"] == len(tok(text, add_special_tokens=False)["input_ids"])
    for side in ("right", "left"):
        adapter = HFAdapter(str(LATEST), batch_size=8, padding_side=side)
        for pad in (0, 7, 1023):  # what fills the padding cannot matter
            adapter.pad_token_id = pad
            _assert_close(base, _values(adapter.loglikelihood_rolling(requests)))


def test_window_options_change_context_not_coverage(tiny: HFAdapter) -> None:
    long = [t for t in TEXTS if len(tiny.tokenizer(t)["input_ids"]) > 128]
    assert long, "the held-out set has texts longer than one window"
    full = _values(tiny.loglikelihood_rolling([rolling(t) for t in long]))
    narrow = _values(tiny.loglikelihood_rolling([rolling(t, max_length=32) for t in long]))
    strided = _values(
        tiny.loglikelihood_rolling([rolling(t, max_length=32, stride=8) for t in long])
    )
    for f, n, s in zip(full, narrow, strided, strict=True):
        assert f["n_tokens"] == n["n_tokens"] == s["n_tokens"]
        # More context helps a trained model: overlapping windows beat disjoint short ones.
        assert s["nll"] < n["nll"] and f["nll"] < n["nll"]


def test_loglikelihood_chain_rule_and_greedy(tiny: HFAdapter) -> None:
    text = "Return the value of the attribute"
    whole = tiny.loglikelihood([pair("", text)])[0].outputs
    assert whole["logprob"] == pytest.approx(
        -tiny.loglikelihood_rolling([rolling(text)])[0].outputs["nll"], abs=1e-4
    )
    first = tiny.loglikelihood([pair("", "Return the value")])[0].outputs
    rest = tiny.loglikelihood([pair("Return the value", " of the attribute")])[0].outputs
    assert first["logprob"] + rest["logprob"] == pytest.approx(whole["logprob"], abs=1e-4)
    assert first["n_tokens"] + rest["n_tokens"] == whole["n_tokens"]
    # trailing context whitespace moves to the continuation (lm-evaluation-harness)
    moved = tiny.loglikelihood([pair("Return the value ", "of the attribute")])[0].outputs
    assert moved == pytest.approx(rest)
    greedy = tiny.generate([GenerateRequest("The value of", max_tokens=4)])[0].text
    assert greedy
    out = tiny.loglikelihood([pair("The value of", greedy), pair("The value of", " zebra")])
    assert out[0].outputs["is_greedy"] is True and out[1].outputs["is_greedy"] is False


def test_unscorable_requests_are_failures_not_scores(tiny: HFAdapter) -> None:
    too_long = " word" * 200
    out = tiny.loglikelihood([pair("a", ""), pair("a", too_long), pair("a", " b")])
    assert out[0].error is not None and "empty" in out[0].error
    assert out[1].error is not None and "max_length is 128" in out[1].error
    assert out[2].ok and out[2].outputs["n_tokens"] == 1
    gens = tiny.generate([GenerateRequest("a", max_tokens=500), GenerateRequest("a", max_tokens=2)])
    assert gens[0].error is not None and "leaves no room" in gens[0].error
    assert gens[1].ok
    empty = tiny.loglikelihood_rolling([rolling("")])[0]
    assert empty.outputs == {"nll": 0.0, "n_tokens": 0}


# ------------------------------------------------------------------------------ generating


def _generate(adapter: HFAdapter, **fields: Any) -> list[str | None]:
    requests = [GenerateRequest(p, max_tokens=12, **fields) for p in PROMPTS]
    gens = adapter.generate(requests)
    assert all(g.ok for g in gens), [g.error for g in gens]
    return [g.text for g in gens]


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_generation_does_not_depend_on_the_batch(temperature: float) -> None:
    runs = [
        _generate(HFAdapter(str(LATEST), batch_size=b), temperature=temperature, seed=11)
        for b in (1, 3, 8)
    ]
    assert runs[0] == runs[1] == runs[2]
    assert all(t for t in runs[0])


def test_sampling_follows_the_request_seed(tiny: HFAdapter) -> None:
    a = _generate(tiny, temperature=1.0, seed=1)
    assert _generate(tiny, temperature=1.0, seed=1) == a
    assert _generate(tiny, temperature=1.0, seed=2) != a
    assert _generate(tiny, temperature=1.0, seed=1) != _generate(tiny)  # sampled, not greedy


def test_stop_sequences_and_max_tokens(tiny: HFAdapter) -> None:
    free = [GenerateRequest(p, max_tokens=30) for p in PROMPTS]
    texts = [g.text or "" for g in tiny.generate(free)]
    # a stop sequence drawn from each free text: the stopped text is the text before it
    stops = [t[len(t) // 2 : len(t) // 2 + 2] or "zz" for t in texts]
    stopped = tiny.generate(
        [GenerateRequest(p, max_tokens=30, stop=(s,)) for p, s in zip(PROMPTS, stops, strict=True)]
    )
    for text, stop, gen in zip(texts, stops, stopped, strict=True):
        assert gen.text is not None and stop not in gen.text
        assert gen.text == (text[: text.find(stop)] if stop in text else text)
    short = tiny.generate([GenerateRequest(p, max_tokens=3) for p in PROMPTS])
    for gen, text in zip(short, texts, strict=True):
        assert gen.text is not None and text.startswith(gen.text)
        assert len(tiny.tokenizer(gen.text)["input_ids"]) <= 3


def test_chat_template_renders_prompts() -> None:
    chat = HFAdapter(str(LATEST), chat_template=True)
    plain = HFAdapter(str(LATEST))
    rendered = "user: What is a class?\nassistant:"
    assert chat._render("What is a class?") == rendered
    assert chat.info()["chat_template"] is True and chat.info() != plain.info()
    a = chat.generate([GenerateRequest("What is a class?", max_tokens=8)])[0].text
    b = plain.generate([GenerateRequest(rendered, max_tokens=8)])[0].text
    assert a == b


# ------------------------------------------------------------------ random-init, no-BOS model


def test_random_model_and_missing_chat_template(random_dir: Path) -> None:
    adapter = HFAdapter(str(random_dir), batch_size=4)
    assert adapter.max_length == 64 and adapter.max_new_tokens == 32
    out = _values(adapter.loglikelihood_rolling([rolling(t) for t in TEXTS[:4]]))
    for o in out:  # untrained: about ln(1024) nats per token
        assert math.log(1024) - 1 < o["nll"] / o["n_tokens"] < math.log(1024) + 1
    with pytest.raises(ConfigError, match="has no chat template"):
        HFAdapter(str(random_dir), chat_template=True)


@pytest.fixture
def no_bos_dir(random_dir: Path, tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "no-bos"
    shutil.copytree(random_dir, folder)
    cfg_path = folder / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    for key in ("bos_token", "eos_token", "unk_token"):
        cfg.pop(key, None)
    cfg_path.write_text(json.dumps(cfg))
    yield folder


def test_without_bos_or_eos_the_first_token_is_not_scored(no_bos_dir: Path) -> None:
    adapter = HFAdapter(str(no_bos_dir))
    assert adapter.prefix_token_id is None and adapter.info()["prefix_token_id"] is None
    text = "Return the value"
    n = len(adapter.tokenizer(text, add_special_tokens=False)["input_ids"])
    assert adapter.loglikelihood_rolling([rolling(text)])[0].outputs["n_tokens"] == n - 1
    out = adapter.loglikelihood([pair("", text), pair("Return", " the value")])
    assert out[0].error is not None and "no BOS/EOS" in out[0].error
    assert out[1].ok
