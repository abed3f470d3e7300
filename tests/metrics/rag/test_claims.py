"""The rule-based claim splitter and the lexical normalisation on tricky text."""

from __future__ import annotations

import pytest

from evalkit.metrics.rag._claims import split_claims, split_sentences
from evalkit.metrics.rag._lexical import coverage, normalise_number, tokens_of


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        # abbreviations and initials do not end a sentence
        ("Use e.g. Python, i.e. a language. Done.", ["Use e.g. Python, i.e. a language.", "Done."]),
        ("Mr. Brown met Dr. Who at 5 p.m. Today.", ["Mr. Brown met Dr. Who at 5 p.m. Today."]),
        ("Apples, pears, etc. Then more.", ["Apples, pears, etc. Then more."]),
        ("Cats vs. Dogs is a film. It is old.", ["Cats vs. Dogs is a film.", "It is old."]),
        ("J. K. Rowling wrote it. Yes.", ["J. K. Rowling wrote it.", "Yes."]),
        # decimals, versions, file names, URLs
        ("Pi is 3.14 exactly. Use v1.2.3 now.", ["Pi is 3.14 exactly.", "Use v1.2.3 now."]),
        ("See setup.py or https://x.org/a.b. Ok.", ["See setup.py or https://x.org/a.b.", "Ok."]),
        # ellipses
        ("Wait... It works. Or…  Not.", ["Wait... It works.", "Or…  Not."]),
        ("It trails off...", ["It trails off..."]),
        # lower case after a period: not a sentence start
        ("It costs 5 dollars. or so.", ["It costs 5 dollars. or so."]),
        # a digit after the period starts a sentence; quotes and brackets around the boundary
        ('He said "Stop." Then left. (Really.) "Yes!" 2 more.',
         ['He said "Stop."', "Then left.", "(Really.)", '"Yes!"', "2 more."]),
        ("What?! No way.", ["What?!", "No way."]),
        # lines and bullets
        ("Intro:\n- first point\n* second point\n1. third\n2) fourth\n\n• fifth",
         ["Intro:", "first point", "second point", "third", "fourth", "fifth"]),
        ("-- \n...\n", []),
        ("", []),
    ],
)  # fmt: skip
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_split_claims_is_deterministic_and_lossless_on_words() -> None:
    text = "Dr. A. Smith (b. 1950) won. He was 70.5 years old! Was he? Yes...\nNext line"
    first = split_claims(text)
    assert first == split_claims(text)
    assert " ".join(first).split() == text.split()


def test_normalisation() -> None:
    t = tokens_of("The PASSAGES say: 1,000 tonnes; 3.50 m, Straße, don't.")
    assert t.numbers == {"1000", "3.5"}
    assert {"passage", "say", "tonne", "strasse", "don't"} <= t.words
    assert "the" not in t.words
    assert normalise_number("0.50") == "0.5"
    assert normalise_number("10") == "10"
    assert normalise_number("100") == "100"
    assert normalise_number("1'000") == "1000"


def test_coverage_numbers_must_match_exactly() -> None:
    passage = tokens_of("Revenue grew 12% to 4.5 billion dollars in 2023.")
    assert coverage(tokens_of("Revenue grew to 4.5 billion dollars."), passage) == 1.0
    assert coverage(tokens_of("Revenue grew to 4.6 billion dollars."), passage) == 0.0
    assert coverage(tokens_of("Revenue grew to 4.50 billion dollars."), passage) == 1.0
    # 3 of the 4 content words (revenue, shrank, billion, dollar) are in the passage
    assert coverage(tokens_of("Revenue shrank, billion dollars."), passage) == 0.75
    # negation is content ("not" is missing from the passage); no stemming: grow is not grew
    assert coverage(tokens_of("Revenue did not grow."), passage) == pytest.approx(1 / 3)
    assert coverage(tokens_of("Revenue grew not."), passage) == pytest.approx(2 / 3)
