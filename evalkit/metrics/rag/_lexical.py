"""Lexical support: does one passage contain most of a claim's content words and all its numbers?

Text is normalised the same way on both sides:

1. Unicode NFKC, then ``casefold`` (``"Straße"`` matches ``"STRASSE"``);
2. tokens are runs of letters and digits, with ``'``, ``.`` or ``,`` allowed *between* digits
   (``3.14``, ``1,000``) and ``'`` between letters (``don't``); a possessive ``'s`` is dropped;
3. numbers lose their thousands separators (``1,000`` and ``1000`` are one number) and
   needless zeros (``3.50`` is ``3.5``, ``007`` is ``7``);
4. words of five or more letters ending in a single ``s`` lose it (``passages`` ->
   ``passage``), a crude plural rule applied to both sides;
5. :data:`STOP_WORDS` (function words) are not content; negations (``not``, ``no``, ``never``)
   are kept as content, so that "X is not Y" is not supported by "X is Y".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

__all__ = [
    "STOP_WORDS",
    "Tokens",
    "best_coverage",
    "coverage",
    "normalise_number",
    "supports",
    "tokens_of",
]

#: English function words that carry no claim content (written for evalkit; negations kept).
STOP_WORDS = frozenset(
    """a an the and or but if then else so as of at by for from in into on onto to with within
    without about above after again against before below between both down during each few
    further here there how once only other out over own same such than that these this those
    through under until up very what when where which while who whom why will would can could
    should shall may might must do does did doing done is are was were be been being am have
    has had having i me my mine myself we us our ours you your yours he him his she her hers it
    its itself they them their theirs also just more most some any all many much too well
    however thus therefore because since whether via per s t yes ok okay sure thanks thank
    please hello hi""".split()  # noqa: SIM905 - a word list reads better as text
)

_TOKEN = re.compile(r"\d+(?:[.,']\d+)*|[^\W\d_]+(?:'[^\W\d_]+)*|[^\W_]+")
_NUMBER = re.compile(r"\d+(?:[.,']\d+)*")


def normalise_number(text: str) -> str:
    """A number's canonical spelling: separators dropped, needless zeros removed.

    A comma or apostrophe followed by exactly three digits is a thousands separator; any other
    comma is a decimal comma (``3,5`` is ``3.5``).

    Example:
        >>> normalise_number("1,000"), normalise_number("3.50"), normalise_number("007")
        ('1000', '3.5', '7')
        >>> normalise_number("1,234.5"), normalise_number("3,5"), normalise_number("1.2.3")
        ('1234.5', '3.5', '1.2.3')
    """
    body = re.sub(r"[,'](?=\d{3}(?!\d))", "", text)
    body = body.replace(",", ".")
    if body.count(".") > 1:  # a version or a dotted date: kept as written
        return body
    try:
        value = Decimal(body)
    except InvalidOperation:  # pragma: no cover - the regex only lets digits through
        return body
    return format(value.normalize(), "f")


def _word(token: str) -> str:
    if token.endswith("'s"):
        token = token[:-2]
    if len(token) >= 5 and token.endswith("s") and not token.endswith("ss"):
        token = token[:-1]
    return token


@dataclass(frozen=True)
class Tokens:
    """The normalised content of a text: content words and numbers (both sets)."""

    words: frozenset[str]
    numbers: frozenset[str]

    @property
    def content(self) -> frozenset[str]:
        """Every content token (words and numbers)."""
        return self.words | self.numbers


@lru_cache(maxsize=4096)
def tokens_of(text: str) -> Tokens:
    """The content tokens of ``text`` (see the module docstring).

    Example:
        >>> t = tokens_of("The tower's height is 1,083 feet; it is NOT painted.")
        >>> sorted(t.words), sorted(t.numbers)
        (['feet', 'height', 'not', 'painted', 'tower'], ['1083'])
    """
    text = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    words: set[str] = set()
    numbers: set[str] = set()
    for tok in _TOKEN.findall(text):
        if _NUMBER.fullmatch(tok):
            numbers.add(normalise_number(tok))
            continue
        word = _word(tok)
        if word and word not in STOP_WORDS:
            words.add(word)
    return Tokens(frozenset(words), frozenset(numbers))


def coverage(claim: Tokens, passage: Tokens) -> float:
    """The share of the claim's content tokens found in the passage (0 if a number is missing).

    Example:
        >>> coverage(tokens_of("Paris has 2 airports"), tokens_of("Paris: 2 big airports."))
        1.0
        >>> coverage(tokens_of("Paris has 3 airports"), tokens_of("Paris: 2 big airports."))
        0.0
    """
    content = claim.content
    if not content or not claim.numbers <= passage.numbers:
        return 0.0
    return len(content & passage.content) / len(content)


def supports(claim: Tokens, passages: Iterable[Tokens], threshold: float) -> int | None:
    """The index of the first passage covering at least ``threshold`` of the claim, or None."""
    for i, passage in enumerate(passages):
        if claim.content and coverage(claim, passage) >= threshold:
            return i
    return None


def best_coverage(claim: Tokens, passages: Sequence[Tokens]) -> float:
    """The highest coverage of the claim by any single passage (0.0 with no passages)."""
    return max((coverage(claim, p) for p in passages), default=0.0)
