"""An extractive RAG generator for the bundled suite (no instruction-tuned model ships).

Each question asks to complete a statement of Python's help text; this "generator" looks for
the statement's opening words in the passages its prompt shows and answers with the sentence
they start, or says the passages do not hold it. It can only be as right as its retriever.
"""

from __future__ import annotations

import re

NOT_FOUND = "The passages do not say."


def answer(prompts: list[str]) -> list[str]:
    """One answer per prompt (``[ID] text`` passages, then ``Question: ...``)."""
    out = []
    for prompt in prompts:
        passages, _, question = prompt.partition("\nQuestion: ")
        found = re.search(r'complete the statement "(.*?)\s*\.\.\."', question)
        opening = found.group(1) if found else ""
        text = " ".join(passages.split())
        at = text.find(" ".join(opening.split())) if opening else -1
        if at < 0:
            out.append(NOT_FOUND)
            continue
        end = re.search(r"(?<=[.!?])\s|\[[^\]]+\]|$", text[at + len(opening) :])
        stop = at + len(opening) + (end.start() if end else 0)
        out.append(text[at:stop].strip())
    return out
