"""Text checks shared by the text-overlap metrics: empty references and CJK detection."""

from __future__ import annotations

from collections.abc import Sequence

import regex

from evalkit.errors import InputError
from evalkit.types import Sample

__all__ = ["check_nonempty_references", "has_cjk", "sample_has_cjk"]

# Chinese characters, Japanese kana and Korean Hangul: scripts written without spaces between
# words (Chinese, Japanese) or whose words a whitespace/punctuation tokenizer keeps whole.
_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]")


def check_nonempty_references(
    metric: str, batch: Sequence[Sample], references: Sequence[Sequence[str]]
) -> None:
    """Refuse a sample whose references are all empty or whitespace, as the data loader does.

    An empty reference gives the text-overlap metrics nothing to compare with (BLEU and TER
    divide by the reference length, ROUGE's recall is undefined), and such a sample in a data
    file is almost always a wrong field mapping. The functional twins follow the loader, so
    that ``evalkit run`` and ``evalkit.metrics.bleu(...)`` accept the same inputs. A sample
    with at least one non-empty reference is scored as the reference library scores it, empty
    references included.

    Raises:
        InputError: Naming the first such sample.

    >>> check_nonempty_references("bleu", [Sample(id="7")], [["", " \\n"]])
    Traceback (most recent call last):
    ...
    evalkit.errors.InputError: bleu: sample '7' has only empty references; give at least one \
non-empty reference (evalkit run refuses such samples too).
    """
    for sample, refs in zip(batch, references, strict=True):
        if not any(r.strip() for r in refs):
            raise InputError(
                f"{metric}: sample '{sample.id}' has only empty references; give at least one "
                "non-empty reference (evalkit run refuses such samples too)."
            )


def has_cjk(text: str) -> bool:
    """Whether ``text`` has a Chinese character, Japanese kana or Korean Hangul.

    >>> has_cjk("The capital is 東京"), has_cjk("naïve café"), has_cjk("서울")
    (True, False, True)
    """
    return not text.isascii() and _CJK.search(text) is not None


def sample_has_cjk(sample: Sample) -> bool:
    """Whether the prediction or a reference of ``sample`` has CJK text."""
    texts = [sample.prediction or "", *sample.references]
    return any(has_cjk(t) for t in texts if isinstance(t, str))
