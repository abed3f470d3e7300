"""sacrebleu's chrF segment statistics, counted for a whole batch at once with numpy.

sacrebleu builds a ``Counter`` per n-gram order per text (six for chrF, eight for chrF++) and
loops over the hypothesis n-grams in Python. Here each side's symbols (characters after
sacrebleu's whitespace removal, or words after its punctuation splitting) become small
integer codes, and every position of every text becomes one 64-bit key::

    key = pair | code[i] code[i+1] ... code[i+N-1] | side      (bit fields, high to low)

where codes past the end of a text are 0. One ``np.sort`` of those keys then serves every
order ``n <= N`` at once: positions with the same pair and the same first ``n`` codes are
adjacent in sorted order (the order is lexicographic), so each n-gram of each pair is one run,
whose hypothesis and reference counts are the numbers of keys with side 0 and 1 in it. The
clipped match ``sum(min(hyp[g], ref[g]))`` is a reduction over runs; the n-gram totals are
text lengths minus ``n - 1``. The counts are exactly sacrebleu's (``tests/parity`` compares
segment by segment); only the order of the work differs.

When the codes do not fit one key (a large alphabet: CJK text, or high word orders with a
large vocabulary), the n-grams get dense lexicographic ranks instead (one ``np.unique`` per
order) and positions are ordered by ``(pair, rank)`` with ``np.lexsort``: slower, same counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["chrf_statistics"]

#: Upper bound on the positions (symbols of all texts) counted in one batch: bounds memory
#: (a few int64 arrays of this length) while keeping numpy's per-call overhead small.
MAX_POSITIONS = 1 << 22
_KEY_BITS = 63  # bits of a non-negative int64


def _lengths(seqs: Sequence[Sequence[Any]]) -> np.ndarray:
    return np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))


def _char_codes(texts: Sequence[str]) -> tuple[np.ndarray, int]:
    """Dense codes ``1..A`` of the characters of all ``texts`` (concatenated), and ``A``."""
    joined = "".join(texts)
    if not joined:
        return np.zeros(0, dtype=np.int64), 0
    points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    present = np.zeros(int(points.max()) + 1, dtype=np.int64)
    present[points] = 1
    ranks = np.cumsum(present)  # code point -> 1..A, in code point order
    return ranks[points], int(ranks[-1])


def _word_codes(word_lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, int]:
    """Dense codes ``1..V`` of the words of all lists (concatenated), and ``V``."""
    vocab: dict[str, int] = {}
    codes = [vocab.setdefault(w, len(vocab) + 1) for words in word_lists for w in words]
    return np.asarray(codes, dtype=np.int64), len(vocab)


def _match_counts(
    codes: np.ndarray,
    lengths: np.ndarray,
    pair_of_seq: np.ndarray,
    side_of_seq: np.ndarray,
    alphabet: int,
    order: int,
    pairs: int,
) -> np.ndarray:
    """Clipped n-gram matches per pair and order, shape ``(pairs, order)``.

    Args:
        codes: Symbol codes ``1..alphabet`` of every sequence, concatenated.
        lengths: Length of each sequence.
        pair_of_seq: The pair (segment and reference) each sequence belongs to.
        side_of_seq: 0 for a hypothesis, 1 for a reference.
        alphabet: The largest code.
        order: The highest n-gram order ``N``.
        pairs: Number of pairs.
    """
    out = np.zeros((pairs, order), dtype=np.int64)
    total = int(codes.size)
    if total == 0 or order == 0:
        return out
    starts = np.cumsum(lengths) - lengths
    pair = np.repeat(pair_of_seq, lengths)
    side = np.repeat(side_of_seq, lengths)
    # Symbols left in the sequence from each position on (itself included).
    rem = np.repeat(lengths + starts, lengths) - np.arange(total, dtype=np.int64)
    padded = np.concatenate([codes, np.zeros(order, dtype=np.int64)])

    def column(j: int) -> np.ndarray:
        """The code ``j`` places after each position, 0 past the end of its sequence."""
        return np.where(rem > j, padded[j : j + total], 0)

    bits = max(alphabet.bit_length(), 1)
    pair_bits = max((pairs - 1).bit_length(), 1)
    if pair_bits + order * bits + 1 <= _KEY_BITS:
        key = pair.copy()
        for j in range(order):
            key = (key << bits) | column(j)
        key = np.sort((key << 1) | side)
        refs_before = _running_refs(key & 1)
        for n in range(1, order + 1):
            run_key = key >> (1 + (order - n) * bits)  # pair and the first n codes
            first, matches = _run_matches(run_key[1:] != run_key[:-1], refs_before)
            head = run_key[first]
            # A run whose n-th code is padding is no n-gram (its text ended before it).
            keep = (matches > 0) & ((head & ((1 << bits) - 1)) != 0)
            _add(out, n, head[keep] >> (n * bits), matches[keep])
        return out
    # Too wide for one key: dense lexicographic ranks of each prefix, then a lexsort.
    rank = column(0)
    ranks = [rank]
    for j in range(1, order):
        rank = np.unique(rank * (alphabet + 1) + column(j), return_inverse=True)[1]
        ranks.append(rank.astype(np.int64).reshape(-1))
    perm = np.lexsort((side, ranks[-1], pair))
    pair_sorted, rem_sorted = pair[perm], rem[perm]
    refs_before = _running_refs(side[perm])
    pair_change = pair_sorted[1:] != pair_sorted[:-1]
    for n in range(1, order + 1):
        run_key = ranks[n - 1][perm]
        first, matches = _run_matches(pair_change | (run_key[1:] != run_key[:-1]), refs_before)
        keep = (matches > 0) & (rem_sorted[first] >= n)
        _add(out, n, pair_sorted[first[keep]], matches[keep])
    return out


def _running_refs(is_ref: np.ndarray) -> np.ndarray:
    """``r[i]``: how many of the first ``i`` sorted positions are references."""
    out = np.zeros(is_ref.size + 1, dtype=np.int64)
    np.cumsum(is_ref, out=out[1:])
    return out


def _run_matches(change: np.ndarray, refs_before: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First position and ``min(hyp, ref)`` count of each run (``change[i]``: one ends at i)."""
    size = change.size + 1
    bounds = np.concatenate([[0], np.flatnonzero(change) + 1, [size]])
    refs = np.diff(refs_before[bounds])
    hyps = np.diff(bounds) - refs
    return bounds[:-1], np.minimum(hyps, refs)


def _add(out: np.ndarray, n: int, pair: np.ndarray, matches: np.ndarray) -> None:
    """Add each run's matches to its pair's order-``n`` column."""
    # float64 weights hold these counts exactly (far below 2**53).
    per_pair = np.bincount(pair, weights=matches, minlength=out.shape[0])
    out[:, n - 1] += per_pair.astype(np.int64)


def _side_stats(
    hyp_seqs: Sequence[Sequence[Any]],
    ref_seqs: Sequence[Sequence[Any]],
    order: int,
    encode: Callable[[Sequence[Any]], tuple[np.ndarray, int]],
) -> np.ndarray:
    """``[hyp, ref, match]`` per pair and order (sacrebleu's rule for empty references)."""
    pairs = len(hyp_seqs)
    hyp_len, ref_len = _lengths(hyp_seqs), _lengths(ref_seqs)
    codes, alphabet = encode([*hyp_seqs, *ref_seqs])
    index = np.arange(pairs, dtype=np.int64)
    match = _match_counts(
        codes,
        np.concatenate([hyp_len, ref_len]),
        np.concatenate([index, index]),
        np.repeat(np.array([0, 1], dtype=np.int64), pairs),
        alphabet,
        order,
        pairs,
    )
    n = np.arange(order, dtype=np.int64)
    hyp_total = np.maximum(hyp_len[:, None] - n, 0)
    ref_total = np.maximum(ref_len[:, None] - n, 0)
    # sacrebleu does not count hypothesis n-grams when the reference has none.
    hyp_total = np.where(ref_total > 0, hyp_total, 0)
    return np.stack([hyp_total, ref_total, match], axis=2)


def _batches(sizes: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Contiguous ``[start, stop)`` ranges whose summed ``sizes`` stay under ``limit``."""
    out: list[tuple[int, int]] = []
    start, acc = 0, 0
    for i, s in enumerate(sizes.tolist()):
        if acc and acc + s > limit:
            out.append((start, i))
            start, acc = i, 0
        acc += s
    if start < len(sizes):
        out.append((start, len(sizes)))
    return out


def chrf_statistics(
    pairs: Sequence[tuple[str, Sequence[str]]],
    *,
    metric: Any,
) -> list[list[int]]:
    """sacrebleu's chrF segment statistics: ``[hyp, ref, match]`` per order, best reference.

    Args:
        pairs: ``(hypothesis, references)`` per segment; at least one reference each.
        metric: The ``sacrebleu.metrics.CHRF`` object whose settings, punctuation splitting and
            F-score (to pick the best reference, as sacrebleu does) are used.

    >>> from sacrebleu.metrics import CHRF
    >>> chrf_statistics([("ab a", ["ab"])], metric=CHRF(char_order=2, word_order=1))
    [[3, 2, 2, 2, 1, 1, 2, 1, 1]]
    """
    char_order: int = metric.char_order
    word_order: int = metric.word_order
    lowercase: bool = metric.lowercase
    whitespace: bool = metric.whitespace
    split_words: Callable[[str], list[str]] = metric._remove_punctuation
    f_score: Callable[[list[int]], float] = metric._compute_f_score

    # One row per (segment, reference): the hypothesis is repeated for each reference.
    hyps: list[str] = []
    refs: list[str] = []
    owner: list[int] = []
    for i, (hyp, seg_refs) in enumerate(pairs):
        for ref in seg_refs:
            hyps.append(hyp)
            refs.append(ref)
            owner.append(i)
    if lowercase:
        hyps = [t.lower() for t in hyps]
        refs = [t.lower() for t in refs]
    hyp_chars = hyps if whitespace else ["".join(t.split()) for t in hyps]
    ref_chars = refs if whitespace else ["".join(t.split()) for t in refs]
    sizes = _lengths(hyp_chars) + _lengths(ref_chars)
    parts: list[np.ndarray] = []
    for lo, hi in _batches(sizes, MAX_POSITIONS):
        blocks = []
        if char_order > 0:
            blocks.append(_side_stats(hyp_chars[lo:hi], ref_chars[lo:hi], char_order, _char_codes))
        if word_order > 0:
            hyp_words = [split_words(t) for t in hyps[lo:hi]]
            ref_words = [split_words(t) for t in refs[lo:hi]]
            blocks.append(_side_stats(hyp_words, ref_words, word_order, _word_codes))
        parts.append(np.concatenate(blocks, axis=1).reshape(hi - lo, -1))
    width = 3 * (char_order + word_order)
    rows: list[list[int]] = (
        np.concatenate(parts).tolist() if parts else np.zeros((0, width), np.int64).tolist()
    )
    if len(rows) == len(pairs):  # one reference each: nothing to choose
        return rows
    # Several references: sacrebleu keeps the first with the best sentence-level F-score.
    out: list[list[int]] = []
    best_f = -1.0
    for i, row in enumerate(rows):
        seg = owner[i]
        if seg == len(out):
            out.append(row)
            best_f = f_score(row)
        else:
            f = f_score(row)
            if f > best_f:
                best_f = f
                out[seg] = row
    return out
