"""A rule-based judge for the bundled judge suite (no instruction-tuned model ships).

It reads the answer and the reference out of the rendered judge prompt (the suite's
templates mark them ``[Reference]``, ``[Answer]``, ``[Answer A]``, ``[Answer B]``) and grades
by words, as a cheap judge model might: correctness by how many of the reference's words the
answer holds, less a point for hedging; clarity by length. It refuses to grade an empty
answer, which evalkit counts as a judge failure. In the pairwise prompt it prefers the answer
with the higher total and, when both score the same, the one shown first: a position bias
that asking in both orders exposes.
"""

from __future__ import annotations

import json
import re

HEDGES = ("i think", "maybe", "probably", "if i remember", "not sure")
STOP = {"the", "a", "an", "of", "is", "it", "degrees"}


def _section(prompt: str, name: str) -> str:
    match = re.search(rf"^\[{re.escape(name)}\]\n(.*?)(?=^\[)", prompt, re.M | re.S)
    return match.group(1).strip() if match else ""


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _grades(answer: str, reference: str) -> tuple[int, int] | None:
    """(correctness, clarity) on 1-5, or None for an empty answer."""
    words = _words(answer)
    if not words:
        return None
    hedged = any(h in answer.lower() for h in HEDGES)
    wanted = [w for w in _words(reference) if w not in STOP] or _words(reference)
    found = sum(w in words for w in wanted) / len(wanted)
    correctness = 1 if found == 0 else 3 if found < 1 else 5
    if hedged and correctness > 1:
        correctness -= 1
    n = len(words)
    clarity = 5 if n <= 8 else 4 if n <= 15 else 3 if n <= 25 else 2
    return correctness, max(1, clarity - hedged)


def grade(prompts: list[str]) -> list[str]:
    """Rubric verdicts: ``{"correctness": N, "clarity": N}`` per prompt, or a refusal."""
    out = []
    for prompt in prompts:
        grades = _grades(_section(prompt, "Answer"), _section(prompt, "Reference"))
        if grades is None:
            out.append("I cannot grade an empty answer.")
        else:
            out.append(json.dumps({"correctness": grades[0], "clarity": grades[1]}))
    return out


def prefer(prompts: list[str]) -> list[str]:
    """Pairwise verdicts: ``{"winner": "A" | "B" | "tie"}`` per prompt."""
    out = []
    for prompt in prompts:
        ref = _section(prompt, "Reference")
        a = _grades(_section(prompt, "Answer A"), ref) or (0, 0)
        b = _grades(_section(prompt, "Answer B"), ref) or (0, 0)
        if a == b == (0, 0):
            winner = "tie"
        elif sum(a) == sum(b):
            winner = "A"  # the position bias: the first of two equal answers
        else:
            winner = "A" if sum(a) > sum(b) else "B"
        out.append(json.dumps({"winner": winner}))
    return out
