"""Write the multiple-choice items of ``suites/mc.yaml`` (``suites/mc/items.jsonl``).

Each item is eight words of a held-out pydoc topic (the topics that
``scripts/train_tiny_lm.py`` keeps from the tokenizer and the model, split by the same hash
of the topic name), and four choices for the next six words: the words that really follow,
and the six words at the same place in three passages of *other* held-out topics. Passages
are cut from every paragraph of 200-1200 characters, fourteen words at a time, so one
paragraph gives several items. The order of the choices is shuffled with a seeded generator;
the file is the same on every run with the same Python (the pydoc text is Python's).

Run: ``python scripts/make_mc_suite.py`` (rewrites the file; prints its SHA-256).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_tiny_lm import paragraphs, split_topics

CONTEXT_WORDS = 8
ANSWER_WORDS = 6
N_ITEMS = 120
N_DISTRACTORS = 3


def items(seed: int = 0, n_items: int = N_ITEMS) -> list[dict[str, object]]:
    """The items: ``{"id", "topic", "context", "choices", "gold"}`` (gold: an index)."""
    _, heldout = split_topics()
    span = CONTEXT_WORDS + ANSWER_WORDS
    passages = []
    for topic, para in paragraphs(heldout):
        words = para.split()
        for start in range(0, len(words) - span + 1, span):
            cut = words[start : start + span]
            passages.append((topic, " ".join(cut[:CONTEXT_WORDS]), " ".join(cut[CONTEXT_WORDS:])))
    rng = random.Random(seed)
    rng.shuffle(passages)
    passages = passages[:n_items]
    out: list[dict[str, object]] = []
    for n, (topic, context, answer) in enumerate(passages):
        others = [p[2] for p in passages if p[0] != topic and p[2] != answer]
        choices = [*rng.sample(others, N_DISTRACTORS), answer]
        rng.shuffle(choices)
        out.append(
            {
                "id": f"{topic}-{n}",
                "topic": topic,
                "context": context,
                "choices": choices,
                "gold": choices.index(answer),
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """Write the items file and print its path and SHA-256."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = Path(__file__).resolve().parent.parent
    parser.add_argument("--out", type=Path, default=root / "suites" / "mc" / "items.jsonl")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items(args.seed))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(body, encoding="utf-8")
    print(args.out, hashlib.sha256(body.encode("utf-8")).hexdigest())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
