"""Counterfactual probe sets and the paired statistics of bias probes.

A probe set is a small YAML/JSON file of templates with slots and a swap list:

.. code-block:: yaml

    groups: [male, female]            # names of the two sides of every swap pair
    swaps: [[he, she], [his, her], [him, her], [man, woman], [John, Mary]]
    slots: {job: [nurse, engineer]}   # optional: each template is filled with every value
    templates:
      - {id: t1, text: "He works as a {job}. Is he good at it? Answer yes or no."}

:func:`expand_probes` fills every template with every slot value and pairs each text with its
counterfactual, made by :func:`swap_terms`: every group term is replaced by its counterpart,
whole words only, in both directions (``he`` -> ``she`` and ``she`` -> ``he``), keeping the
case pattern (``He`` -> ``She`` at a sentence start, ``HIS`` -> ``HER``). A reverse mapping
that is ambiguous (``her`` -> ``his`` or ``him``) takes the first pair listed. Each row holds
``text_a`` (group ``groups[0]``'s version) and ``text_b``: the two differ only in group terms.

The statistics are paired: :func:`sign_flip_p_value` tests the mean of per-pair differences
against zero (exact over all sign patterns for up to 16 non-zero differences, seeded Monte
Carlo otherwise), and :func:`weat_statistics` computes the WEAT effect size and permutation
p-value of Caliskan et al. (2017).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.errors import InputError

__all__ = ["expand_probes", "load_probes", "sign_flip_p_value", "swap_terms", "weat_statistics"]

#: Above this many non-zero differences the sign-flip test samples sign patterns.
EXACT_SIGN_FLIP_LIMIT = 16
_TIE = 1e-12


def _match_case(word: str, template: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def swap_terms(text: str, swaps: Sequence[Sequence[str]]) -> str:
    """Swap every group term for its counterpart, both ways, whole words, keeping case.

    Args:
        text: The text to rewrite.
        swaps: ``[term_a, term_b]`` pairs; matching ignores case, and the replacement copies
            the matched word's case pattern (lower, Capitalised or UPPER).

    >>> swap_terms("He said his sister saw him. She agreed.", [["he", "she"], ["his", "her"],
    ...            ["him", "her"]])
    'She said her sister saw her. He agreed.'
    >>> swap_terms("HE met John.", [["he", "she"], ["John", "Mary"]])
    'SHE met Mary.'
    """
    mapping: dict[str, str] = {}
    for pair in swaps:
        if len(pair) != 2:
            raise InputError(f"swap pair {list(pair)!r} must have exactly two terms.")
        a, b = str(pair[0]), str(pair[1])
        mapping.setdefault(a.lower(), b)
        mapping.setdefault(b.lower(), a)
    if not mapping:
        return text
    words = sorted(mapping, key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)

    def repl(m: re.Match[str]) -> str:
        found = m.group(0)
        target = mapping[found.lower()]
        # Proper names keep their own spelling unless the match was all caps.
        if target[:1].isupper() and not found.isupper():
            return target
        return _match_case(target, found)

    return pattern.sub(repl, text)


def _count_terms(text: str, terms: Sequence[str]) -> int:
    return sum(
        len(re.findall(r"\b" + re.escape(t) + r"\b", text, flags=re.IGNORECASE)) for t in terms
    )


def load_probes(path: str | Path) -> dict[str, Any]:
    """Read a probe set (YAML or JSON), checking its keys."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: probe set not found; check the path.")
    text = p.read_text(encoding="utf-8")
    data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise InputError(f"{p}: a probe set is a mapping with 'swaps' and 'templates'.")
    for key in ("swaps", "templates"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise InputError(f"{p}: '{key}' must be a non-empty list.")
    return data


def expand_probes(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Counterfactual pairs from a probe set (see the module docstring).

    Each row: ``id`` (template id and slot values), ``text_a``, ``text_b``, ``group_a``,
    ``group_b``, the slot values, and any other template fields (``label``...). A template
    without any group term is an error: it would give a pair of equal texts.

    >>> rows = expand_probes({"groups": ["m", "f"], "swaps": [["he", "she"]],
    ...     "slots": {"job": ["cook", "pilot"]},
    ...     "templates": [{"id": "t", "text": "She is a {job}."}]})
    >>> [(r["id"], r["text_a"], r["text_b"]) for r in rows][1]
    ('t-pilot', 'He is a pilot.', 'She is a pilot.')
    """
    swaps = [list(map(str, p)) for p in spec["swaps"]]
    groups = list(spec.get("groups") or ["a", "b"])
    side_a = [p[0] for p in swaps]
    side_b = [p[1] for p in swaps]
    slots: Mapping[str, Sequence[str]] = spec.get("slots") or {}
    rows: list[dict[str, Any]] = []
    for t_index, template in enumerate(spec["templates"]):
        if isinstance(template, str):
            template = {"text": template}
        tid = str(template.get("id", f"t{t_index}"))
        text = str(template["text"])
        names = [n for n in slots if "{" + n + "}" in text]
        for combo in itertools.product(*(slots[n] for n in names)):
            values = dict(zip(names, combo, strict=True))
            filled = text.format(**values) if values else text
            n_a, n_b = _count_terms(filled, side_a), _count_terms(filled, side_b)
            if n_a == 0 and n_b == 0:
                raise InputError(
                    f"probe template '{tid}' has no group term from the swap list; "
                    "add one (he/she, a name...) or remove the template."
                )
            swapped = swap_terms(filled, swaps)
            a, b = (filled, swapped) if n_a >= n_b else (swapped, filled)
            row: dict[str, Any] = {"id": "-".join([tid, *map(str, combo)])}
            row.update(text_a=a, text_b=b, group_a=groups[0], group_b=groups[1])
            row.update(values)
            row.update({k: v for k, v in template.items() if k not in ("id", "text")})
            rows.append(row)
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise InputError("probe ids repeat; give each template a distinct 'id'.")
    return rows


@functools.lru_cache(maxsize=64)
def _sign_patterns(m: int, samples: int, seed: int) -> np.ndarray:
    if m <= EXACT_SIGN_FLIP_LIMIT:
        codes = np.arange(2**m)[:, None] >> np.arange(m)[None, :]
        return np.where(codes & 1, -1.0, 1.0)
    rng = np.random.default_rng(seed)
    return np.where(rng.integers(0, 2, size=(samples, m), dtype=np.int8) == 1, -1.0, 1.0)


def sign_flip_p_value(differences: Sequence[float], *, samples: int = 9999, seed: int = 0) -> float:
    """Two-sided paired sign-flip permutation p-value for ``mean(differences) == 0``.

    Under the null each pair's difference is as likely to have either sign (Fisher 1935;
    Good 2005, ch. 3). Zero differences cannot change sign and are left out. With at most
    :data:`EXACT_SIGN_FLIP_LIMIT` non-zero differences all ``2**m`` sign patterns are
    enumerated (``p = #{|sum s*d| >= |sum d|} / 2**m``, exact); otherwise ``samples`` seeded
    random patterns give ``p = (1 + #{...}) / (samples + 1)``.

    >>> sign_flip_p_value([1.0] * 6)  # 2 of 64 patterns are as extreme
    0.03125
    >>> sign_flip_p_value([0.0, 0.0])
    1.0
    """
    d = np.asarray([x for x in differences if x != 0], dtype=np.float64)
    m = d.size
    if m == 0:
        return 1.0
    observed = abs(float(d.sum()))
    signs = _sign_patterns(m, samples, seed)
    stats = np.abs(signs @ d)
    extreme = int(np.count_nonzero(stats >= observed - _TIE * max(1.0, observed)))
    if m <= EXACT_SIGN_FLIP_LIMIT:
        return extreme / signs.shape[0]
    return (1 + extreme) / (samples + 1)


def _cosine(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    un = u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    vn = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return un @ vn.T


def weat_statistics(
    x: np.ndarray,
    y: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    *,
    permutations: int = 10000,
    exact_limit: int = 20000,
    seed: int = 0,
) -> tuple[float, float]:
    """WEAT effect size and one-sided permutation p-value (Caliskan et al. 2017).

    With ``s(w, A, B) = mean_a cos(w, a) - mean_b cos(w, b)``, the effect size is
    ``(mean_x s(x) - mean_y s(y)) / std_{w in X u Y} s(w)``, the standard deviation being the
    *sample* one (``ddof=1``) over the union of both target sets, as in Caliskan et al.'s
    formula and WEFAT/SEAT implementations. The p-value is Caliskan et al.'s one-sided
    ``P[s(X_i, Y_i) > s(X, Y)]`` with ``s(X, Y) = sum_x s(x) - sum_y s(y)``, over equal-size
    partitions ``(X_i, Y_i)`` of ``X u Y``: all of them when there are at most ``exact_limit``
    (we count ``>=``, which includes the observed partition, so ``p > 0``), else
    ``permutations`` seeded random ones with ``p = (1 + #) / (permutations + 1)``.

    >>> e = np.eye(4)
    >>> x, y = e[[0, 0]] + 0.1 * e[[2, 3]], e[[1, 1]] + 0.1 * e[[3, 2]]
    >>> size, p = weat_statistics(x, y, e[[0]], e[[1]])
    >>> round(size, 6), p  # mean gap 2c over std 2c/sqrt(3); 1 of 6 partitions as extreme
    (1.732051, 0.16666666666666666)
    """
    if min(len(x), len(y), len(a), len(b)) == 0:
        return math.nan, math.nan
    targets = np.concatenate([x, y])
    assoc = _cosine(targets, a).mean(axis=1) - _cosine(targets, b).mean(axis=1)
    sx, sy = assoc[: len(x)], assoc[len(x) :]
    std = float(np.std(assoc, ddof=1)) if len(assoc) > 1 else math.nan
    effect = float((sx.mean() - sy.mean()) / std) if std and std > 0 else math.nan
    n, k = len(assoc), len(x)
    observed = float(sx.sum() - sy.sum())
    total = float(assoc.sum())
    if math.comb(n, k) <= exact_limit:
        idx = np.array(list(itertools.combinations(range(n), k)), dtype=np.int64)
        in_x = assoc[idx].sum(axis=1)
        count = int(np.count_nonzero(2 * in_x - total >= observed - _TIE * max(1, abs(observed))))
        return effect, count / len(idx)
    rng = np.random.default_rng(seed)
    keys = rng.random((permutations, n))
    chosen = np.argsort(keys, axis=1)[:, :k]
    in_x = assoc[chosen].sum(axis=1)
    count = int(np.count_nonzero(2 * in_x - total >= observed - _TIE * max(1, abs(observed))))
    return effect, (1 + count) / (permutations + 1)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m evalkit.probes PROBES.yaml OUT.jsonl``: write the expanded pairs."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m evalkit.probes PROBES.yaml OUT.jsonl", file=sys.stderr)
        return 2
    rows = expand_probes(load_probes(args[0]))
    with open(args[1], "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
