"""torchmetrics' BERTScore next to evalkit's (= bert-score's) on the same local model.

What torchmetrics 1.9.0 (``torchmetrics.functional.text.bert.bert_score``) does differently,
each shown by an assertion below:

1. **Pairs in a batch can be misaligned.** It sorts candidates and references by length
   separately and maps the embeddings back with the sorting permutation instead of its inverse,
   so unless that permutation is its own inverse, candidate ``i`` is scored against another
   pair's texts (reported as Lightning-AI/torchmetrics#2728, open). evalkit's sample values do
   not depend on the other samples. The remaining tests use a corpus already sorted by length
   (identity permutation), where torchmetrics is aligned.
2. **[CLS] and [SEP] are not matched.** bert-score gives them weight 0 but lets other tokens
   match them (they take part in the ``max``); torchmetrics zeroes their embeddings, so they
   never match. Where no token matches them best the numbers agree to 1e-6; elsewhere
   (short sentences, punctuation) they differ by up to about 1e-2 per pair. ``_rule`` below
   computes both rules from the same embeddings and reproduces each implementation.
3. **Default layer**: the last hidden state (layer 6 for all-MiniLM-L6-v2); bert-score has no
   default for this model and evalkit uses 5 (see ``RECOMMENDED_LAYERS``).
4. **Empty candidate**: precision 0/0 = NaN and F1 0, where bert-score (and evalkit) set
   P = R = F = 0.
5. **idf** is the same formula over the references: ``ln((N + 1) / (df + 1))``.
6. **Baseline rescaling** uses the file's row ``num_layers``, or the *last* row when
   ``num_layers`` is not given; evalkit requires the row of the layer it uses.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest
import torchmetrics.functional.text.bert as tm_text

from evalkit._validate import as_samples
from evalkit.assets.encoders import bundled_model_dir
from evalkit.metrics.text.bertscore import BERTScore

MODEL = str(bundled_model_dir())

# Candidates and references each strictly increasing in token length (one word piece per word),
# so torchmetrics' length sort is the identity and its pairs stay aligned.
SORTED_PREDS = [
    "the cat sat",
    "a dog ran in the park",
    "the old man read a long book by the fire",
    "she walked to the shop and bought some bread milk and fresh eggs for the week",
]
SORTED_REFS = [
    "a cat was sitting",
    "the dog was running in a park today",
    "an old man was reading a book near the warm fire at night",
    "she went to the store where she bought bread and milk and some eggs for the whole week",
]


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tm(preds: list[str], refs: list[str], **kw: Any) -> dict[str, np.ndarray]:
    out: dict[str, Any] = tm_text.bert_score(
        preds, refs, model_name_or_path=MODEL, batch_size=16, **kw
    )
    return {k: np.atleast_1d(out[k].double().numpy()) for k in ("precision", "recall", "f1")}


def _evalkit(preds: list[str], refs: list[str], **params: Any) -> dict[str, np.ndarray]:
    metric = BERTScore.build(params)
    stats = metric.sample_stats(as_samples("bertscore", preds, [[r] for r in refs]))
    values = metric.per_sample_values(stats)
    return {
        "precision": np.array(values["bertscore_precision"]),
        "recall": np.array(values["bertscore_recall"]),
        "f1": np.array(values["bertscore_f1"]),
    }


@pytest.fixture(scope="module")
def hf() -> tuple[Any, Any]:
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(MODEL, local_files_only=True)
    model = AutoModel.from_pretrained(MODEL, local_files_only=True).eval()
    return tok, model


def _rule(
    hf: tuple[Any, Any], preds: list[str], refs: list[str], layer: int, idf: bool, specials: bool
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """bert-score's formulas; [CLS]/[SEP] weigh 0 and, unless ``specials``, are not matched.

    ``specials=True`` is bert-score's rule, ``False`` torchmetrics'. Also returns, per pair,
    whether some weighted token's best match under bert-score's rule is [CLS] or [SEP].
    """
    import torch

    tok, model = hf

    def encode(text: str) -> tuple[list[int], np.ndarray]:
        ids = tok(text, truncation=True, max_length=512)["input_ids"]
        with torch.inference_mode():
            out = model(torch.tensor([ids]), output_hidden_states=True).hidden_states[layer][0]
        emb = out.double().numpy()
        return ids, emb / np.linalg.norm(emb, axis=1, keepdims=True)

    ref_sets = [set(tok(r)["input_ids"]) for r in refs]

    def weights(ids: list[int]) -> np.ndarray:
        w = np.ones(len(ids))
        if idf:
            df = np.array([sum(t in s for s in ref_sets) for t in ids], dtype=np.float64)
            w = np.log((len(refs) + 1) / (df + 1))
        w[[0, -1]] = 0.0
        return w

    rows, hits = [], []
    for pred, ref in zip(preds, refs, strict=True):
        (ci, c), (ri, r) = encode(pred), encode(ref)
        sim = c @ r.T
        inner = sim[1:-1, 1:-1]
        hits.append(
            bool(np.any(np.isin(sim[1:-1].argmax(axis=1), [0, len(ri) - 1])))
            or bool(np.any(np.isin(sim[:, 1:-1].argmax(axis=0), [0, len(ci) - 1])))
        )
        best_c = sim.max(axis=1)[1:-1] if specials else inner.max(axis=1)
        best_r = sim.max(axis=0)[1:-1] if specials else inner.max(axis=0)
        wc, wr = weights(ci)[1:-1], weights(ri)[1:-1]
        p, rr = float(wc @ best_c / wc.sum()), float(wr @ best_r / wr.sum())
        rows.append((p, rr, 2 * p * rr / (p + rr)))
    arr = np.array(rows)
    return {"precision": arr[:, 0], "recall": arr[:, 1], "f1": arr[:, 2]}, np.array(hits)


def test_torchmetrics_misaligns_pairs_in_a_batch() -> None:
    # Lengths long, short, middle: the length sort is a 3-cycle, not its own inverse.
    preds = [
        "this candidate sentence is clearly the longest one of the three here",
        "short one",
        "a middle sized candidate",
    ]
    refs = [
        "this reference is clearly the longest one of the three given here",
        "short",
        "a middle sized reference",
    ]
    batched = _tm(preds, refs, num_layers=5)["f1"]
    pairs = list(zip(preds, refs, strict=True))
    alone = np.array([_tm([p], [r], num_layers=5)["f1"][0] for p, r in pairs])
    assert np.max(np.abs(batched - alone)) > 0.05  # torchmetrics: depends on the other pairs
    ours = _evalkit(preds, refs)["f1"]
    ours_alone = np.array([_evalkit([p], [r])["f1"][0] for p, r in pairs])
    assert np.array_equal(ours, ours_alone)  # evalkit: each pair on its own


@pytest.mark.parametrize("idf", [False, True])
def test_same_formulas_but_special_tokens_are_not_matched(hf: tuple[Any, Any], idf: bool) -> None:
    preds = [*SORTED_PREDS[:2], "?!... ,;:", *SORTED_PREDS[2:]]  # lengths still increasing
    refs = [*SORTED_REFS[:2], "Only punctuation, really!", *SORTED_REFS[2:]]
    tm = _tm(preds, refs, num_layers=5, idf=idf)
    ours = _evalkit(preds, refs, idf=idf)
    bert_rule, hits = _rule(hf, preds, refs, layer=5, idf=idf, specials=True)
    tm_rule, _ = _rule(hf, preds, refs, layer=5, idf=idf, specials=False)
    for key in ("precision", "recall", "f1"):
        np.testing.assert_allclose(tm[key], tm_rule[key], atol=2e-5)
        np.testing.assert_allclose(ours[key], bert_rule[key], atol=2e-5)
    # Where no token matches [CLS]/[SEP] best, the numbers agree; elsewhere torchmetrics differs.
    assert 0 < hits.sum() < len(hits)
    diff = np.abs(ours["f1"] - tm["f1"])
    assert np.all(diff[~hits] < 1e-6)
    assert np.all(diff[hits] > 1e-4) and np.all(diff < 0.05)


def test_identity_scores_one_in_both() -> None:
    text = ["the quick brown fox jumps over the lazy dog"]
    assert _tm(text, text, num_layers=5)["f1"][0] == pytest.approx(1.0, abs=1e-6)
    assert _evalkit(text, text)["f1"][0] == pytest.approx(1.0, abs=1e-12)


def test_default_layer_is_the_last() -> None:
    default = _tm(SORTED_PREDS, SORTED_REFS)["f1"]
    np.testing.assert_allclose(default, _tm(SORTED_PREDS, SORTED_REFS, num_layers=6)["f1"])
    assert BERTScore().num_layers == 5
    assert np.max(np.abs(_evalkit(SORTED_PREDS, SORTED_REFS)["f1"] - default)) > 0.01


def test_empty_candidate() -> None:
    tm = _tm(["", "a cat"], ["a reference", "a cat sat"], num_layers=5)
    assert math.isnan(tm["precision"][0]) and tm["f1"][0] == 0.0
    ours = _evalkit(["", "a cat"], ["a reference", "a cat sat"])
    assert [ours[k][0] for k in ("precision", "recall", "f1")] == [0.0, 0.0, 0.0]


def test_baseline_row_follows_num_layers_or_is_the_last(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.tsv"
    rows = ["LAYER,P,R,F"] + [f"{k},0.{k + 1}0,0.{k + 1}5,0.{k + 1}2" for k in range(7)]
    baseline.write_text("\n".join(rows) + "\n", encoding="utf-8")
    kw = {"rescale_with_baseline": True, "baseline_path": str(baseline)}
    raw5 = _tm(SORTED_PREDS, SORTED_REFS, num_layers=5)["f1"]
    np.testing.assert_allclose(
        _tm(SORTED_PREDS, SORTED_REFS, num_layers=5, **kw)["f1"], (raw5 - 0.62) / 0.38, atol=1e-6
    )
    raw_last = _tm(SORTED_PREDS, SORTED_REFS)["f1"]
    np.testing.assert_allclose(
        _tm(SORTED_PREDS, SORTED_REFS, **kw)["f1"], (raw_last - 0.72) / 0.28, atol=1e-6
    )
    ours = _evalkit(SORTED_PREDS, SORTED_REFS)["f1"]
    ours_scaled = _evalkit(SORTED_PREDS, SORTED_REFS, **kw)["f1"]
    b5 = float(np.float32(0.62))
    np.testing.assert_allclose(ours_scaled, (ours - b5) / (1 - b5), atol=1e-12)
