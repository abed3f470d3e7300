"""Claims of an answer: a deterministic, rule-based sentence splitter.

A grounding metric checks an answer claim by claim; by default a claim is one sentence. The
splitter is a small set of rules, so the same answer always gives the same claims:

1. Lines split: each line break ends a claim, and a list marker at the start of a line
   (``-``, ``*``, ``+``, ``•``, ``1.``, ``1)``, ``(a)``) is dropped.
2. Within a line, a run of ``.``, ``!`` or ``?`` (optionally followed by closing quotes or
   brackets) ends a sentence when it is followed by the end of the line, or by white space
   and then (after optional opening quotes or brackets) an upper-case letter or a digit.
3. A single ``.`` does not end a sentence after a common abbreviation (:data:`ABBREVIATIONS`:
   ``e.g.``, ``i.e.``, ``Mr.``, ``Dr.``, ``etc.``, ``vs.``...) or a one-letter initial
   (``J. Smith``). ``etc.`` followed by a capital is therefore never split: the rule prefers a
   missed split (a longer claim) to a claim cut in half.
4. An ellipsis (``...`` or ``…``) inside a line does not end a sentence.
5. Decimals (``3.14``), version numbers (``v1.2.3``), ``file.py`` and URLs never split: their
   dot is not followed by white space.

Segments with no letter or digit (``"--"``) are dropped; the rest are stripped of white space.
"""

from __future__ import annotations

import re

__all__ = ["ABBREVIATIONS", "split_claims", "split_sentences"]

#: Lower-cased words (without their final dot) after which a single ``.`` is not a sentence end.
ABBREVIATIONS = frozenset(
    {
        "e.g", "i.e", "etc", "vs", "cf", "al", "approx", "ca", "viz", "resp",
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "col", "lt", "sgt",
        "inc", "ltd", "co", "corp", "dept", "univ", "no", "nos", "vol", "fig", "figs", "eq",
        "ch", "sec", "pp", "p", "ed", "eds", "est", "jan", "feb", "mar", "apr", "jun", "jul",
        "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "a.m", "p.m",
    }
)  # fmt: skip

_MARKER = re.compile(r"^\s*(?:[-*+•·▪‣]|\d{1,3}[.)]|\(?[a-zA-Z\d]{1,2}\))\s+")
_END = re.compile(r"(?:\.{2,}|…|[.!?]+)[\"'”’)\]]*")
_NEXT = re.compile(r"\s+[\"'“‘(\[]*[A-Z\d]")
_WORD_BEFORE = re.compile(r"(\S+)$")
_HAS_ALNUM = re.compile(r"[^\W_]")


def _ends_sentence(line: str, match: re.Match[str]) -> bool:
    """Whether the terminator ``match`` in ``line`` ends a sentence (rules 2-4)."""
    rest = line[match.end() :]
    at_end = not rest.strip()
    if not at_end and not _NEXT.match(rest):
        return False
    mark = match.group().rstrip("\"'”’)]")
    if mark.startswith("..") or mark == "…":
        return at_end
    if mark == ".":
        before = _WORD_BEFORE.search(line[: match.start()])
        word = before.group(1).lower().lstrip("\"'“‘([") if before else ""
        if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            return False  # the line's end closes the segment anyway
    return True


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, by the rules of the module docstring.

    Args:
        text: Any text (an answer).

    Returns:
        The sentences in order, stripped; an empty list for text without letters or digits.

    Example:
        >>> split_sentences("Dr. Smith paid $3.14, i.e. a lot. Was it v1.2.3? Yes!")
        ['Dr. Smith paid $3.14, i.e. a lot.', 'Was it v1.2.3?', 'Yes!']
        >>> split_sentences("Wait... it works.\\n- first item\\n2. second item")
        ['Wait... it works.', 'first item', 'second item']
        >>> split_sentences("J. R. R. Tolkien wrote it. see e.g. Fig. 2 etc. The end")
        ['J. R. R. Tolkien wrote it. see e.g. Fig. 2 etc. The end']
    """
    out: list[str] = []
    for raw in text.splitlines():
        line = _MARKER.sub("", raw, count=1)
        start = 0
        for match in _END.finditer(line):
            if _ends_sentence(line, match):
                out.append(line[start : match.end()])
                start = match.end()
        out.append(line[start:])
    return [s.strip() for s in out if _HAS_ALNUM.search(s)]


def split_claims(text: str) -> list[str]:
    """The claims of an answer: its sentences (see :func:`split_sentences`).

    Example:
        >>> split_claims("Paris is the capital of France. It has 2.1 million people.")
        ['Paris is the capital of France.', 'It has 2.1 million people.']
        >>> split_claims("   ")
        []
    """
    return split_sentences(text)
