"""A rule-based relevance judge for the bundled RAG suite (no instruction-tuned model ships).

It reads the question and the passage out of ``context_relevance``'s default prompt and calls
the passage relevant when it shares five or more words of five letters or more with the
question, as a cheap judge model might.
"""

from __future__ import annotations

import json
import re


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 5}


def relevant(prompts: list[str]) -> list[str]:
    """``{"relevant": true | false}`` per prompt."""
    out = []
    for prompt in prompts:
        question = prompt.split("[Question]\n", 1)[1].split("\n\n[Passage]", 1)[0]
        passage = prompt.split("[Passage]\n", 1)[1].split("\n\n[End]", 1)[0]
        out.append(json.dumps({"relevant": len(_words(question) & _words(passage)) >= 5}))
    return out


def addresses(prompts: list[str]) -> list[str]:
    """``{"relevance": 1-5}`` per ``answer_relevance`` prompt: how many of the question's
    long words (five letters or more) the answer repeats, 1 for an empty answer."""
    out = []
    for prompt in prompts:
        question = prompt.split("[Question]\n", 1)[1].split("\n\n[Answer]", 1)[0]
        answer = prompt.split("[Answer]\n", 1)[1].split("\n\n[End]", 1)[0]
        shared = len(_words(question) & _words(answer))
        grade = 1 if not answer.strip() else min(5, 2 + shared // 2)
        out.append(json.dumps({"relevance": grade}))
    return out
