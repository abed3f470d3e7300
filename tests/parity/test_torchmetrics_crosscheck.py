"""Where torchmetrics' text metrics agree with the reference libraries, and where they differ.

evalkit equals sacrebleu and rouge-score (tests/parity/); torchmetrics re-implements them in
torch. On the same corpus:

- scales: torchmetrics reports BLEU, chrF and TER in [0, 1]; sacrebleu (and evalkit) in [0, 100];
- defaults: torchmetrics' ``chrf_score`` defaults to chrF++ (``n_word_order=2``), sacrebleu's
  ``CHRF`` to plain chrF (``word_order=0``);
- precision: torchmetrics computes in float32, so values agree to about 1e-6 relative;
- chrF++ (word n-grams): torchmetrics differs by more than float32 rounding (about 2e-4
  points here); plain chrF agrees;
- ROUGE: ``rougeLsum`` in torchmetrics splits sentences with nltk's punkt, which is not
  available offline, so only rouge1/2/L are compared.
BERTScore's differences are in tests/metrics/text/test_bertscore_torchmetrics.py.
"""

from __future__ import annotations

import random

import pytest

import evalkit.metrics as M
from tests.parity._corpus import perturb, sentence

T = pytest.importorskip("torchmetrics.functional.text")


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[list[str]]]:
    rng = random.Random(5)
    refs = [sentence(rng) for _ in range(60)]
    return [perturb(rng, r, 0.3) for r in refs], [[r] for r in refs]


@pytest.mark.parametrize("tokenize", ["13a", "intl", "char"])
def test_bleu_agrees_to_float32(corpus: tuple[list[str], list[list[str]]], tokenize: str) -> None:
    preds, refs = corpus
    theirs = 100 * float(T.sacre_bleu_score(preds, refs, tokenize=tokenize))
    assert theirs == pytest.approx(M.bleu(preds, refs, tokenize=tokenize).value, rel=1e-6)


def test_chrf_agrees_but_chrf_plus_plus_differs(corpus: tuple[list[str], list[list[str]]]) -> None:
    preds, refs = corpus
    plain = 100 * float(T.chrf_score(preds, refs, n_word_order=0))
    assert plain == pytest.approx(M.chrf(preds, refs).value, rel=1e-6)
    default = 100 * float(T.chrf_score(preds, refs))  # torchmetrics' default is chrF++
    ours = M.chrf(preds, refs, word_order=2).value
    assert default != pytest.approx(M.chrf(preds, refs).value, rel=1e-4)  # not plain chrF
    assert default == pytest.approx(ours, abs=1e-3)
    assert abs(default - ours) > 1e-5  # beyond float32 rounding at this magnitude


def test_ter_agrees_to_float32(corpus: tuple[list[str], list[list[str]]]) -> None:
    preds, refs = corpus
    theirs = 100 * float(T.translation_edit_rate(preds, refs))
    assert theirs == pytest.approx(M.ter(preds, refs).value, rel=1e-6)


@pytest.mark.parametrize("stem", [False, True])
def test_rouge_agrees_to_float32(corpus: tuple[list[str], list[list[str]]], stem: bool) -> None:
    preds, refs = corpus
    keys = ("rouge1", "rouge2", "rougeL")
    theirs = T.rouge_score(preds, [r[0] for r in refs], use_stemmer=stem, rouge_keys=keys)
    ours = M.rouge(preds, refs, use_stemmer=stem, rouge_types=list(keys)).details
    for key in keys:
        assert float(theirs[f"{key}_fmeasure"]) == pytest.approx(ours[key], rel=1e-6)
