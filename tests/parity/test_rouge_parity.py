"""evalkit's rouge equals Google's rouge-score (``RougeScorer``) called directly.

Per sample, evalkit's statistics are rouge-score's precision, recall and F-measure; corpus
values are their means. Covered: every ROUGE type alone and together, the Porter stemmer on and
off, several references with ``score_multi`` ("best") and with the mean over references, and
ROUGE-Lsum over newline-separated sentences and over sentences evalkit splits itself.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from rouge_score.rouge_scorer import RougeScorer

from evalkit._validate import as_samples
from evalkit.metrics import rouge
from evalkit.metrics.text.rouge import _ABBREVIATIONS, ROUGE, split_sentences
from tests.parity._corpus import ALPHA_WORDS, SEED, Corpus

TOL = 1e-12
ALL_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
TYPE_SETS = [["rouge1"], ["rouge2"], ["rouge3"], ["rougeL"], ["rougeLsum"], ALL_TYPES]
FIELDS = ("precision", "recall", "fmeasure")


def _expected_rows(
    scorer: RougeScorer, types: list[str], corpus: Corpus, multi_ref: str
) -> list[list[float]]:
    rows = []
    for pred, refs in zip(corpus.predictions, corpus.references, strict=True):
        if multi_ref == "best":
            best = scorer.score_multi(refs, pred)
            rows.append([getattr(best[t], f) for t in types for f in FIELDS])
        else:
            each = [scorer.score(r, pred) for r in refs]
            rows.append(
                [sum(getattr(s[t], f) for s in each) / len(each) for t in types for f in FIELDS]
            )
    return rows


def _check(metric: ROUGE, types: list[str], corpus: Corpus, expected: list[list[float]]) -> None:
    samples = as_samples("rouge", corpus.predictions, corpus.references)
    stats = metric.sample_stats(samples)
    for got_row, want_row in zip(stats, expected, strict=True):
        assert got_row == pytest.approx(want_row, abs=TOL, rel=0)
    values = metric.aggregate(stats)
    n = len(expected)
    for i, t in enumerate(types):
        for j, suffix in enumerate(("_precision", "_recall", "")):
            want = sum(row[3 * i + j] for row in expected) / n
            assert values[t + suffix] == pytest.approx(want, abs=TOL, rel=0)


@pytest.mark.parametrize("types", TYPE_SETS, ids=["+".join(t) for t in TYPE_SETS])
@pytest.mark.parametrize("use_stemmer", [False, True])
@pytest.mark.parametrize("multi_ref", ["best", "mean"])
def test_equals_rouge_score(
    corpus: Corpus, types: list[str], use_stemmer: bool, multi_ref: str
) -> None:
    scorer = RougeScorer(types, use_stemmer=use_stemmer)
    metric = ROUGE(rouge_types=types, use_stemmer=use_stemmer, multi_ref=multi_ref)
    _check(metric, types, corpus, _expected_rows(scorer, types, corpus, multi_ref))


def test_best_picks_the_reference_with_the_highest_f_per_type() -> None:
    """Hand-checked: for rouge1 the second reference wins, for rouge2 the first does."""
    pred = "the cat sat on the mat"
    refs = ["the cat sat", "mat on the sat the cat"]
    s = rouge([pred], [refs], rouge_types=["rouge1", "rouge2"])
    scorer = RougeScorer(["rouge1", "rouge2"])
    first, second = scorer.score(refs[0], pred), scorer.score(refs[1], pred)
    assert second["rouge1"].fmeasure > first["rouge1"].fmeasure
    assert first["rouge2"].fmeasure > second["rouge2"].fmeasure
    assert s.details["rouge1"] == second["rouge1"].fmeasure == 1.0
    assert s.details["rouge2"] == first["rouge2"].fmeasure


# Words that are not abbreviations, so a period after them ends the sentence.
_WORDS = [w.lower() for w in ALPHA_WORDS if w.lower() not in _ABBREVIATIONS]


def _words(rng: random.Random) -> list[str]:
    return [rng.choice(_WORDS) for _ in range(rng.randint(3, 12))]


def _noisy(rng: random.Random, words: list[str]) -> list[str]:
    out: list[str] = []
    for w in words:
        r = rng.random()
        if r < 0.1:
            continue
        out += [rng.choice(_WORDS)] if r < 0.2 else [w, w] if r < 0.25 else [w]
    return out or [rng.choice(_WORDS)]


def _sentence(rng: random.Random, words: list[str]) -> str:
    return " ".join([words[0].capitalize(), *words[1:]]) + rng.choice(".!?")


def _summaries(n: int = 40) -> tuple[list[list[str]], list[list[list[str]]]]:
    """Predictions and references as lists of sentences."""
    rng = random.Random(f"{SEED}-summaries")
    preds, refs = [], []
    for _ in range(n):
        ref_words = [_words(rng) for _ in range(rng.randint(1, 5))]
        pred_words = [_noisy(rng, ws) for ws in ref_words if rng.random() < 0.8]
        pred_words += [_words(rng) for _ in range(rng.randint(0, 2))]
        rng.shuffle(pred_words)
        preds.append([_sentence(rng, ws) for ws in pred_words])
        other = [_sentence(rng, _words(rng)) for _ in range(2)]
        refs.append([[_sentence(rng, ws) for ws in ref_words], other][: rng.randint(1, 2)])
    return preds, refs


@pytest.mark.parametrize("use_stemmer", [False, True])
@pytest.mark.parametrize("multi_ref", ["best", "mean"])
def test_rougelsum_with_newline_separated_sentences(use_stemmer: bool, multi_ref: str) -> None:
    """split_summaries=False: sentences are what the newlines say, as in rouge-score."""
    preds, refs = _summaries()
    corpus = Corpus(
        "summaries", ["\n".join(p) for p in preds], [["\n".join(r) for r in rs] for rs in refs]
    )
    scorer = RougeScorer(ALL_TYPES, use_stemmer=use_stemmer)
    metric = ROUGE(use_stemmer=use_stemmer, multi_ref=multi_ref)
    _check(metric, ALL_TYPES, corpus, _expected_rows(scorer, ALL_TYPES, corpus, multi_ref))


@pytest.mark.parametrize("use_stemmer", [False, True])
@pytest.mark.parametrize("multi_ref", ["best", "mean"])
def test_split_summaries_equals_rouge_score_on_newline_joined_sentences(
    use_stemmer: bool, multi_ref: str
) -> None:
    """split_summaries=True on running text equals rouge-score given the same sentences joined
    by newlines (rouge-score's own split_summaries needs nltk's Punkt data, not available
    offline)."""
    preds, refs = _summaries()
    for p in preds:
        assert split_sentences(" ".join(p)) == p  # the splitter recovers every sentence
    joined = Corpus(
        "joined", ["\n".join(p) for p in preds], [["\n".join(r) for r in rs] for rs in refs]
    )
    running = Corpus(
        "running", [" ".join(p) for p in preds], [[" ".join(r) for r in rs] for rs in refs]
    )
    scorer = RougeScorer(ALL_TYPES, use_stemmer=use_stemmer, split_summaries=False)
    expected = _expected_rows(scorer, ALL_TYPES, joined, multi_ref)
    metric = ROUGE(split_summaries=True, use_stemmer=use_stemmer, multi_ref=multi_ref)
    _check(metric, ALL_TYPES, running, expected)
    # Without splitting, running text is one sentence: only ROUGE-Lsum changes.
    samples = as_samples("rouge", running.predictions, running.references)
    plain = ROUGE(use_stemmer=use_stemmer, multi_ref=multi_ref).score(samples).details
    split = metric.score(samples).details
    assert plain["rougeLsum"] != split["rougeLsum"]
    for name in ("rouge1", "rouge2", "rougeL"):
        assert plain[name] == split[name]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("Mr. Smith met Dr. Who. Then left.", ["Mr. Smith met Dr. Who.", "Then left."]),
        (
            "The U.S. Army won. A. B. Cooper wrote it.",
            ["The U.S. Army won.", "A. B. Cooper wrote it."],
        ),
        ("Pi is 3.14 today. ok then", ["Pi is 3.14 today. ok then"]),
        ('He said "Stop." She did.', ['He said "Stop."', "She did."]),
        ("Line one\nLine two. Three", ["Line one", "Line two.", "Three"]),
        ("Wait... What?!  Yes.", ["Wait...", "What?!", "Yes."]),
        ("", []),
        ("  \n ", []),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


def test_signature_names_the_splitter_and_stemmer() -> None:
    assert "split:newline" in ROUGE().signature()
    assert "split:evalkit-regex-v1" in ROUGE(split_summaries=True).signature()
    assert "stem:yes" in ROUGE(use_stemmer=True).signature()
    assert "|nltk:" in ROUGE(use_stemmer=True).signature()
    assert "|nltk:" not in ROUGE().signature()
    assert "|rouge-score:" in ROUGE().signature()


def test_value_names_follow_rouge_types_order() -> None:
    kw: dict[str, Any] = {"rouge_types": ["rougeL", "rouge1"]}
    assert ROUGE(**kw).value_names() == (
        "rougeL",
        "rougeL_precision",
        "rougeL_recall",
        "rouge1",
        "rouge1_precision",
        "rouge1_recall",
    )
    assert rouge(["a b"], [["a c"]], **kw).name == "rougeL"


# ------------------------------------------------- the fast implementation on hard inputs

# Few distinct words, several of them sharing a Porter stem: many repeated tokens, LCS ties
# and equal F-measures across references.
_TIE_WORDS = ["run", "running", "runs", "cat", "cats", "the", "a", "sat", "sit", "mat", "x9"]


def _repetitive(rng: random.Random, lines: int) -> str:
    out = []
    for _ in range(lines):
        n = rng.randint(0, 9)
        words = [rng.choice(_TIE_WORDS[: rng.randint(2, len(_TIE_WORDS))]) for _ in range(n)]
        out.append(" ".join(w.upper() if rng.random() < 0.1 else w for w in words))
    if rng.random() < 0.1:
        out.append("")  # an empty line: not a sentence
    return "\n".join(out)


def _reference(rng: random.Random, lines: int) -> str:
    text = _repetitive(rng, lines)
    return text if text.strip() else "x"  # all-empty references are refused


@pytest.mark.parametrize("use_stemmer", [False, True])
@pytest.mark.parametrize("multi_ref", ["best", "mean"])
def test_equals_rouge_score_exactly_on_repetitive_multiline_text(
    use_stemmer: bool, multi_ref: str
) -> None:
    """Bit-identical P, R and F (not merely close) on 1,500 generated samples full of ties."""
    rng = random.Random(f"{SEED}-ties")
    preds, refs = [], []
    for _ in range(1500):
        preds.append(_repetitive(rng, rng.randint(1, 4)))
        refs.append([_reference(rng, rng.randint(1, 4)) for _ in range(rng.randint(1, 3))])
    types = [*ALL_TYPES, "rouge3"]
    corpus = Corpus("ties", preds, refs)
    scorer = RougeScorer(types, use_stemmer=use_stemmer)
    expected = _expected_rows(scorer, types, corpus, multi_ref)
    metric = ROUGE(rouge_types=types, use_stemmer=use_stemmer, multi_ref=multi_ref)
    got = metric.sample_stats(as_samples("rouge", preds, refs))
    assert got == [[float(x) for x in row] for row in expected]


def test_lcs_positions_equal_rouge_scores_backtracking() -> None:
    from rouge_score import rouge_scorer as rs

    from evalkit.metrics.text._rouge_impl import lcs_indices, lcs_length

    rng = random.Random(f"{SEED}-lcs")
    for _ in range(5000):
        vocab = rng.choice([1, 2, 3, 5, 20])
        a = [str(rng.randrange(vocab)) for _ in range(rng.randint(0, 70))]
        b = [str(rng.randrange(vocab)) for _ in range(rng.randint(0, 70))]
        table = rs._lcs_table(a, b)
        assert lcs_length(a, b) == table[-1][-1]
        assert lcs_indices(a, b) == rs._backtrack_norec(table, a, b)


def test_worker_pool_gives_the_serial_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.metrics.text import rouge as rouge_metric

    rng = random.Random(f"{SEED}-pool")
    preds = [_repetitive(rng, 3) for _ in range(300)]
    refs = [[_reference(rng, 2)] for _ in range(300)]
    samples = as_samples("rouge", preds, refs)
    metric = ROUGE(use_stemmer=True)
    monkeypatch.setenv("EVALKIT_WORKERS", "1")
    serial = metric.sample_stats(samples)
    monkeypatch.setenv("EVALKIT_WORKERS", "2")
    monkeypatch.setattr(rouge_metric, "PARALLEL_MIN_SAMPLES", 10)
    assert metric.sample_stats(samples) == serial
    scorer = RougeScorer(ALL_TYPES, use_stemmer=True)
    assert serial == _expected_rows(scorer, ALL_TYPES, Corpus("pool", preds, refs), "best")
