"""Exact, faster per-segment statistics for sacrebleu's BLEU (chrF's are in ``_chrf_fast``).

sacrebleu computes each segment's sufficient statistics in pure Python. The functions here
compute the same numbers (the parity tests compare them with sacrebleu's own
``_extract_corpus_statistics`` on large generated corpora) with less interpreter work:

- ``13a`` tokenisation (sacrebleu's default): the first rule of sacrebleu's ``TokenizerRegexp``
  surrounds each of a fixed set of single characters with spaces; it is a ``str.translate``
  table here, built by asking sacrebleu's own compiled pattern about every code point. The
  other three rules run only when the characters they need (``.``/``,`` and ``-``) occur, with
  a callable replacement instead of a template (same output, no template expansion per match).
- n-grams of each order are counted in their own ``Counter`` (``zip`` of shifted token lists,
  so no tuple slicing), totals come from lengths, and matches loop over the n-grams both sides
  share (a C-level key intersection) instead of every hypothesis n-gram.

Tokenisers other than ``13a`` are sacrebleu's own objects, called as sacrebleu calls them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

__all__ = ["bleu_statistics", "tokenize_13a"]

try:  # CPython's C helper behind Counter.update; collections itself falls back the same way
    from _collections import _count_elements
except ImportError:  # pragma: no cover

    def _count_elements(mapping: Any, iterable: Any) -> None:
        get = mapping.get
        for elem in iterable:
            mapping[elem] = get(elem, 0) + 1


def _count(items: Any) -> dict[Any, int]:
    """``dict(Counter(items))`` without Counter's Python-level constructor overhead."""
    counts: dict[Any, int] = {}
    _count_elements(counts, items)
    return counts


# sacrebleu's TokenizerRegexp rules (sacrebleu 2.x, unchanged since 1.x), which the fast
# 13a path below reproduces; if the installed sacrebleu has other rules, sacrebleu's own
# tokenizer is used instead.
_RULES_13A = [
    (r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 "),
    (r"([^0-9])([\.,])", r"\1 \2 "),
    (r"([\.,])([^0-9])", r" \1 \2"),
    (r"([0-9])(-)", r"\1 \2 "),
]


def _space_after(m: re.Match[str]) -> str:
    return f"{m[1]} {m[2]} "


def _space_before(m: re.Match[str]) -> str:
    return f" {m[1]} {m[2]}"


@lru_cache(maxsize=1)
def _regexp_rules() -> tuple[dict[int, str], list[tuple[re.Pattern[str], Any, str]]] | None:
    """The fast form of sacrebleu's rules, or ``None`` when sacrebleu's differ from them.

    Rule 1 surrounds each character of an ASCII character class with spaces: a translate
    table, built by asking sacrebleu's compiled pattern about each ASCII character (the class
    has no flags, so it matches nothing else). Rules 2-4 keep their patterns, with a callable
    replacement, and the characters without which they cannot match.
    """
    from sacrebleu.tokenizers.tokenizer_re import TokenizerRegexp

    rules = TokenizerRegexp()._re
    if [(p.pattern, r) for p, r in rules] != _RULES_13A or any(p.flags & re.I for p, _ in rules):
        return None
    first = rules[0][0]
    table = {cp: f" {chr(cp)} " for cp in range(128) if first.fullmatch(chr(cp))}
    later: list[tuple[re.Pattern[str], Any, str]] = [
        (rules[1][0], _space_after, ".,"),
        (rules[2][0], _space_before, ".,"),
        (rules[3][0], _space_after, "-"),
    ]
    return table, later


def fast_13a_available() -> bool:
    """Whether :func:`tokenize_13a` can run (the installed sacrebleu has the known rules)."""
    return _regexp_rules() is not None


def tokens_13a(line: str) -> list[str]:
    """``tokenize_13a(line).split()``, without joining the tokens first."""
    line = line.replace("<skipped>", "")
    line = line.replace("-\n", "")
    line = line.replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"')
        line = line.replace("&amp;", "&")
        line = line.replace("&lt;", "<")
        line = line.replace("&gt;", ">")
    rules = _regexp_rules()
    assert rules is not None, "check fast_13a_available() first"
    table, later = rules
    line = f" {line} ".translate(table)
    for pattern, func, needs in later:
        if any(c in line for c in needs):
            line = pattern.sub(func, line)
    return line.split()


def tokenize_13a(line: str) -> str:
    """sacrebleu's ``13a`` tokenisation of one line (mteval-v13a), exactly.

    >>> tokenize_13a("Hello, world! It's 3.14-ish &amp; done.")
    "Hello , world ! It's 3.14 - ish & done ."
    """
    return " ".join(tokens_13a(line))


def _ngram_counters(tokens: Sequence[Any], max_order: int) -> list[dict[Any, int]]:
    """Counts of the n-grams of each order ``1..max_order`` (unigrams keyed by the token)."""
    counters = [_count(tokens)]
    for n in range(2, max_order + 1):
        counters.append(_count(zip(*[tokens[i:] for i in range(n)], strict=False)))
    return counters


def _matches(hyp: dict[Any, int], ref: dict[Any, int], hyp_total: int, ref_total: int) -> int:
    """Clipped matches ``sum(min(hyp[g], ref[g]))``.

    ``hyp_total`` and ``ref_total`` are the numbers of n-grams counted into each side (``-1``
    when unknown). A side with as many distinct n-grams as n-grams has no repeats: every
    shared n-gram then matches exactly once, and the sum is the size of the intersection,
    counted at C speed.
    """
    if len(hyp) == hyp_total or len(ref) == ref_total:
        if len(hyp) > len(ref):
            hyp, ref = ref, hyp
        return sum(map(ref.__contains__, hyp))
    total = 0
    if len(hyp) > len(ref):
        hyp, ref = ref, hyp  # the sum is symmetric: loop over the smaller side
    get = ref.get
    for g, a in hyp.items():
        b = get(g)
        if b:
            total += a if a < b else b
    return total


def _closest_ref_len(hyp_len: int, ref_lens: Sequence[int]) -> int:
    """sacrebleu's ``BLEU._get_closest_ref_len``: nearest length, the shorter on ties."""
    closest_diff, closest_len = -1, -1
    for ref_len in ref_lens:
        diff = abs(hyp_len - ref_len)
        if closest_diff == -1 or diff < closest_diff:
            closest_diff = diff
            closest_len = ref_len
        elif diff == closest_diff and ref_len < closest_len:
            closest_len = ref_len
    return closest_len


def bleu_statistics(
    pairs: Sequence[tuple[str, Sequence[str]]],
    *,
    tokenize: Callable[[str], str] | None,
    lowercase: bool,
    max_order: int,
) -> list[list[int]]:
    """sacrebleu's BLEU segment statistics ``[hyp_len, ref_len, correct_1..N, total_1..N]``.

    Args:
        pairs: ``(hypothesis, references)`` per segment; at least one reference each.
        tokenize: A sacrebleu tokenizer object, or ``None`` for the fast ``13a``
            (:func:`tokens_13a`).
        lowercase: Lowercase before tokenising (sacrebleu's ``lowercase``).
        max_order: The highest n-gram order ``N``.

    >>> bleu_statistics([("the cat sat", ["the cat sat down"])], tokenize=None,
    ...                 lowercase=False, max_order=4)
    [[3, 4, 3, 2, 1, 0, 3, 2, 1, 0]]
    """

    def prep(text: str) -> list[str]:
        if lowercase:
            text = text.lower()
        if tokenize is None:
            return tokens_13a(text.rstrip())
        return tokenize(text.rstrip()).split()

    out: list[list[int]] = []
    for hyp, refs in pairs:
        ref_lens: list[int] = []
        merged: list[dict[Any, int]] | None = None
        for ref in refs:
            tokens = prep(ref)
            ref_lens.append(len(tokens))
            counters = _ngram_counters(tokens, max_order)
            if merged is None:
                merged = counters
            else:
                # Clip against the largest count of each n-gram over the references.
                for acc, new in zip(merged, counters, strict=True):
                    for g, c in new.items():
                        if c > acc.get(g, 0):
                            acc[g] = c
        assert merged is not None, "every segment needs a reference"
        tokens = prep(hyp)
        hyp_len = len(tokens)
        hyp_counters = _ngram_counters(tokens, max_order)
        total = [max(hyp_len - n, 0) for n in range(max_order)]
        # The reference side's n-gram totals are known for a single reference only (merged
        # counts of several references are maxima, not sums).
        ref_totals = (
            [max(ref_lens[0] - n, 0) for n in range(max_order)]
            if len(ref_lens) == 1
            else [-1] * max_order
        )
        correct = [
            _matches(h, r, ht, rt)
            for h, r, ht, rt in zip(hyp_counters, merged, total, ref_totals, strict=True)
        ]
        out.append([hyp_len, _closest_ref_len(hyp_len, ref_lens), *correct, *total])
    return out
