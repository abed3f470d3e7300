"""A shared, generated parity corpus: text that ships with Python, sampled with a fixed seed.

Sentences are runs of words drawn from ``pydoc_data.topics`` (Python's own help text: code,
punctuation, quotes, mixed case); predictions are noisy copies of a reference (dropped,
substituted, duplicated and swapped words), so scores fall in the interesting middle range.
Hand-written edge cases (empty prediction, punctuation only, unicode, CJK, XML entities,
trailing spaces) are appended to every corpus.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pydoc_data.topics import topics

SEED = 20240611

# (prediction, references): hand-written cases every corpus ends with.
EDGE_CASES: list[tuple[str, list[str]]] = [
    ("", ["An empty prediction still has a reference."]),
    ("?!... ,;:", ["Only punctuation, really!"]),
    ("Zürich straße café naïve — “quoted” façade", ['Zürich strasse café naive - "quoted"']),
    ("東京は日本の首都です。", ["東京は日本の首都である。"]),
    ("Fish &amp; chips &lt;b&gt;", ["Fish & chips <b>"]),
    ("trailing spaces   ", ["trailing spaces"]),
    ("The Same Sentence.", ["the same sentence."]),
    ("it's 3.14, isn't it? (yes)", ["It is 3.14 , is it not ? ( yes )"]),
]


def _words() -> list[str]:
    text = " ".join(topics[k] for k in sorted(topics))
    return [w for w in text.split() if len(w) <= 20]


WORDS = _words()
ALPHA_WORDS = sorted({w for w in (re.sub(r"[^A-Za-z]", "", w) for w in WORDS) if len(w) >= 2})


def sentence(rng: random.Random, lo: int = 4, hi: int = 25) -> str:
    """A run of consecutive words from the help text (real word order, real punctuation)."""
    n = rng.randint(lo, hi)
    start = rng.randrange(len(WORDS) - n)
    return " ".join(WORDS[start : start + n])


def perturb(rng: random.Random, text: str, rate: float = 0.3) -> str:
    """A noisy copy: words dropped, replaced, duplicated, swapped, or case-changed."""
    out: list[str] = []
    for w in text.split():
        r = rng.random()
        if r < rate * 0.25:
            continue
        if r < rate * 0.5:
            out.append(rng.choice(WORDS))
        elif r < rate * 0.65:
            out += [w, w]
        elif r < rate * 0.8:
            out.append(w.upper() if rng.random() < 0.5 else w.lower())
        else:
            out.append(w)
    if len(out) > 2 and rng.random() < rate:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


@dataclass(frozen=True)
class Corpus:
    """Predictions with one list of references each."""

    kind: str
    predictions: list[str]
    references: list[list[str]]

    def streams(self) -> list[list[str]]:
        """sacrebleu's reference streams, padded with None for variable reference counts.

        (Typed as ``str`` like sacrebleu's hints, although sacrebleu documents ``None``.)
        """
        width = max(len(r) for r in self.references)
        return [
            [r[k] if k < len(r) else None for r in self.references]  # type: ignore[misc]
            for k in range(width)
        ]


def build_corpus(kind: str, n: int = 60, seed: int = SEED) -> Corpus:
    """``kind``: ``single`` (1 reference), ``multi`` (3) or ``variable`` (1 to 4)."""
    rng = random.Random(f"{seed}-{kind}")
    preds: list[str] = []
    refs: list[list[str]] = []
    for _ in range(n):
        source = sentence(rng)
        count = {"single": 1, "multi": 3}.get(kind) or rng.randint(1, 4)
        refs.append([source] + [perturb(rng, source, 0.2) for _ in range(count - 1)])
        preds.append(perturb(rng, source))
    for pred, edge_refs in EDGE_CASES:
        preds.append(pred)
        extra = {"single": 0, "multi": 2}.get(kind)
        if extra is None:
            extra = rng.randint(0, 2)
        refs.append(edge_refs + [perturb(rng, edge_refs[0], 0.5) for _ in range(extra)])
    return Corpus(kind, preds, refs)
