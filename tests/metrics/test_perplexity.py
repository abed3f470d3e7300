"""The perplexity family: the metric contract, the formulas, parity with a direct transformers
computation and with the strided loop of the Hugging Face perplexity guide, the bundled
checkpoints, and ``suites/lm.yaml`` end to end.
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evalkit import __version__
from evalkit.errors import ConfigError, InputError
from evalkit.metrics.base import VectorMetric
from evalkit.metrics.lm import Perplexity, score_texts
from evalkit.types import Sample
from tests.conftest import ROOT

MODELS = ROOT / "models" / "tiny-gpt2"
CHECKPOINTS = sorted(p for p in MODELS.glob("step-*") if p.is_dir())
LATEST = CHECKPOINTS[-1]
LM_SUITE = ROOT / "suites" / "lm.yaml"
HELDOUT = [
    json.loads(line)["text"]
    for line in (ROOT / "suites" / "lm" / "heldout.jsonl").read_text(encoding="utf-8").splitlines()
]

# Per-sample outputs as a model would give them (nats, tokens), on texts of varied shape.
SAMPLES = [
    Sample(id="a", prompt="The cat sat on the mat.", outputs={"nll": 21.5, "n_tokens": 7}),
    Sample(id="b", prompt="Zürich, café — naïve?", outputs={"nll": 30.25, "n_tokens": 9}),
    Sample(id="c", prompt="x", outputs={"nll": 4.0, "n_tokens": 1}),
    Sample(id="d", prompt="def f(x):\n    return x", outputs={"nll": 12.0, "n_tokens": 8}),
    Sample(id="e", prompt=" ".join(["word"] * 50), outputs={"nll": 80.0, "n_tokens": 51}),
]


# --------------------------------------------------------------------------------- contract


def test_class_metadata() -> None:
    assert Perplexity.name == "perplexity" and Perplexity.higher_is_better is False
    assert Perplexity.request_kind == "loglikelihood_rolling"
    assert issubclass(Perplexity, VectorMetric)
    for name, p in Perplexity.parameters().items():
        assert p.default is None and p.type != "any", name
    doc = inspect.getdoc(Perplexity) or ""
    assert all(part in doc for part in ("References:", "Example:", ">>>"))
    metric = Perplexity()
    assert all(not metric.value_higher_is_better(v) for v in metric.value_names())


def test_statistics_are_additive_and_order_free() -> None:
    metric = Perplexity()
    stats = metric.sample_stats(SAMPLES)
    assert stats[1] == [30.25, 9, 4, len("Zürich, café — naïve?".encode())]
    assert json.loads(json.dumps(stats)) == stats
    assert [s for x in SAMPLES for s in metric.sample_stats([x])] == stats
    want = metric.aggregate(stats)
    assert list(want) == list(metric.value_names())
    shuffled = list(stats)
    random.Random(3).shuffle(shuffled)
    assert metric.aggregate(shuffled) == pytest.approx(want, rel=1e-12)
    empty = metric.aggregate([])
    assert all(math.isnan(v) for v in empty.values())
    per_sample = metric.per_sample_values(stats)
    for i, s in enumerate(stats):
        assert per_sample["perplexity"][i] == pytest.approx(math.exp(s[0] / s[1]))


def test_values_follow_their_definitions() -> None:
    metric = Perplexity()
    stats = metric.sample_stats(SAMPLES)
    nll, tokens, words, nbytes = (sum(s[i] for s in stats) for i in range(4))
    values = metric.aggregate(stats)
    assert values["perplexity"] == pytest.approx(math.exp(nll / tokens), rel=1e-12)
    assert values["word_perplexity"] == pytest.approx(math.exp(nll / words), rel=1e-12)
    assert values["byte_perplexity"] == pytest.approx(math.exp(nll / nbytes), rel=1e-12)
    assert values["bits_per_byte"] == pytest.approx(nll / nbytes / math.log(2), rel=1e-12)
    assert 2 ** values["bits_per_byte"] == pytest.approx(values["byte_perplexity"], rel=1e-12)
    # Corpus-level: not the mean of per-text perplexities (which overweights short texts).
    mean_ppl = sum(math.exp(s[0] / s[1]) for s in stats) / len(stats)
    assert abs(values["perplexity"] - mean_ppl) > 1


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"max_length": 0}, "max_length"),
        ({"max_length": "64"}, "max_length"),
        ({"stride": True}, "stride"),
        ({"stride": -1}, "stride"),
        ({"max_length": 32, "stride": 64}, "stride"),
    ],
)
def test_bad_parameters_are_config_errors(params: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=f"^perplexity: .*{named}"):
        Perplexity.build(params)


def test_unknown_parameter_and_signature() -> None:
    with pytest.raises(ConfigError, match=r"unknown parameter 'strid'\. Did you mean 'stride'"):
        Perplexity.build({"strid": 2})
    default = Perplexity().signature()
    assert default == f"perplexity|max_length:model|stride:model|evalkit:{__version__}"
    windowed = Perplexity.build({"max_length": 64, "stride": 32})
    assert windowed.signature() == f"perplexity|max_length:64|stride:32|evalkit:{__version__}"
    assert windowed.request_options() == {"max_length": 64, "stride": 32}
    assert Perplexity().request_options() == {}


def test_unscorable_samples_are_input_errors() -> None:
    metric = Perplexity()
    with pytest.raises(InputError, match="sample 'p' has no scored text"):
        metric.sample_stats([Sample(id="p", outputs={"nll": 1.0, "n_tokens": 1})])
    with pytest.raises(InputError, match="sample 'q' has no rolling log-likelihood outputs"):
        metric.sample_stats([Sample(id="q", prompt="a", prediction="a")])
    with pytest.raises(InputError, match="sample 'r': nll=nan"):
        metric.sample_stats([Sample(id="r", prompt="a", outputs={"nll": math.nan, "n_tokens": 1})])
    empty = Sample(id="e", prompt="", outputs={"nll": 0.0, "n_tokens": 0})
    assert metric.sample_warnings([empty, SAMPLES[0]]) == ["no tokens scored (empty text)", None]


def test_functional_front_end() -> None:
    score = score_texts(["ab c", "d"], "scripted:echo")
    assert score.name == "perplexity" and score.n == 2
    assert score.value == pytest.approx(math.exp((1.2 + 1.1 + 1.1) / 3))
    with pytest.raises(InputError, match="texts is a string"):
        score_texts("ab c", "scripted:echo")
    with pytest.raises(InputError, match=r"texts\[1\] is int"):
        score_texts(["a", 3], "scripted:echo")  # type: ignore[list-item]


# ------------------------------------------------------------------- parity with transformers

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    # Tiny matrices: one thread is faster than two, and far faster on a busy machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model() -> Any:
    return transformers.AutoModelForCausalLM.from_pretrained(LATEST, use_safetensors=True).eval()


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return transformers.AutoTokenizer.from_pretrained(LATEST)


def test_equals_a_direct_transformers_computation(model: Any, tokenizer: Any) -> None:
    """Texts that fit one window: one forward pass per text, <|endoftext|> as context."""
    texts = [t[:300] for t in HELDOUT[:8]]
    nll, n_tokens = 0.0, 0
    for text in texts:
        ids = [tokenizer.bos_token_id, *tokenizer(text, add_special_tokens=False)["input_ids"]]
        assert len(ids) <= 129
        with torch.no_grad():
            logits = model(torch.tensor([ids[:-1]])).logits[0].double()
        nll -= logits.log_softmax(-1).gather(-1, torch.tensor(ids[1:])[:, None]).sum().item()
        n_tokens += len(ids) - 1
    score = score_texts(texts, f"hf:{LATEST}")
    assert score.value == pytest.approx(math.exp(nll / n_tokens), rel=1e-5)
    nbytes = sum(len(t.encode()) for t in texts)
    assert score.details["bits_per_byte"] == pytest.approx(nll / nbytes / math.log(2), rel=1e-5)
    assert 2 ** score.details["bits_per_byte"] == pytest.approx(
        score.details["byte_perplexity"], rel=1e-12
    )


def guide_loop(model: Any, ids: list[int], max_length: int, stride: int) -> dict[str, float]:
    """The strided loop of the Hugging Face guide "Perplexity of fixed-length models".

    Windows of ``max_length`` tokens start every ``stride`` tokens; the labels of the tokens
    that an earlier window already covered are set to -100; the model's mean loss is weighted
    back to a sum. Returns the true summed NLL and count (the labels the loss really averaged
    over: the model shifts labels left by one, so a window's first label is never scored) and
    the two counts the guide has used: ``trg_len`` per window (older versions) and valid labels
    minus one per window (current version).
    """
    seq = torch.tensor([ids])
    seq_len = seq.size(1)
    nll, n_true, n_old, n_new = 0.0, 0, 0, 0
    prev_end_loc = 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc
        input_ids = seq[:, begin_loc:end_loc]
        target_ids = input_ids.clone()
        target_ids[:, :-trg_len] = -100
        scored = int((target_ids[:, 1:] != -100).sum())
        if scored:
            with torch.no_grad():
                loss = model(input_ids, labels=target_ids).loss
            nll += loss.item() * scored
        n_true += scored
        n_old += trg_len
        n_new += int((target_ids != -100).sum()) - 1
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return {"nll": nll, "n_true": n_true, "n_old": n_old, "n_new": n_new}


@pytest.mark.parametrize(("max_length", "stride"), [(32, 8), (32, 16), (32, 32), (127, 64)])
def test_strided_windows_against_the_hf_guide(
    model: Any, tokenizer: Any, max_length: int, stride: int
) -> None:
    """evalkit with windows of L tokens equals the guide's loop with windows of L + 1.

    Both feed the same tokens to the model; evalkit also scores the token *after* each window
    from that window's last logits (the guide leaves it to the next window, with less context),
    so evalkit's window of L inputs covers what the guide's window of L + 1 does. And on the
    same L, the guide never scores the first token of a window when ``stride == max_length``.
    """
    text = "\n\n".join(HELDOUT[:6])  # the guide scores one long concatenation
    ids = [tokenizer.bos_token_id, *tokenizer(text, add_special_tokens=False)["input_ids"]]
    n = len(ids) - 1
    score = score_texts([text], f"hf:{LATEST}", max_length=max_length, stride=stride)
    got_nll = math.log(score.value) * n
    same = guide_loop(model, ids, max_length + 1, stride)
    assert same["n_true"] == n
    assert got_nll == pytest.approx(same["nll"], rel=1e-5)

    guide = guide_loop(model, ids, max_length, stride)
    windows = len(range(0, len(ids) - max_length + stride, stride))
    assert guide["n_old"] == n + 1  # the older guide: one token too many (the first)
    if stride < max_length:
        assert guide["n_true"] == n  # every token but the first, once
        assert guide["n_new"] == n + 1 - windows  # the current guide: one too few per later window
    else:
        assert guide["n_true"] == n + 1 - windows  # each window's first token goes unscored
        assert guide["n_new"] == guide["n_true"]
    assert guide["nll"] != pytest.approx(got_nll, rel=1e-5)


# ------------------------------------------------------------------ checkpoints and the suite


def test_bundled_checkpoints_are_small_and_improve() -> None:
    record = json.loads((MODELS / "training.json").read_text())
    steps = [c["step"] for c in record["checkpoints"]]
    assert [p.name for p in CHECKPOINTS] == [f"step-{s:04d}" for s in steps]
    sizes = [(p / "model.safetensors").stat().st_size for p in CHECKPOINTS]
    assert max(sizes) < 3_000_000
    assert sum(f.stat().st_size for f in MODELS.rglob("*") if f.is_file()) < 12_000_000
    recorded = [c["heldout"]["perplexity"] for c in record["checkpoints"]]
    assert all(b < a for a, b in itertools.pairwise(recorded))
    # The suite's held-out texts tell the same story, measured now.
    measured = [score_texts(HELDOUT, f"hf:{p}", model_options={"batch_size": 16}).value
                for p in CHECKPOINTS]  # fmt: skip
    assert all(b < 0.95 * a for a, b in itertools.pairwise(measured)), measured


def test_recorded_heldout_perplexity_reproduces() -> None:
    """training.json's numbers come from this code on these files."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import train_tiny_lm
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    _, heldout = train_tiny_lm.split_topics()
    record = json.loads((MODELS / "training.json").read_text())
    assert train_tiny_lm.sha256_text(heldout) == record["data"]["heldout_sha256"]
    last = record["checkpoints"][-1]
    value = score_texts(list(heldout.values()), f"hf:{MODELS / Path(last['path']).name}").value
    assert value == pytest.approx(last["heldout"]["perplexity"], rel=1e-5)


def test_lm_suite_runs_end_to_end(tmp_path: Path) -> None:
    from evalkit.runner import run_suite

    outcome = run_suite(LM_SUITE, f"hf:{LATEST}", tmp_path / "run", labels={"step": "600"})
    rows = {(r["task"], r["metric"]): r for r in outcome.results}
    assert outcome.exit_code == 0
    ppl = rows[("heldout", "perplexity")]
    assert ppl["n"] == len(HELDOUT) and ppl["n_errors"] == 0 and ppl["higher_is_better"] is False
    assert ppl["ci_low"] <= ppl["value"] <= ppl["ci_high"]
    # The runner scores the texts in batches of its own and the twin in one call: the same
    # windows, padded into other float32 batches, differ in the last bits (1.4e-9 relative seen
    # with transformers 5.24).
    twin = score_texts(HELDOUT, f"hf:{LATEST}").value
    assert ppl["value"] == pytest.approx(twin, rel=1e-7)
    bpb = rows[("heldout", "bits_per_byte")]["value"]
    assert 2**bpb == pytest.approx(rows[("heldout", "byte_perplexity")]["value"], rel=1e-12)
    # overlapping windows give each token more context than the disjoint default
    assert rows[("heldout_strided", "perplexity")]["value"] != pytest.approx(ppl["value"])
    complete = rows[("complete", "chrf")]
    assert complete["n"] == 20 and complete["n_errors"] == 0


def test_functional_twin() -> None:
    """``evalkit.metrics.perplexity(texts, model, ...)`` runs the metric class's code."""
    import evalkit.metrics

    twin = evalkit.metrics.perplexity
    want = score_texts(HELDOUT[:3], f"hf:{LATEST}", max_length=64, stride=32)
    assert twin(HELDOUT[:3], f"hf:{LATEST}", max_length=64, stride=32) == want


def test_benchmark_smoke() -> None:
    """bench/perplexity.py: evalkit and the plain loop agree; rows are timed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_perplexity", ROOT / "bench" / "perplexity.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.run(sizes=[4], repeats=1, with_evaluate=False)
    assert [r.impl for r in rows][:2] == [
        "evalkit (batch 16, sorted)",
        "transformers loop (batch 1)",
    ]
    assert rows[1].parity_max_abs_diff is not None and rows[1].parity_max_abs_diff < 1e-4
    assert rows[2].skipped == "not requested"
    assert all(r.median_s and r.median_s > 0 for r in rows[:2])
    assert len(bench.tokens_per_second(rows)) == 2
