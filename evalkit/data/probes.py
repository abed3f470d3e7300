"""Counterfactual probe sets: templates with slots and a swap list, expanded into text pairs.

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
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit.errors import InputError

__all__ = ["expand_probes", "load_probes", "swap_terms"]


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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m evalkit.data.probes PROBES.yaml OUT.jsonl``: write the expanded pairs."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m evalkit.data.probes PROBES.yaml OUT.jsonl", file=sys.stderr)
        return 2
    rows = expand_probes(load_probes(args[0]))
    with open(args[1], "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
