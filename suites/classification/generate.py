"""Write the classification suite's data: reviews, and the outputs of two systems.

The reviews are template sentences written for evalkit; the systems are simulated with a
seeded generator (system a: 80% right, confidences near its accuracy; system b: 60% right,
over-confident), so the files are reproducible: ``python suites/classification/generate.py``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = ("positive", "negative", "neutral")
ITEMS = ("blender", "kettle", "headphones", "backpack", "lamp", "keyboard")
PHRASES = {
    "positive": ("works perfectly", "is worth every penny", "exceeded my expectations"),
    "negative": ("broke after a week", "is a waste of money", "stopped working at once"),
    "neutral": ("arrived on Tuesday", "comes in a grey box", "is about the size I expected"),
}


def main() -> None:
    rng = random.Random(17)
    rows = []
    for i in range(60):
        label = LABELS[i % 3]
        text = f"The {ITEMS[i % len(ITEMS)]} {PHRASES[label][(i // 3) % 3]}."
        rows.append({"id": f"r{i:02d}", "text": text, "label": label})
    with (HERE / "reviews.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    for name, right, conf_right, conf_wrong in (
        ("a", 0.8, (0.7, 0.99), (0.4, 0.7)),
        ("b", 0.6, (0.85, 1.0), (0.8, 1.0)),
    ):
        with (HERE / f"sys_{name}.jsonl").open("w", encoding="utf-8") as fh:
            for row in rows:
                ok = rng.random() < right
                pred = row["label"] if ok else rng.choice([x for x in LABELS if x != row["label"]])
                low, high = conf_right if ok else conf_wrong
                conf = round(rng.uniform(low, high), 3)
                line = {"id": row["id"], "prediction": pred, "outputs": {"confidence": conf}}
                fh.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
