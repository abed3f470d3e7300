"""evalkit's meteor equals nltk's ``meteor_score`` called directly, on the same tokens.

nltk's ``meteor_score(references, hypothesis, ...)`` takes pre-tokenized text; the reference
numbers here come from it with the tokenizer evalkit records (``wordpunct``: nltk's own
``wordpunct_tokenize``; ``whitespace``: ``str.split``), nltk's ``PorterStemmer()`` and the
WordNet reader evalkit loads (:func:`evalkit.assets.wordnet.wordnet`), passed explicitly so
that nltk
never looks for its own data. Per-sample scores must be identical (the same floating-point
operations in the same order); corpus means may differ from a plain ``sum / n`` by rounding
(1e-12 allowed).

Covered: the shared generated corpora (one, three and one to four references), a corpus whose
predictions swap words for WordNet synonyms and inflected forms (checked to exercise the stem
and synonym stages), hand-made synonym and stem pairs, several ``alpha``/``beta``/``gamma``
settings, both tokenizers, and empty or punctuation-only text (nltk scores an empty side 0;
evalkit refuses only samples whose references are all empty, as its data loader does).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from nltk.stem.porter import PorterStemmer
from nltk.tokenize import wordpunct_tokenize
from nltk.translate.meteor_score import meteor_score

from evalkit._validate import as_samples
from evalkit.assets.wordnet import wordnet
from evalkit.errors import AssetError, ConfigError, InputError
from evalkit.metrics.text.meteor import METEOR, meteor_sentence, tokenize
from tests.parity._corpus import SEED, Corpus, build_corpus, perturb, sentence

TOL = 1e-12
NLTK_TOKENIZERS: dict[str, Callable[[str], list[str]]] = {
    "wordpunct": wordpunct_tokenize,
    "whitespace": str.split,
}
# (alpha, beta, gamma): nltk's defaults (Banerjee & Lavie 2005), Lavie & Agarwal (2007)'s
# English adequacy tuning, METEOR 1.5's English defaults (Denkowski & Lavie 2014), and the
# extremes of each range.
SETTINGS = [
    (0.9, 3.0, 0.5),
    (0.81, 0.83, 0.28),
    (0.85, 0.2, 0.6),
    (0.0, 0.0, 1.0),
    (1.0, 10.0, 0.0),
]

# Hand-made pairs: WordNet synonyms, inflections, and pairs that nltk does NOT match because
# it looks up synonyms of stems ("large" stems to "larg", "automobile" to "automobil").
HAND_MADE: list[tuple[str, list[str]]] = [
    ("the big house", ["the large house"]),
    ("a quick decision", ["a fast decision"]),
    ("A fast car", ["the quick cars", "a red car"]),
    ("He is running home", ["he runs home"]),
    ("the dogs barked loudly", ["the dog barks loud"]),
    ("they begin the meeting", ["they start the meeting"]),
    ("shut the door", ["close the door"]),
    ("I want to buy a car", ["I wish to purchase an automobile"]),
    ("She was happy and glad", ["she was glad and happy"]),
    ("the firm is a big business", ["the company is a large concern"]),
    ("quickly quickly quick", ["fast fast quick"]),
    ("the the the the", ["the cat"]),
    ("cat the", ["the cat"]),
]


@pytest.fixture(scope="module")
def reader() -> Any:
    return wordnet()


def _nltk(
    reader: Any,
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    tokenize_name: str = "wordpunct",
    alpha: float = 0.9,
    beta: float = 3.0,
    gamma: float = 0.5,
) -> list[float]:
    tok = NLTK_TOKENIZERS[tokenize_name]
    stemmer = PorterStemmer()
    return [
        meteor_score(
            [tok(r) for r in refs],
            tok(pred),
            preprocess=str.lower,
            stemmer=stemmer,
            wordnet=reader,
            alpha=alpha,
            beta=beta,
            gamma=gamma,
        )
        for pred, refs in zip(predictions, references, strict=True)
    ]


def _evalkit(
    predictions: Sequence[str], references: Sequence[Sequence[str]], **params: Any
) -> tuple[list[float], float]:
    metric = METEOR(**params)
    stats = metric.sample_stats(as_samples("meteor", predictions, references))
    return [s[0] for s in stats], metric.aggregate(stats)["meteor"]


def _check(
    reader: Any,
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    tokenize_name: str = "wordpunct",
    alpha: float = 0.9,
    beta: float = 3.0,
    gamma: float = 0.5,
) -> list[float]:
    want = _nltk(reader, predictions, references, tokenize_name, alpha, beta, gamma)
    got, corpus_value = _evalkit(
        predictions, references, tokenize=tokenize_name, alpha=alpha, beta=beta, gamma=gamma
    )
    assert got == want  # bit for bit
    assert corpus_value == pytest.approx(sum(want) / len(want), abs=TOL, rel=0)
    return want


def _wordnet_corpus(reader: Any, n: int = 150, seed: int = SEED) -> Corpus:
    """Predictions that swap reference words for WordNet synonyms and inflected forms."""
    rng = random.Random(f"{seed}-wordnet")
    preds: list[str] = []
    refs: list[list[str]] = []
    for _ in range(n):
        words = sentence(rng, 6, 25).split()
        out = []
        for w in words:
            r = rng.random()
            if r < 0.3:
                names = sorted(
                    {
                        lemma.name()
                        for synset in reader.synsets(w.lower())
                        for lemma in synset.lemmas()
                        if "_" not in lemma.name()
                    }
                )
                out.append(rng.choice(names) if names else w)
            elif r < 0.45:
                out.append(w + rng.choice(["s", "ing", "ed", "ly", "er"]))
            else:
                out.append(w)
        preds.append(perturb(rng, " ".join(out), 0.15))
        refs.append(
            [" ".join(words)] + [perturb(rng, " ".join(words)) for _ in range(rng.randint(0, 2))]
        )
    return Corpus("wordnet", preds, refs)


class _NoSynonyms:
    """A WordNet stand-in without synsets: nltk's METEOR then skips its synonym stage."""

    def synsets(self, word: str) -> list[Any]:
        return []


def _identity_stemmer() -> Any:
    class Identity:
        def stem(self, word: str) -> str:
            return word

    return Identity()


# ----------------------------------------------------------------------------------- corpora


def test_equals_nltk_on_the_shared_corpora(reader: Any, corpus: Corpus) -> None:
    _check(reader, corpus.predictions, corpus.references)


@pytest.mark.parametrize(("alpha", "beta", "gamma"), SETTINGS)
def test_equals_nltk_for_each_setting(
    reader: Any, variable_corpus: Corpus, alpha: float, beta: float, gamma: float
) -> None:
    corpus = variable_corpus
    _check(reader, corpus.predictions, corpus.references, "wordpunct", alpha, beta, gamma)


@pytest.mark.parametrize("tokenize_name", ["wordpunct", "whitespace"])
def test_equals_nltk_with_synonyms_and_inflections(reader: Any, tokenize_name: str) -> None:
    corpus = _wordnet_corpus(reader)
    want = _check(reader, corpus.predictions, corpus.references, tokenize_name)
    # The corpus exercises nltk's stem and synonym stages, not only exact matches.
    tok = NLTK_TOKENIZERS[tokenize_name]
    no_syn = [
        meteor_score([tok(r) for r in refs], tok(p), wordnet=_NoSynonyms())
        for p, refs in zip(corpus.predictions, corpus.references, strict=True)
    ]
    no_stem = [
        meteor_score(
            [tok(r) for r in refs], tok(p), stemmer=_identity_stemmer(), wordnet=_NoSynonyms()
        )
        for p, refs in zip(corpus.predictions, corpus.references, strict=True)
    ]
    assert sum(w > s for w, s in zip(want, no_syn, strict=True)) >= 40
    assert sum(s > e for s, e in zip(no_syn, no_stem, strict=True)) >= 40


@pytest.mark.parametrize(("alpha", "beta", "gamma"), SETTINGS[:3])
def test_equals_nltk_on_hand_made_pairs(
    reader: Any, alpha: float, beta: float, gamma: float
) -> None:
    preds = [p for p, _ in HAND_MADE]
    refs = [r for _, r in HAND_MADE]
    _check(reader, preds, refs, "wordpunct", alpha, beta, gamma)


def test_synonyms_and_stems_match_as_in_nltk(reader: Any) -> None:
    """Hand-checked against nltk: what its three stages match, and what they miss."""
    # "fast" -> WordNet lemma "quick"; "cars" -> stem "car": m = 2 in one chunk of 3 tokens.
    assert meteor_sentence(["a", "fast", "car"], [["the", "quick", "cars"]]) == 0.625
    assert meteor_sentence(["running"], [["runs"]]) == 0.5  # stems: run = run
    assert meteor_sentence(["quick"], [["fast"]]) == 0.5  # synonyms
    # nltk looks up synonyms of stems: "large" -> "larg", "automobile" -> "automobil".
    assert meteor_sentence(["big"], [["large"]]) == 0.0
    assert meteor_sentence(["car"], [["automobile"]]) == 0.0
    for hyp, ref in [("big", "large"), ("car", "automobile"), ("quick", "fast")]:
        assert meteor_sentence([hyp], [[ref]]) == meteor_score([[ref]], [hyp], wordnet=reader)


# -------------------------------------------------------------------------- references, edges


def test_several_references_take_the_best(reader: Any) -> None:
    pred = "the cat sat on the mat"
    refs = ["a dog lay on a rug", "the cat sat on a mat", "cat"]
    singles = [_evalkit([pred], [[r]])[0][0] for r in refs]
    got = _evalkit([pred], [refs])[0][0]
    assert got == max(singles) == singles[1]
    assert got == meteor_score([r.split() for r in refs], pred.split(), wordnet=reader)


EDGES: list[tuple[str, list[str]]] = [
    ("", ["a reference"]),  # empty prediction
    ("   \t", ["a reference"]),  # whitespace-only prediction
    ("?!", ["?!"]),  # punctuation only: one wordpunct token each, an exact match
    ("a prediction", ["", "prediction a"]),  # an empty reference among others
    ("a prediction", ["  ", "zebra"]),  # ... and nothing aligns with the other
    ("nothing aligns", ["zebra xylophone"]),
]


@pytest.mark.parametrize("tokenize_name", ["wordpunct", "whitespace"])
def test_empty_predictions_and_references_score_like_nltk(reader: Any, tokenize_name: str) -> None:
    preds = [p for p, _ in EDGES]
    refs = [r for _, r in EDGES]
    want = _check(reader, preds, refs, tokenize_name)
    assert want[:2] == [0.0, 0.0]
    assert want[2] == 0.5  # a one-token exact match: 1 - 0.5 * (1/1)^3
    assert want[3] > 0.0 and want[4:] == [0.0, 0.0]


@pytest.mark.parametrize(
    ("pred", "refs"), [("a prediction", [""]), ("", [""]), ("   ", ["  \t ", "\n"])]
)
def test_only_empty_references_are_refused(reader: Any, pred: str, refs: list[str]) -> None:
    """nltk scores these 0; evalkit refuses them, as its data loader does."""
    assert meteor_score([r.split() for r in refs], pred.split(), wordnet=reader) == 0.0
    samples = as_samples("meteor", ["fine", pred], [["fine"], refs])
    with pytest.raises(InputError, match=r"^meteor: sample '1' has only empty references"):
        METEOR().sample_stats(samples)


def test_sample_warnings_flag_empty_predictions() -> None:
    metric = METEOR()
    samples = as_samples("meteor", [p for p, _ in EDGES], [r for _, r in EDGES])
    warnings = metric.sample_warnings(samples)
    message = "prediction has no tokens (tokenize=wordpunct); METEOR scores it 0"
    assert warnings == [message, message, None, None, None, None]


def test_identity_is_below_one_by_the_fragmentation_penalty() -> None:
    """One chunk of m matches: METEOR = 1 - gamma / m**beta (nltk; Banerjee & Lavie 2005)."""
    text = "one two three four five"
    assert meteor_sentence(text.split(), [text.split()]) == 1 - 0.5 / 5**3
    assert _evalkit([text], [[text]], gamma=0.0)[0] == [1.0]


# ---------------------------------------------------------------------------------- tokenizer


def test_wordpunct_is_nltks_wordpunct_tokenize() -> None:
    texts = [*build_corpus("variable").predictions, "Zürich's café: 3.14€ (ok?!)", "a\u00a0b"]
    for text in texts:
        assert tokenize(text, "wordpunct") == wordpunct_tokenize(text)
        assert tokenize(text, "whitespace") == text.split()


def test_tokenizer_changes_numbers_and_signature() -> None:
    pred, ref = "it's fine, really.", "it is fine really"
    a, b = METEOR(), METEOR(tokenize="whitespace")
    assert a.signature() != b.signature()
    assert "|tok:wordpunct|" in a.signature() and "|tok:whitespace|" in b.signature()
    sa = a.sample_stats(as_samples("meteor", [pred], [[ref]]))
    sb = b.sample_stats(as_samples("meteor", [pred], [[ref]]))
    assert sa != sb


# ------------------------------------------------------------------------ parameters, assets


@pytest.mark.parametrize(
    "bad",
    [
        {"alpha": 1.5},
        {"alpha": -0.1},
        {"beta": -1.0},
        {"gamma": 2},
        {"gamma": float("nan")},
        {"beta": "3"},
        {"alpha": True},
        {"tokenize": "13a"},
        {"tokenize": None},
    ],
)
def test_bad_parameters_are_config_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=f"^meteor: {next(iter(bad))}"):
        METEOR.build(bad)


def test_integer_parameters_are_recorded_as_floats() -> None:
    assert (
        METEOR(alpha=1, beta=3, gamma=0).signature()
        == METEOR(alpha=1.0, beta=3.0, gamma=0.0).signature()
    )


def test_signature_names_versions_and_settings() -> None:
    sig = METEOR(alpha=0.81, beta=0.83, gamma=0.28).signature()
    for part in ("alpha:0.81", "beta:0.83", "gamma:0.28", "tok:wordpunct", "wordnet:3.0"):
        assert f"|{part}|" in sig
    assert "|nltk:" in sig and "|case:lower|" in sig and "|stem:porter|" in sig


def test_missing_wordnet_is_an_asset_error_with_the_install_hint(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALKIT_WORDNET_DIR", str(tmp_path))
    with pytest.raises(AssetError) as info:
        METEOR()
    message = str(info.value)
    assert message.startswith("meteor needs WordNet")
    assert "apt-get install wordnet-base wordnet-sense-index" in message
    assert "EVALKIT_WORDNET_DIR" in message
    assert info.value.exit_code == 2
