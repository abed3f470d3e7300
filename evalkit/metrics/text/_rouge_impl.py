"""ROUGE-N, ROUGE-L and ROUGE-Lsum computed exactly as rouge-score 0.1.2 does, but faster.

rouge-score (``rouge_score/rouge_scorer.py``) fills a full ``len(ref) x len(pred)`` table in
Python for every ROUGE-L pair and again for every sentence pair of ROUGE-Lsum, and Porter-stems
every token each time. Here:

- tokens are rouge-score's (:func:`tokenize_default`), with memoised stems;
- LCS lengths come from the bit-parallel algorithm of Allison and Dix (1986) in Hyyrö's
  (2004) formulation, one big-integer update per token: for the reference ``a`` and a token
  ``c`` of the candidate, with ``M[c]`` the bit set of the positions of ``c`` in ``a``::

      U = V & M[c];  V = ((V + U) | (V - U)) & (2^|a| - 1)

  starting from all ones; after the candidate prefix ``b[:j]``, the zero bits of ``V`` below
  ``i`` count ``LCS(a[:i], b[:j])``, so ``|a| - popcount(V)`` is the LCS length;
- ROUGE-Lsum needs the LCS *positions* that rouge-score's backtracking picks (the union of
  several LCSs depends on which one is picked). Keeping ``V`` after every candidate token
  gives any table cell ``T[i][j]`` in O(1) big-integer operations, and the backtracking walks
  the same cells with the same tie rule (``T[i][j-1] > T[i-1][j]`` moves left, else up).

Scores use rouge-score's own expressions (``intersection / max(count, 1)`` and
``2 * P * R / (P + R)``), so the floats are identical, not merely close.

References:
    Lin (2004), ROUGE. Allison and Dix (1986), "A bit-string longest-common-subsequence
    algorithm", Information Processing Letters 23(6). Hyyrö (2004), "Bit-parallel
    LCS-length computation revisited", AWOCA.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import regex

__all__ = [
    "ScoreTriple",
    "Tokenizer",
    "lcs_indices",
    "lcs_length",
    "make_tokenizer",
    "score_lcs",
    "score_ngrams",
    "score_summary_lcs",
]

#: ``(precision, recall, fmeasure)``.
ScoreTriple = tuple[float, float, float]
Tokenizer = Callable[[str], list[str]]

# rouge-score's tokenize.py: lowercase, non-[a-z0-9] runs become spaces, stem words longer than
# 3 characters, keep tokens matching ^[a-z0-9]+$.
_NON_ALPHANUM = re.compile(r"[^a-z0-9]+")
_VALID_TOKEN = re.compile(r"^[a-z0-9]+$")
_ASCII_WORD = re.compile(r"[a-z0-9]+")
# Stems are memoised per process; a cap keeps a pathological vocabulary from growing it forever.
_STEM_CACHE_MAX = 1 << 20


def _stemmer() -> Callable[[str], str]:
    from nltk.stem import porter

    stem: Callable[[str], str] = porter.PorterStemmer().stem
    return stem


class _MemoStemmer:
    """nltk's Porter stemmer (as rouge-score builds it) with a memo of the stems it made."""

    def __init__(self) -> None:
        self._stem = _stemmer()
        self._memo: dict[str, str] = {}

    def __call__(self, word: str) -> str:
        stem = self._memo.get(word)
        if stem is None:
            if len(self._memo) >= _STEM_CACHE_MAX:
                self._memo.clear()
            stem = self._stem(word)
            self._memo[word] = stem
        return stem


def _default_tokenizer(stem: Callable[[str], str] | None) -> Tokenizer:
    def tokenize(text: str) -> list[str]:
        tokens = _NON_ALPHANUM.sub(" ", text.lower()).split()
        if stem is None:
            return tokens
        # Only words longer than 3 characters are stemmed; the validity check after stemming
        # is rouge-score's (a stem could in principle be empty).
        out = []
        for tok in tokens:
            if len(tok) > 3:
                tok = stem(tok)
                if not _VALID_TOKEN.match(tok):
                    continue
            out.append(tok)
        return out

    return tokenize


# Scripts written without spaces between words: each character (with its combining marks)
# is a token. Hangul is left out on purpose: Korean separates words with spaces.
_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
_UNICODE_TOKEN = regex.compile(
    rf"(?V1)[{_UNSPACED}]\p{{M}}*|[\w--[{_UNSPACED}]]+",
)

#: Recorded in the signature as ``tok:``; bump when the unicode tokenizer changes.
UNICODE_TOKENIZER_ID = "evalkit-unicode-v1"


def _unicode_tokenizer(stem: Callable[[str], str] | None) -> Tokenizer:
    def tokenize(text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text).casefold()
        tokens: list[str] = _UNICODE_TOKEN.findall(text)
        if stem is None:
            return tokens
        # Porter stemming is for English: only ASCII [a-z0-9] words longer than 3 characters.
        return [
            stem(t) if len(t) > 3 and t.isascii() and _ASCII_WORD.fullmatch(t) else t
            for t in tokens
        ]

    return tokenize


def make_tokenizer(kind: str, use_stemmer: bool) -> Tokenizer:
    """A tokenizer: ``"default"`` (rouge-score's) or ``"unicode"``.

    >>> make_tokenizer("default", False)("Hello, World! Zürich 東京 3.14")
    ['hello', 'world', 'z', 'rich', '3', '14']
    >>> make_tokenizer("unicode", False)("Hello, World! Zürich 東京 3.14")
    ['hello', 'world', 'zürich', '東', '京', '3', '14']
    >>> make_tokenizer("unicode", False)("हिन्दी भाषा ภาษาไทย")
    ['हिन्दी', 'भाषा', 'ภ', 'า', 'ษ', 'า', 'ไ', 'ท', 'ย']
    """
    stem = _MemoStemmer() if use_stemmer else None
    if kind == "default":
        return _default_tokenizer(stem)
    if kind == "unicode":
        return _unicode_tokenizer(stem)
    raise ValueError(f"unknown tokenizer {kind!r}")


def fmeasure(precision: float, recall: float) -> float:
    """rouge-score's ``scoring.fmeasure``."""
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def ngram_counts(tokens: Sequence[str], n: int) -> Counter[Any]:
    """Counts of the ``n``-grams of ``tokens`` (unigrams keyed by the token itself)."""
    if n == 1:
        return Counter(tokens)
    return Counter(zip(*[tokens[i:] for i in range(n)], strict=False))


def score_ngrams(
    target: Counter[Any], target_len: int, prediction: Counter[Any], pred_len: int, n: int
) -> ScoreTriple:
    """rouge-score's ``_score_ngrams`` from n-gram counts and token counts.

    >>> t, p = ["a", "b", "a"], ["a", "a", "a"]
    >>> score_ngrams(ngram_counts(t, 1), 3, ngram_counts(p, 1), 3, 1)
    (0.6666666666666666, 0.6666666666666666, 0.6666666666666666)
    """
    intersection = 0
    get = prediction.get
    for gram, count in target.items():
        other = get(gram)
        if other:
            intersection += count if count < other else other
    target_count = max(target_len - n + 1, 0)
    prediction_count = max(pred_len - n + 1, 0)
    precision = intersection / max(prediction_count, 1)
    recall = intersection / max(target_count, 1)
    return precision, recall, fmeasure(precision, recall)


def _position_masks(ref: Sequence[str]) -> dict[str, int]:
    masks: dict[str, int] = {}
    bit = 1
    for tok in ref:
        masks[tok] = masks.get(tok, 0) | bit
        bit <<= 1
    return masks


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of a longest common subsequence of ``a`` and ``b`` (bit-parallel).

    >>> lcs_length("the cat sat on the mat".split(), "the mat sat on the cat".split())
    4
    """
    if len(a) < len(b):
        a, b = b, a  # loop over the shorter sequence
    if not b:
        return 0
    masks = _position_masks(a)
    full = (1 << len(a)) - 1
    v = full
    get = masks.get
    for tok in b:
        m = get(tok)
        if m:
            u = v & m
            if u:
                v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def lcs_indices(ref: Sequence[str], can: Sequence[str]) -> list[int]:
    """The positions in ``ref`` of the LCS that rouge-score's ``lcs_ind`` returns.

    rouge-score backtracks its table from the bottom-right corner: on equal tokens it takes
    the pair; otherwise it moves left when ``T[i][j-1] > T[i-1][j]``, else up. ``T[i][j]`` is
    ``i`` minus the set bits of ``V_j`` below bit ``i``, with ``V_j`` the bit vector after
    ``can[:j]``.

    >>> lcs_indices("a b c a b".split(), "b a b".split())
    [1, 3, 4]
    """
    m = len(ref)
    if not m or not can:
        return []
    masks = _position_masks(ref)
    full = (1 << m) - 1
    v = full
    history = [v]
    get = masks.get
    for tok in can:
        mask = get(tok)
        if mask:
            u = v & mask
            if u:
                v = ((v + u) | (v - u)) & full
        history.append(v)
    if v == full:
        return []  # no common token
    out: list[int] = []
    i = m
    j = len(can)
    while i > 0 and j > 0:
        if ref[i - 1] == can[j - 1]:
            out.append(i - 1)
            i -= 1
            j -= 1
        else:
            left = i - (history[j - 1] & ((1 << i) - 1)).bit_count()
            up = i - 1 - (history[j] & ((1 << (i - 1)) - 1)).bit_count()
            if left > up:
                j -= 1
            else:
                i -= 1
    out.reverse()
    return out


def score_lcs(target: Sequence[str], prediction: Sequence[str]) -> ScoreTriple:
    """rouge-score's ``_score_lcs`` (ROUGE-L).

    >>> score_lcs("a b c d".split(), "a c d".split())
    (1.0, 0.75, 0.8571428571428571)
    """
    if not target or not prediction:
        return 0.0, 0.0, 0.0
    lcs = lcs_length(target, prediction)
    precision = lcs / len(prediction)
    recall = lcs / len(target)
    return precision, recall, fmeasure(precision, recall)


def score_summary_lcs(
    ref_sents: Sequence[Sequence[str]], can_sents: Sequence[Sequence[str]]
) -> ScoreTriple:
    """rouge-score's ``_summary_level_lcs`` (ROUGE-Lsum): union LCS over sentences, with its
    guard against counting a token more often than it occurs on either side.

    >>> score_summary_lcs([["a", "b", "a"], ["c", "d"]], [["a", "c", "a"], ["b", "d", "a"]])
    (0.8333333333333334, 1.0, 0.9090909090909091)
    """
    if not ref_sents or not can_sents:
        return 0.0, 0.0, 0.0
    m = sum(map(len, ref_sents))
    n = sum(map(len, can_sents))
    if not n or not m:
        return 0.0, 0.0, 0.0
    counts_r: Counter[str] = Counter()
    counts_c: Counter[str] = Counter()
    for s in ref_sents:
        counts_r.update(s)
    for s in can_sents:
        counts_c.update(s)
    hits = 0
    for ref in ref_sents:
        union: set[int] = set()
        for can in can_sents:
            union.update(lcs_indices(ref, can))
        for i in sorted(union):
            tok = ref[i]
            if counts_c[tok] > 0 and counts_r[tok] > 0:
                hits += 1
                counts_c[tok] -= 1
                counts_r[tok] -= 1
    recall = hits / m
    precision = hits / n
    return precision, recall, fmeasure(precision, recall)
