"""evalkit's bleu, chrf and ter equal sacrebleu's corpus scores on a shared corpus.

The reference numbers come from sacrebleu's public API (``corpus_score`` of its metric classes
and the ``sacrebleu.corpus_*`` functions), never from evalkit code. Every setting that changes
the number is covered, with one, several and a variable number of references per sample.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pytest
import sacrebleu
from sacrebleu.metrics import BLEU, CHRF, TER

from evalkit import __version__
from evalkit._validate import as_samples
from evalkit.errors import AssetError, ConfigError
from evalkit.metrics import bleu, chrf, ter
from evalkit.metrics.base import VectorMetric
from evalkit.metrics.text.bleu import BLEU as EvalBLEU
from evalkit.metrics.text.chrf import CHRF as EvalCHRF
from evalkit.metrics.text.ter import TER as EvalTER
from tests.parity._corpus import SEED, Corpus, build_corpus

TOL = 1e-9


def _installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# sacrebleu's MeCab tokenizers need its optional extras ('sacrebleu[ja]', 'sacrebleu[ko]').
_MECAB_SETTINGS: list[dict[str, Any]] = [
    *([{"tokenize": "ja-mecab"}] if _installed("MeCab") else []),
    *([{"tokenize": "ko-mecab"}] if _installed("mecab_ko") else []),
]

BLEU_SETTINGS: list[dict[str, Any]] = [
    {},
    {"tokenize": "13a"},
    {"tokenize": "intl"},
    {"tokenize": "char"},
    {"tokenize": "none"},
    {"tokenize": "zh"},
    {"trg_lang": "zh"},
    {"lowercase": True},
    {"lowercase": True, "tokenize": "intl"},
    {"smooth_method": "exp"},
    {"smooth_method": "floor"},
    {"smooth_method": "floor", "smooth_value": 0.3},
    {"smooth_method": "add-k"},
    {"smooth_method": "add-k", "smooth_value": 2},
    {"smooth_method": "none"},
    {"effective_order": True},
    {"effective_order": True, "smooth_method": "none"},
    {"max_ngram_order": 2},
    {"max_ngram_order": 6, "smooth_method": "floor"},
    *_MECAB_SETTINGS,
]

CHRF_SETTINGS: list[dict[str, Any]] = [
    {},
    {"word_order": 2},
    {"word_order": 1},
    {"char_order": 4},
    {"char_order": 0, "word_order": 2},
    {"beta": 1},
    {"beta": 3, "word_order": 2},
    {"lowercase": True},
    {"whitespace": True},
    {"eps_smoothing": True},
    {"eps_smoothing": True, "word_order": 2},
]

TER_SETTINGS: list[dict[str, Any]] = [
    {},
    {"normalized": True},
    {"case_sensitive": True},
    {"no_punct": True},
    {"normalized": True, "asian_support": True},
    {"no_punct": True, "asian_support": True},
    {"normalized": True, "no_punct": True, "case_sensitive": True},
]

CASES = (
    [("bleu", EvalBLEU, BLEU, s) for s in BLEU_SETTINGS]
    + [("chrf", EvalCHRF, CHRF, s) for s in CHRF_SETTINGS]
    + [("ter", EvalTER, TER, s) for s in TER_SETTINGS]
)
IDS = [f"{name}-{json.dumps(s, sort_keys=True)}" for name, _, _, s in CASES]


def _reference(ref_cls: type, settings: dict[str, Any], corpus: Corpus) -> float:
    return float(ref_cls(**settings).corpus_score(corpus.predictions, corpus.streams()).score)


@pytest.mark.parametrize(("name", "cls", "ref_cls", "settings"), CASES, ids=IDS)
def test_corpus_score_equals_sacrebleu(
    corpus: Corpus, name: str, cls: type[VectorMetric], ref_cls: type, settings: dict[str, Any]
) -> None:
    metric = cls.build(settings)
    got = metric.score(as_samples(name, corpus.predictions, corpus.references))
    assert got.value == pytest.approx(_reference(ref_cls, settings, corpus), abs=TOL, rel=0)
    assert got.n == len(corpus.predictions)


@pytest.mark.parametrize(("name", "cls", "ref_cls", "settings"), CASES, ids=IDS)
def test_sentence_level_equals_sacrebleu(
    variable_corpus: Corpus,
    name: str,
    cls: type[VectorMetric],
    ref_cls: type,
    settings: dict[str, Any],
) -> None:
    """Aggregating one sample's statistics gives sacrebleu's sentence_score."""
    metric = cls.build(settings)
    stats = metric.sample_stats(
        as_samples(name, variable_corpus.predictions, variable_corpus.references)
    )
    ref_metric = ref_cls(**settings)
    for st, pred, refs in zip(
        stats, variable_corpus.predictions, variable_corpus.references, strict=True
    ):
        want = ref_metric.sentence_score(pred, refs).score
        assert metric.aggregate([st])[name] == pytest.approx(want, abs=TOL, rel=0)


@pytest.mark.parametrize(("name", "cls", "ref_cls", "settings"), CASES, ids=IDS)
def test_from_totals_rows_equal_sacrebleu_on_shards(
    variable_corpus: Corpus,
    name: str,
    cls: type[VectorMetric],
    ref_cls: type,
    settings: dict[str, Any],
) -> None:
    """One from_totals call over several summed rows (what bootstrap does) equals sacrebleu on
    each shard, and calling it twice gives the same numbers (add-k smoothing adds to sacrebleu's
    counts in place; the totals must not change)."""
    metric = cls(**settings)
    samples = as_samples(name, variable_corpus.predictions, variable_corpus.references)
    stats = np.asarray(metric.sample_stats(samples), dtype=np.float64)
    bounds = [(0, 10), (10, 37), (37, len(samples)), (0, len(samples))]
    totals = np.stack([stats[a:b].sum(axis=0) for a, b in bounds])
    before = totals.copy()
    counts = np.array([b - a for a, b in bounds])
    first = metric.from_totals(totals, counts)[name]
    second = metric.from_totals(totals, counts)[name]
    np.testing.assert_array_equal(totals, before)
    np.testing.assert_array_equal(first, second)
    for (a, b), value in zip(bounds, first, strict=True):
        shard = Corpus("shard", variable_corpus.predictions[a:b], variable_corpus.references[a:b])
        assert value == pytest.approx(_reference(ref_cls, settings, shard), abs=TOL, rel=0)


def test_compat_functions_agree(corpus: Corpus) -> None:
    """The old-style sacrebleu.corpus_* functions give the same numbers as evalkit."""
    preds, refs, streams = corpus.predictions, corpus.references, corpus.streams()
    pairs = [
        (bleu(preds, refs).value, sacrebleu.corpus_bleu(preds, streams).score),
        (
            bleu(preds, refs, tokenize="intl", smooth_method="floor").value,
            sacrebleu.corpus_bleu(preds, streams, tokenize="intl", smooth_method="floor").score,
        ),
        (chrf(preds, refs).value, sacrebleu.corpus_chrf(preds, streams).score),
        (
            chrf(preds, refs, word_order=2).value,
            sacrebleu.corpus_chrf(preds, streams, word_order=2).score,
        ),
        (ter(preds, refs).value, sacrebleu.corpus_ter(preds, streams).score),
        (
            ter(preds, refs, normalized=True).value,
            sacrebleu.corpus_ter(preds, streams, normalized=True).score,
        ),
    ]
    for got, want in pairs:
        assert got == pytest.approx(want, abs=TOL, rel=0)


def test_scores_are_in_the_interesting_range(corpus: Corpus) -> None:
    """Guard the corpus itself: parity on all-zero or all-perfect scores would prove little."""
    assert 10 < bleu(corpus.predictions, corpus.references).value < 90
    assert 10 < chrf(corpus.predictions, corpus.references).value < 90
    assert 10 < ter(corpus.predictions, corpus.references).value < 90


def test_variable_references_use_each_samples_own_list(variable_corpus: Corpus) -> None:
    counts = {len(r) for r in variable_corpus.references}
    assert len(counts) > 1  # the corpus really has variable reference counts
    # Scoring the samples in any grouping gives the same statistics as one batch.
    metric = EvalBLEU()
    samples = as_samples("bleu", variable_corpus.predictions, variable_corpus.references)
    whole = metric.sample_stats(samples)
    parts = metric.sample_stats(samples[:7]) + metric.sample_stats(samples[7:])
    assert whole == parts


@pytest.mark.parametrize(("name", "cls", "ref_cls", "settings"), CASES, ids=IDS)
def test_signature_contains_sacrebleus(
    name: str, cls: type[VectorMetric], ref_cls: type, settings: dict[str, Any]
) -> None:
    """evalkit's signature holds sacrebleu's signature verbatim, minus the data-dependent
    ``nrefs`` field, plus the evalkit version."""
    ref_metric = ref_cls(**settings)
    ref_metric.corpus_score(["a b c d"], [["a b c d"]])
    want = ref_metric.get_signature().format()
    assert want.startswith("nrefs:1|")
    sig = cls.build(settings).signature()
    assert sig.startswith(f"{name}|{want.removeprefix('nrefs:1|')}|")
    assert sig.endswith(f"|evalkit:{__version__}")
    assert "nrefs" not in sig


def test_signature_records_what_sacrebleu_leaves_out() -> None:
    assert "max_ngram_order:4" in EvalBLEU().signature()
    assert EvalBLEU(max_ngram_order=2).signature() != EvalBLEU().signature()
    assert EvalCHRF(beta=1).signature() != EvalCHRF().signature()
    # sacrebleu prints the smoothing value with two decimals; evalkit keeps the exact value.
    a = EvalBLEU(smooth_method="floor", smooth_value=0.101).signature()
    b = EvalBLEU(smooth_method="floor", smooth_value=0.1).signature()
    assert a != b


@pytest.mark.parametrize(
    ("cls", "params", "fragment"),
    [
        (EvalBLEU, {"tokenize": "13b"}, "tokenize='13b' is not allowed"),
        (EvalBLEU, {"smooth_method": "laplace"}, "smooth_method='laplace'"),
        (EvalBLEU, {"smooth_value": 0.2}, "smooth_value applies to smooth_method"),
        (EvalBLEU, {"smooth_method": "floor", "smooth_value": -1}, "smooth_value must be"),
        (EvalBLEU, {"max_ngram_order": 0}, "max_ngram_order must be >= 1"),
        (EvalBLEU, {"max_ngram_order": 4.0}, "max_ngram_order must be int"),
        (EvalBLEU, {"lowercase": "yes"}, "lowercase must be bool"),
        (EvalCHRF, {"char_order": 0, "word_order": 0}, "both 0"),
        (EvalCHRF, {"beta": -1}, "beta must be >= 0"),
        (EvalCHRF, {"word_order": True}, "word_order must be int"),
        (EvalTER, {"normalized": 1}, "normalized must be bool"),
    ],
)
def test_bad_settings_fail_at_construction(
    cls: type[VectorMetric], params: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        cls.build(params)
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"{cls.name}: ")


def test_tokenizers_needing_missing_assets_fail_at_construction() -> None:
    """ja-mecab needs MeCab; the SentencePiece tokenizers need a model file that sacrebleu
    would download. Both are a clear AssetError, never a download or a late failure."""
    try:
        import MeCab  # noqa: F401
    except ImportError:
        with pytest.raises(AssetError, match="sacrebleu\\[ja\\]"):
            EvalBLEU(tokenize="ja-mecab")
    from sacrebleu.tokenizers.tokenizer_spm import SPM_MODELS
    from sacrebleu.utils import SACREBLEU_DIR

    model = os.path.basename(SPM_MODELS["flores200"]["url"])
    if not os.path.exists(os.path.join(SACREBLEU_DIR, "models", model)):
        with pytest.raises(AssetError, match="SentencePiece model"):
            EvalBLEU(tokenize="flores200")


# ------------------------------------------------------------- exact fast paths, worker pool


def _pairs(corpus: Corpus) -> list[tuple[str, list[str]]]:
    return list(zip(corpus.predictions, corpus.references, strict=True))


def test_fast_13a_tokenizer_equals_sacrebleu() -> None:
    """evalkit's 13a (a translate table plus guarded rules) equals sacrebleu's Tokenizer13a on
    the parity corpora and on random strings over the characters its rules treat specially."""
    import random

    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    from evalkit.metrics.text._sacre_fast import fast_13a_available, tokenize_13a

    assert fast_13a_available()
    ref = Tokenizer13a()
    texts = [t for kind in ("single", "multi") for t in build_corpus(kind, 300).predictions]
    rng = random.Random(SEED)
    alphabet = "ab Z.,-&;:'\"()[]{}<>/\\`~^_|!?09\n\t\u00e9\u6771\u2013\u00a0"
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(5000)]
    texts += ["&quot;&amp;&lt;&gt;<skipped>-\nx", "3.14-15, 2,000. a.b", " . , - "]
    for text in texts:
        assert tokenize_13a(text) == ref(text), text


@pytest.mark.parametrize(
    ("name", "cls", "ref_cls", "settings"),
    [c for c in CASES if c[0] in ("bleu", "chrf")],
    ids=[i for i, c in zip(IDS, CASES, strict=True) if c[0] in ("bleu", "chrf")],
)
def test_fast_statistics_equal_sacrebleus_per_segment(
    name: str, cls: type[VectorMetric], ref_cls: type, settings: dict[str, Any]
) -> None:
    """Segment by segment, on a larger corpus, evalkit's statistics are sacrebleu's own."""
    corpus = build_corpus("variable", 600)
    metric = cls.build(settings)
    got = metric.sample_stats(as_samples(name, corpus.predictions, corpus.references))
    want = ref_cls(**settings)._extract_corpus_statistics(corpus.predictions, corpus.streams())
    assert got == [[float(x) if isinstance(x, float) else x for x in row] for row in want]


def test_fast_ter_equals_sacrebleu_on_hard_cases() -> None:
    """Random word sequences with a small vocabulary (many repeated words and shift
    candidates), long sentences (shift distance limit), very unequal lengths (wider beam) and
    empty sides: evalkit's TER equals sacrebleu's lib_ter exactly."""
    import random

    from sacrebleu.metrics.lib_ter import translation_edit_rate as reference

    from evalkit.metrics.text._ter_fast import translation_edit_rate

    rng = random.Random(SEED)
    cases: list[tuple[list[str], list[str]]] = []
    for _ in range(400):
        vocab = rng.choice([2, 3, 5, 10, 50])
        lh = rng.choice([0, 1, 2, 5, 10, 20, 40])
        lr = rng.choice([0, 1, 3, 10, 25, 60])
        cases.append(
            (
                [str(rng.randrange(vocab)) for _ in range(lh)],
                [str(rng.randrange(vocab)) for _ in range(lr)],
            )
        )
    for lh, lr in [(3, 150), (120, 2), (70, 80)]:
        vocab = rng.choice([5, 30])
        cases.append(
            (
                [str(rng.randrange(vocab)) for _ in range(lh)],
                [str(rng.randrange(vocab)) for _ in range(lr)],
            )
        )
    corpus = build_corpus("single", 300)
    cases += [(p.split(), r[0].split()) for p, r in _pairs(corpus)]
    for hyp, ref in cases:
        assert translation_edit_rate(hyp, ref) == reference(hyp, ref), (hyp, ref)


@pytest.mark.parametrize(
    ("cls", "settings"),
    [
        (EvalBLEU, {}),
        (EvalBLEU, {"tokenize": "intl", "lowercase": True}),
        *([(EvalBLEU, s) for s in _MECAB_SETTINGS]),
        (EvalCHRF, {"word_order": 2}),
        (EvalTER, {}),
        (EvalTER, {"normalized": True, "asian_support": True}),
    ],
)
def test_worker_pool_gives_the_serial_statistics(
    monkeypatch: pytest.MonkeyPatch, cls: type[VectorMetric], settings: dict[str, Any]
) -> None:
    """Forked workers (forced here with a low threshold and two workers) return exactly the
    statistics of the serial path, in order, and the corpus score stays sacrebleu's."""
    corpus = build_corpus("variable", 300)
    metric = cls.build(settings)
    samples = as_samples(cls.name, corpus.predictions, corpus.references)
    monkeypatch.setenv("EVALKIT_WORKERS", "1")
    serial = metric.sample_stats(samples)
    monkeypatch.setenv("EVALKIT_WORKERS", "2")
    monkeypatch.setattr(cls, "parallel_min_samples", 10)
    pooled = metric.sample_stats(samples)
    assert pooled == serial
    ref_cls = {"bleu": BLEU, "chrf": CHRF, "ter": TER}[cls.name]
    want = _reference(ref_cls, settings, corpus)
    assert metric.aggregate(pooled)[cls.name] == pytest.approx(want, abs=TOL, rel=0)
