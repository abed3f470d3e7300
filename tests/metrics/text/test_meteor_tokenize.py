"""METEOR's nltk tokenizers: ``tokenize="treebank"`` and ``tokenize="word_tokenize"``.

``word_tokenize`` is ``nltk.word_tokenize`` (Punkt sentences, then ``NLTKWordTokenizer``), the
tokenization Hugging Face ``evaluate``'s ``meteor`` applies before nltk's ``meteor_score``;
``treebank`` is ``NLTKWordTokenizer`` over the whole text, without Punkt. The reference numbers
here are nltk's ``meteor_score`` on those tokens (with nltk's ``PorterStemmer()`` and the WordNet
reader evalkit loads, as in ``tests/parity/test_meteor_parity.py``): per-sample scores must be
identical, corpus means equal the mean of the sample scores up to rounding.

A test against ``evaluate``'s ``meteor`` module itself is not possible here: ``evaluate`` loads
that module's script from the Hugging Face Hub, which is not available offline, and the test
does not ship a copy of it. nltk's English Punkt model is not downloaded either: the test on it
runs only where the model is installed locally and is skipped otherwise. The same comparison
also runs on a small Punkt model written by the test (so that ``word_tokenize`` is exercised
everywhere), and a missing model is simulated by pointing nltk's data path at an empty folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import nltk
import nltk.data
import nltk.tokenize
import pytest
from nltk.stem.porter import PorterStemmer
from nltk.tokenize import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktTokenizer
from nltk.translate.meteor_score import meteor_score

from evalkit._validate import as_samples
from evalkit._version import __version__
from evalkit.assets.wordnet import wordnet
from evalkit.errors import AssetError
from evalkit.metrics.text.meteor import METEOR, PUNKT_RESOURCE, tokenize

TOL = 1e-12

# Punctuation, contractions, straight and curly quotes, several sentences (where Punkt
# matters), abbreviations, and one to three references per sample.
PREDICTIONS = [
    "The cat sat on the mat.",
    "It isn't raining; we'll go out, won't we?",
    'She said "no." Then she left.',
    "Mr. Smith arrived at 3 p.m. He was late.",
    "“Quotes” and ‘single ones’ aren't the same.",
    "He left. She stayed.",
    "Don't stop (please) -- keep going!",
    "I can't believe it's already 5:30, said the man's wife.",
    'Hi.\n"Yes," she said. It\'s fine.',
]
REFERENCES = [
    ["The cat is sitting on the mat."],
    ["It is not raining, so we will go out.", "We'll go out: it isn't raining!"],
    ['"No," she said, and then she left.', "She said no and left."],
    ["Mr. Smith came at 3 p.m.; he was late.", "Smith was late.", "He arrived late."],
    ["\"Quotes\" and 'single ones' are not the same."],
    ["He went away. She remained.", "She stayed, he left."],
    ["Do not stop, please; keep going.", "Keep going (don't stop)!"],
    ["The man's wife said she couldn't believe it was 5:30 already."],
    ['Hello.\n"Yes," she said. It is fine.', "She said yes."],
]


@pytest.fixture(scope="module")
def reader() -> Any:
    # Loaded before any test changes nltk's data path (loading adds its folder to the path).
    return wordnet()


def _nltk_scores(
    reader: Any,
    tok: Callable[[str], list[str]],
    predictions: Sequence[str] = PREDICTIONS,
    references: Sequence[Sequence[str]] = REFERENCES,
) -> list[float]:
    stemmer = PorterStemmer()
    return [
        meteor_score(
            [tok(r) for r in refs],
            tok(pred),
            preprocess=str.lower,
            stemmer=stemmer,
            wordnet=reader,
        )
        for pred, refs in zip(predictions, references, strict=True)
    ]


def _evalkit_scores(
    tokenize_name: str,
    predictions: Sequence[str] = PREDICTIONS,
    references: Sequence[Sequence[str]] = REFERENCES,
) -> tuple[list[float], float]:
    metric = METEOR(tokenize=tokenize_name)
    samples = as_samples("meteor", predictions, references)
    stats = metric.sample_stats(samples)
    return [s[0] for s in stats], metric.score(samples).value


def _assert_equals_nltk(reader: Any, tokenize_name: str, tok: Callable[[str], list[str]]) -> None:
    want = _nltk_scores(reader, tok)
    got, corpus_value = _evalkit_scores(tokenize_name)
    assert got == want  # bit for bit
    assert corpus_value == pytest.approx(sum(want) / len(want), abs=TOL, rel=0)
    assert 0 < corpus_value < 1


@pytest.fixture
def fresh_punkt() -> Iterator[None]:
    """nltk keeps the Punkt tokenizer it loaded: forget it before and after a test."""
    cached = getattr(nltk.tokenize, "_get_punkt_tokenizer", None)
    clear = getattr(cached, "cache_clear", lambda: None)
    clear()
    yield
    clear()


def _punkt_installed() -> bool:
    try:
        PunktTokenizer("english")
    except LookupError:
        return False
    return True


def _write_punkt_model(root: Path) -> Path:
    """A small English Punkt model in nltk 3.10's tab format: ``mr`` is its only abbreviation."""
    folder = root / PUNKT_RESOURCE
    folder.mkdir(parents=True)
    (folder / "collocations.tab").write_text("", encoding="utf-8")
    (folder / "sent_starters.txt").write_text("", encoding="utf-8")
    (folder / "abbrev_types.txt").write_text("mr\n", encoding="utf-8")
    (folder / "ortho_context.tab").write_text("", encoding="utf-8")
    return root


# ---------------------------------------------------------------------------------- treebank


def test_treebank_tokens_are_nltk_word_tokenizer_on_the_whole_text() -> None:
    nltk_tok = NLTKWordTokenizer()
    for text in [*PREDICTIONS, *(r for refs in REFERENCES for r in refs)]:
        assert tokenize(text, "treebank") == nltk_tok.tokenize(text)
    # The documented difference from word_tokenize: no sentence splitting, so a period inside
    # the text stays attached, and a quote after a newline is a closing quote.
    assert tokenize("He left. She stayed.", "treebank") == ["He", "left.", "She", "stayed", "."]
    assert tokenize('Hi.\n"Yes."', "treebank") == ["Hi.", "''", "Yes", ".", "''"]


def test_treebank_equals_nltk_meteor_on_nltk_word_tokenizer_tokens(reader: Any) -> None:
    _assert_equals_nltk(reader, "treebank", NLTKWordTokenizer().tokenize)


def test_treebank_numbers_differ_from_wordpunct(reader: Any) -> None:
    treebank, _ = _evalkit_scores("treebank")
    wordpunct, _ = _evalkit_scores("wordpunct")
    assert treebank != wordpunct  # the tokenizer is really applied


def test_treebank_needs_no_punkt(
    reader: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_punkt: None
) -> None:
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    metric = METEOR(tokenize="treebank")
    assert "|tok:treebank|" in metric.signature()


def test_signatures_name_the_tokenizer_and_keep_their_form(reader: Any) -> None:
    version = nltk.__version__
    for name in ("wordpunct", "whitespace", "treebank"):
        assert METEOR(tokenize=name).signature() == (
            f"meteor|alpha:0.9|beta:3.0|gamma:0.5|tok:{name}|case:lower|stem:porter|"
            f"wordnet:3.0|nltk:{version}|evalkit:{__version__}"
        )


# ----------------------------------------------------------------------------- word_tokenize


@pytest.mark.skipif(
    not _punkt_installed(),
    reason=(
        f"nltk's English Punkt model ({PUNKT_RESOURCE}) is not installed under nltk's data "
        "path or $NLTK_DATA, and the tests never download it"
    ),
)
def test_word_tokenize_equals_nltk_meteor_on_installed_punkt(
    reader: Any, fresh_punkt: None
) -> None:
    for text in PREDICTIONS:
        assert tokenize(text, "word_tokenize") == nltk.word_tokenize(text)
    _assert_equals_nltk(reader, "word_tokenize", nltk.word_tokenize)


def test_word_tokenize_equals_nltk_meteor_on_a_local_punkt_model(
    reader: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_punkt: None
) -> None:
    root = _write_punkt_model(tmp_path / "nltk_data")
    # The written model first (it wins over an installed one); the rest keeps WordNet readable.
    monkeypatch.setattr(nltk.data, "path", [str(root), *nltk.data.path])
    assert nltk.sent_tokenize("Mr. Smith left. She stayed.") == [
        "Mr. Smith left.",
        "She stayed.",
    ]
    for text in PREDICTIONS:
        assert tokenize(text, "word_tokenize") == nltk.word_tokenize(text)
    # Punkt's sentences change the tokens where treebank's whole-text pass does not split.
    assert tokenize("He left. She stayed.", "word_tokenize") == [
        "He",
        "left",
        ".",
        "She",
        "stayed",
        ".",
    ]
    assert tokenize("Mr. Smith left.", "word_tokenize") == tokenize("Mr. Smith left.", "treebank")
    _assert_equals_nltk(reader, "word_tokenize", nltk.word_tokenize)
    treebank, _ = _evalkit_scores("treebank")
    word_tokenize, _ = _evalkit_scores("word_tokenize")
    assert treebank != word_tokenize
    assert (
        METEOR(tokenize="word_tokenize")
        .signature()
        .startswith("meteor|alpha:0.9|beta:3.0|gamma:0.5|tok:word_tokenize|case:lower|stem:porter|")
    )


def test_word_tokenize_without_punkt_is_an_asset_error_at_build_time(
    reader: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_punkt: None
) -> None:
    empty = tmp_path / "empty_nltk_data"
    empty.mkdir()
    monkeypatch.setattr(nltk.data, "path", [str(empty)])
    for build in (
        lambda: METEOR(tokenize="word_tokenize"),
        lambda: METEOR.build({"tokenize": "word_tokenize"}),
    ):
        with pytest.raises(AssetError) as info:
            build()
        message = str(info.value)
        assert message.startswith("meteor: tokenize=word_tokenize needs nltk's English Punkt")
        for part in (PUNKT_RESOURCE, str(empty), "python -m nltk.downloader", "punkt_tab"):
            assert part in message
        assert "tokenize=treebank" in message
        assert info.value.exit_code == 2
    # The tokenizer itself refuses the same way (a model removed after the build).
    with pytest.raises(AssetError, match="Punkt"):
        tokenize("a b", "word_tokenize")
    assert list(empty.iterdir()) == []  # nothing was downloaded


def test_incomplete_punkt_model_is_an_asset_error(
    reader: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_punkt: None
) -> None:
    root = _write_punkt_model(tmp_path / "nltk_data")
    (root / PUNKT_RESOURCE / "sent_starters.txt").unlink()
    monkeypatch.setattr(nltk.data, "path", [str(root)])
    with pytest.raises(AssetError, match="Punkt"):
        METEOR(tokenize="word_tokenize")
