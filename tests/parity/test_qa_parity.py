"""evalkit's exact_match and token_f1 equal the SQuAD metric of torchmetrics.

torchmetrics (``torchmetrics.functional.text.squad``) reproduces the official SQuAD scripts and
reports percentages computed in float32, so evalkit's fractions are compared after multiplying
by 100, to float32 precision. Hand-computed cases carry their derivation in comments.
"""

from __future__ import annotations

import random
import string

import pytest

from evalkit.metrics import exact_match, token_f1
from evalkit.metrics.qa import normalize_answer, normalize_answers
from tests.parity._corpus import SEED, WORDS

# float32 accumulation in torchmetrics: relative error up to ~1e-6 on a corpus of this size.
REL = 1e-5


def _answers(n: int = 300) -> tuple[list[str], list[list[str]]]:
    """Short answer spans from Python's help text and variants a model might produce."""
    rng = random.Random(f"{SEED}-qa")
    preds: list[str] = []
    refs: list[list[str]] = []
    for _ in range(n):
        start = rng.randrange(len(WORDS) - 8)
        gold = " ".join(WORDS[start : start + rng.randint(1, 6)])
        variants = [
            gold,
            gold.upper(),
            f"The {gold}.",
            f"  {gold}!!  ",
            " ".join(gold.split()[1:]),  # partial span
            gold + " " + " ".join(WORDS[start + 6 : start + 8]),  # overlong span
            " ".join(rng.sample(WORDS, 3)),  # unrelated
            "an a the",  # only articles: normalises to the empty string
            "",
        ]
        preds.append(rng.choice(variants))
        extra = [" ".join(WORDS[start + 1 : start + rng.randint(2, 5)]) for _ in range(2)]
        refs.append([gold, *extra][: rng.randint(1, 3)])
    return preds, refs


def test_equals_torchmetrics_squad() -> None:
    tm_squad = pytest.importorskip("torchmetrics.functional.text").squad
    preds, refs = _answers()
    tm = tm_squad(
        [{"prediction_text": p, "id": str(i)} for i, p in enumerate(preds)],
        [
            {"answers": {"answer_start": [0] * len(r), "text": r}, "id": str(i)}
            for i, r in enumerate(refs)
        ],
    )
    em = exact_match(preds, refs).value
    f1 = token_f1(preds, refs).value
    assert 0.1 < em < 0.9 and 0.1 < f1 < 0.9  # the corpus is not degenerate
    assert 100 * em == pytest.approx(float(tm["exact_match"]), rel=REL)
    assert 100 * f1 == pytest.approx(float(tm["f1"]), rel=REL)


def test_per_sample_equals_torchmetrics() -> None:
    """Sample by sample, so that a wrong case cannot hide in a corpus average."""
    tm_text = pytest.importorskip("torchmetrics.functional.text.squad")
    preds, refs = _answers(80)
    for p, r in zip(preds, refs, strict=True):
        want_em = max(float(tm_text._compute_exact_match_score(p, t)) for t in r)
        want_f1 = max(float(tm_text._compute_f1_score(p, t)) for t in r)
        assert exact_match([p], [r]).value == want_em
        assert token_f1([p], [r]).value == pytest.approx(want_f1, rel=REL)


@pytest.mark.parametrize(
    ("pred", "refs", "em", "f1"),
    [
        # Case, punctuation and the article are normalised away: "the cat!" -> "cat".
        ("The Cat!", ["cat"], 1.0, 1.0),
        # Tokens {big, red, dog} vs {red, dog, barked}: 2 shared, P = R = 2/3, F1 = 2/3.
        ("big red dog", ["the red dog barked"], 0.0, 2 / 3),
        # Repeated tokens are clipped: common = min(3, 1) = 1, P = 1/3, R = 1, F1 = 0.5.
        ("dog dog dog", ["dog"], 0.0, 0.5),
        # Maximum over references: the second reference matches exactly.
        ("Dog", ["cat", "dog."], 1.0, 1.0),
        # Both sides normalise to nothing: EM 1; F1 1 by the SQuAD v2.0 / torchmetrics rule
        # (the v1.1 script would give F1 = 0 here).
        ("the", ["an"], 1.0, 1.0),
        # An empty prediction against a non-empty answer: 0 for both.
        ("", ["x"], 0.0, 0.0),
        # Only ASCII punctuation (string.punctuation) is removed; the em dash stays inside the
        # token "café—bar", which shares nothing with {café, bar}.
        ("café—bar", ["café bar"], 0.0, 0.0),
        # Hyphens are ASCII punctuation and are deleted, not replaced by spaces:
        # "state-of-the-art" -> "stateoftheart" (one token), so it does not match the spaced form.
        ("state-of-the-art", ["state of the art"], 0.0, 0.0),
        # Articles are whole words only: "another theme" keeps both tokens.
        ("another theme", ["another theme"], 1.0, 1.0),
        # P = 1/1, R = 1/4 ({one} vs {one, two, three, four}), F1 = 2 * 1 * 0.25 / 1.25 = 0.4.
        ("one", ["one two three four"], 0.0, 0.4),
    ],
)
def test_hand_computed(pred: str, refs: list[str], em: float, f1: float) -> None:
    assert exact_match([pred], [refs]).value == em
    assert token_f1([pred], [refs]).value == pytest.approx(f1, abs=1e-15)


def test_normalisation_steps() -> None:
    # lowercase -> drop punctuation -> drop articles -> collapse whitespace
    assert normalize_answer("  A  Tale of TWO cities. ") == "tale of two cities"
    assert normalize_answer(string.punctuation) == ""
    assert normalize_answer("Theatre an Anchor") == "theatre anchor"


def test_normalize_none_is_strict() -> None:
    assert exact_match(["The Cat!"], [["cat"]], normalize="none").value == 0.0
    assert exact_match(["cat"], [["cat"]], normalize="none").value == 1.0
    # Whitespace tokens without normalisation: {The, cat} vs {the, cat}, P = R = 1/2.
    assert token_f1(["The cat"], [["the cat"]], normalize="none").value == 0.5


def test_values_are_fractions() -> None:
    preds, refs = _answers(50)
    for value in (exact_match(preds, refs).value, token_f1(preds, refs).value):
        assert 0.0 <= value <= 1.0


#: Characters where a batch's join could change a result: cased and final-sigma letters,
#: combining marks, every kind of whitespace str.split knows, non-ASCII punctuation, the
#: articles at word edges, and the batch separator itself.
_TRICKY = [*"aAnNtThHeE .,!'-_()", "Σ", "σ", "ς", "ΟΔΟΣ", "İ", "ß", "é", "\u0301", "\u2028",
           "\x1c", "\x85", "\xa0", "\t", "\n", "日", "—", "’", "\u200d", "ǅ", " the ",
           " an ", " a ", "\ufb01", "\x00"]  # fmt: skip


def test_batch_normalisation_equals_normalising_each_answer() -> None:
    rng = random.Random(f"{SEED}-qa-batch")
    for _ in range(2000):
        texts = [
            "".join(rng.choice(_TRICKY) for _ in range(rng.randint(0, 12)))
            for _ in range(rng.randint(1, 12))
        ]
        assert normalize_answers(texts) == [normalize_answer(t) for t in texts], texts
    assert normalize_answers([]) == []
    assert normalize_answers(["a\x00The cat", "ΣΑΣ"]) == ["\x00 cat", "σας"]
