"""BERTScore's statistics: greedy matching, P/R/F, idf weighting and baseline rescaling files.

:func:`sample_stat` turns one sample's token embeddings into its statistic (raw ``[P, R, F]``,
or with idf the token ids and best similarities the weights apply to); :func:`parse_stat` and
:func:`idf_per_sample` weight idf statistics by the document frequencies over the references
they are given; :func:`read_baseline` reads a bert-score baseline CSV. The formulas and
bert-score's rules are described in :mod:`evalkit.metrics.text.bertscore`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.assets.encoders import sha256_files
from evalkit.errors import AssetError, InputError
from evalkit.types import Stats

__all__ = ["Baseline", "Parsed", "idf_per_sample", "parse_stat", "read_baseline", "sample_stat"]


def _unit(a: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, in float64 (the matching runs in float64)."""
    a = a.astype(np.float64)
    norm: np.ndarray = np.linalg.norm(a, axis=1, keepdims=True)
    unit: np.ndarray = a / norm
    return unit


def _prf(p: Any, r: Any, empty: np.ndarray | bool) -> tuple[Any, Any, Any]:
    """F from P and R, then bert-score's empty-text rule (F first: it uses the unmasked P, R)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        f = 2 * p * r / (p + r)
    f = np.where(np.isnan(f), 0.0, f)
    p = np.where(empty, 0.0, p)
    r = np.where(empty, 0.0, r)
    return p, r, f


def sample_stat(
    cand_ids: list[int],
    cand_hidden: np.ndarray,
    refs: Sequence[tuple[list[int], np.ndarray]],
    special: np.ndarray,
    idf: bool,
) -> Stats:
    """One sample's statistic from the embeddings of its candidate and references.

    Args:
        cand_ids: The candidate's token ids.
        cand_hidden: The candidate's ``(tokens, width)`` embeddings.
        refs: Per reference, its token ids and embeddings.
        special: The ids of ``[CLS]`` and ``[SEP]`` (weight 0 without idf).
        idf: Keep what idf weights apply to (``{"cand_ids": [...], "refs": [...]}``) instead
            of computing raw ``[P, R, F]`` (the maximum over the references).
    """
    cand_arr = np.asarray(cand_ids, dtype=np.int64)
    cand = _unit(cand_hidden)
    pairs = []
    for ref_ids, ref_hidden in refs:
        # einsum, not @: numpy's BLAS would spread these small products over threads,
        # which stall when other processes keep the CPUs busy (20x slower measured).
        sim = np.einsum("id,jd->ij", cand, _unit(ref_hidden))
        pairs.append((ref_ids, sim.max(axis=1), sim.max(axis=0)))
    if idf:
        return {
            "cand_ids": list(cand_ids),
            "refs": [
                {"ref_ids": list(r), "cand_sim": c.tolist(), "ref_sim": s.tolist()}
                for r, c, s in pairs
            ],
        }
    # No idf: every token weighs 1 except [CLS] and [SEP] (bert-score's idf_dict).
    wc = (~np.isin(cand_arr, special)).astype(np.float64)
    rows = []
    for r, c, s in pairs:
        wr = (~np.isin(np.asarray(r, dtype=np.int64), special)).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.float64(np.dot(wc, c) / wc.sum())
            rr = np.float64(np.dot(wr, s) / wr.sum())
        rows.append(_prf(p, rr, len(cand_arr) == 2 or len(r) == 2))
    best = np.max(np.array(rows, dtype=np.float64), axis=0)
    return [float(best[0]), float(best[1]), float(best[2])]


@dataclass(frozen=True)
class Parsed:
    """One idf statistic as arrays (candidate side repeated once per reference)."""

    n_refs: int
    ref_sets: np.ndarray  # distinct token ids of each reference, concatenated
    c_ids: np.ndarray
    c_sim: np.ndarray
    c_len: np.ndarray  # per reference
    r_ids: np.ndarray
    r_sim: np.ndarray
    r_len: np.ndarray  # per reference
    max_id: int


def parse_stat(stat: Any) -> Parsed:
    """An idf statistic (``{"cand_ids": [...], "refs": [...]}``) as arrays.

    Raises:
        InputError: When ``stat`` is not an idf statistic or is damaged.
    """
    try:
        cand = np.asarray(stat["cand_ids"], dtype=np.int64)
        refs = stat["refs"]
        r_ids = [np.asarray(r["ref_ids"], dtype=np.int64) for r in refs]
        c_sim = [np.asarray(r["cand_sim"], dtype=np.float64) for r in refs]
        r_sim = [np.asarray(r["ref_sim"], dtype=np.float64) for r in refs]
    except (TypeError, KeyError, IndexError, ValueError):
        raise InputError(
            "bertscore: a statistic is not an idf statistic ({'cand_ids': [...], 'refs': "
            f"[...]}}), got {type(stat).__name__}; were these samples scored with idf=False? "
            "Aggregate them with the parameters they were scored with."
        ) from None
    if not r_ids or any(len(c) != len(cand) for c in c_sim):
        raise InputError(
            "bertscore: an idf statistic has no references or a cand_sim list whose length "
            "differs from cand_ids; the record is damaged."
        )
    n = len(r_ids)
    return Parsed(
        n_refs=n,
        ref_sets=np.concatenate([np.unique(r) for r in r_ids]),
        c_ids=np.tile(cand, n),
        c_sim=np.concatenate(c_sim),
        c_len=np.full(n, len(cand), dtype=np.int64),
        r_ids=np.concatenate(r_ids),
        r_sim=np.concatenate(r_sim),
        r_len=np.array([len(r) for r in r_ids], dtype=np.int64),
        max_id=int(max([cand.max(initial=0), *(r.max(initial=0) for r in r_ids)])),
    )


def idf_per_sample(parsed: Sequence[Parsed]) -> np.ndarray:
    """Raw ``(n, 3)`` P, R, F per sample with idf over the references of ``parsed``."""
    n_refs = np.array([p.n_refs for p in parsed], dtype=np.int64)
    n_docs = int(n_refs.sum())
    vocab = max(p.max_id for p in parsed) + 1
    df = np.bincount(np.concatenate([p.ref_sets for p in parsed]), minlength=vocab)
    idf = np.log((n_docs + 1) / (df + 1.0))  # bert-score's get_idf_dict

    def side(ids: np.ndarray, sims: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        seg = np.repeat(np.arange(len(lengths)), lengths)
        w = idf[ids]
        with np.errstate(invalid="ignore", divide="ignore"):
            out: np.ndarray = np.bincount(seg, w * sims, minlength=len(lengths)) / np.bincount(
                seg, w, minlength=len(lengths)
            )
        return out

    c_len = np.concatenate([p.c_len for p in parsed])
    r_len = np.concatenate([p.r_len for p in parsed])
    prec = side(
        np.concatenate([p.c_ids for p in parsed]), np.concatenate([p.c_sim for p in parsed]), c_len
    )
    rec = side(
        np.concatenate([p.r_ids for p in parsed]), np.concatenate([p.r_sim for p in parsed]), r_len
    )
    prec, rec, f1 = _prf(prec, rec, (c_len == 2) | (r_len == 2))
    starts = np.concatenate([[0], np.cumsum(n_refs)[:-1]])
    # np.maximum propagates NaN, like torch.max in bert-score's multi-reference reduction.
    return np.stack([np.maximum.reduceat(v, starts) for v in (prec, rec, f1)], axis=1)


# ------------------------------------------------------------------------------ baseline file


@dataclass(frozen=True)
class Baseline:
    """A bert-score baseline row: the file, its SHA-256 and the values in F, P, R order."""

    path: Path
    sha256: str
    values: np.ndarray  # float64 holding float32-rounded P, R, F


def read_baseline(path_text: str, num_layers: int) -> Baseline:
    """The row of layer ``num_layers`` in a bert-score baseline CSV (``LAYER,P,R,F``).

    Values are rounded to float32 as bert-score reads them.

    Raises:
        AssetError: When the file is missing or unreadable, or has no valid row for the layer.
    """
    path = Path(path_text).expanduser()
    fix = (
        "give baseline_path as a CSV in bert-score's format: a header LAYER,P,R,F and one row "
        "per layer from 0 (bert-score ships some under bert_score/rescale_baseline/<lang>/)"
    )
    if not path.is_file():
        raise AssetError(f"bertscore: baseline_path {str(path)!r} does not exist; {fix}.")
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AssetError(
            f"bertscore: cannot read baseline_path {str(path)!r} ({exc}); {fix}."
        ) from None
    body = [r for r in rows[1:] if r]
    # bert-score reads the row at position num_layers (pandas iloc); evalkit also checks that
    # the row's LAYER column says so, so a file that starts at layer 1 fails instead of
    # rescaling with the wrong layer.
    if len(body) <= num_layers or len(body[num_layers]) < 4:
        raise AssetError(
            f"bertscore: baseline_path {str(path)!r} has no row for layer {num_layers}; {fix}."
        )
    row = body[num_layers]
    try:
        layer = int(float(row[0]))
        values = [float(np.float32(float(x))) for x in row[1:4]]  # bert-score: .float()
    except ValueError:
        raise AssetError(
            f"bertscore: baseline_path {str(path)!r}: row {num_layers + 2} is not numbers; {fix}."
        ) from None
    if layer != num_layers:
        raise AssetError(
            f"bertscore: baseline_path {str(path)!r}: row {num_layers + 2} is for layer {layer}, "
            f"not {num_layers}; {fix}."
        )
    if not all(math.isfinite(v) and v < 1.0 for v in values):
        raise AssetError(
            f"bertscore: baseline_path {str(path)!r}: layer {num_layers} baselines must be "
            f"finite and below 1, got {values}."
        )
    # Reorder P, R, F to evalkit's value order F, P, R.
    arr = np.array([values[2], values[0], values[1]], dtype=np.float64)
    return Baseline(path=path, sha256=sha256_files([path]), values=arr)
