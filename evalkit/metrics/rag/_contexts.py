"""Retrieved contexts and citations of a RAG sample, read and checked once.

A RAG pipeline logs, beside its answer, the passages it retrieved and the passage ids its answer
cites. In a predictions file they sit in a row's ``outputs`` object::

    {"id": "q1", "prediction": "...",
     "outputs": {"contexts": [{"id": "doc3", "text": "..."}, "a bare passage"],
                 "citations": ["doc3"]}}

and may instead be dataset fields (``sample.inputs``) when the contexts are fixed per question.
``sample.outputs`` is read first, then ``sample.inputs``.

A context item is a string (a passage without id) or an object with ``text`` (required) and
``id`` (optional; ``doc_id`` is accepted too); other keys are ignored. An empty list is a valid
"nothing retrieved". Anything else raises :class:`~evalkit.errors.InputError` naming the sample's
file and line, the field, the item and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalkit.errors import InputError
from evalkit.types import Sample

__all__ = ["Passage", "sample_citations", "sample_contexts"]

_CONTEXTS_FIX = 'contexts must be a list of passages: strings or {"id", "text"} objects'
_CITATIONS_FIX = 'citations must be a list of passage ids (strings), e.g. ["doc3", "doc7"]'


@dataclass(frozen=True)
class Passage:
    """One retrieved passage.

    Attributes:
        id: The passage id; ``None`` when the context is a bare string.
        text: The passage text.
        rank: Its 1-based position in the retrieved list.
    """

    id: str | None
    text: str
    rank: int


def _where(sample: Sample) -> str:
    return sample.where or f"sample '{sample.id}'"


def _lookup(sample: Sample, field: str, what: str) -> Any:
    if field in sample.outputs:
        return sample.outputs[field]
    if field in sample.inputs:
        return sample.inputs[field]
    outs = ", ".join(sorted(sample.outputs)) or "none"
    ins = ", ".join(sorted(sample.inputs)) or "none"
    raise InputError(
        f"{_where(sample)}: field '{field}' is missing; the {what} are read from the model's "
        f"outputs['{field}'] (a predictions file row's \"outputs\" object) or from the dataset "
        f"field '{field}' (outputs here: {outs}; dataset fields: {ins}). Log them under "
        f"'{field}' or set the metric's field parameter."
    )


def _found(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def sample_contexts(sample: Sample, *, field: str = "contexts") -> list[Passage]:
    """The retrieved passages of ``sample``, in rank order.

    Args:
        sample: The sample; its contexts are ``sample.outputs[field]``, or when absent there
            ``sample.inputs[field]``.
        field: The key the contexts are logged under.

    Returns:
        One :class:`Passage` per item, ranks from 1; an empty list when nothing was retrieved.

    Raises:
        InputError: The field is missing, is not a list, an item is neither a string nor an
            object with a string ``text``, an id is not a string, or two items share an id.

    Example:
        >>> s = Sample("q1", outputs={"contexts": [{"id": "d3", "text": "Paris."}, "Lyon."]})
        >>> sample_contexts(s)
        [Passage(id='d3', text='Paris.', rank=1), Passage(id=None, text='Lyon.', rank=2)]
        >>> sample_contexts(Sample("q2", inputs={"contexts": []}))
        []
        >>> sample_contexts(Sample("q3", inputs={"contexts": [7]}, where="data.jsonl:3"))
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        evalkit.errors.InputError: data.jsonl:3: field 'contexts': item 0 is int 7; contexts ...
    """
    where = _where(sample)
    items = _lookup(sample, field, "retrieved contexts")
    if not isinstance(items, list):
        raise InputError(f"{where}: field '{field}' is {_found(items)}; {_CONTEXTS_FIX}.")
    passages: list[Passage] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if isinstance(item, str):
            passages.append(Passage(None, item, i + 1))
            continue
        if not isinstance(item, Mapping):
            raise InputError(
                f"{where}: field '{field}': item {i} is {_found(item)}; {_CONTEXTS_FIX}."
            )
        if "text" not in item:
            raise InputError(
                f"{where}: field '{field}': item {i} has no 'text' (keys: "
                f"{', '.join(sorted(map(str, item))) or 'none'}); {_CONTEXTS_FIX}."
            )
        text = item["text"]
        if not isinstance(text, str):
            raise InputError(
                f"{where}: field '{field}': item {i}: 'text' is {_found(text)}; {_CONTEXTS_FIX}."
            )
        key = "id" if "id" in item else "doc_id" if "doc_id" in item else None
        pid = None if key is None else item[key]
        if pid is not None and not isinstance(pid, str):
            raise InputError(
                f"{where}: field '{field}': item {i}: '{key}' is {_found(pid)}; passage ids "
                f'must be strings (write "{pid}" with quotes).'
            )
        if pid is not None:
            if pid in seen:
                raise InputError(
                    f"{where}: field '{field}': items {seen[pid]} and {i} share the id "
                    f"'{pid}'; each retrieved passage must appear once (drop the duplicate)."
                )
            seen[pid] = i
        passages.append(Passage(pid, text, i + 1))
    return passages


def sample_citations(sample: Sample, *, field: str = "citations") -> list[str]:
    """The passage ids the answer of ``sample`` cites, in the order given.

    Args:
        sample: The sample; its citations are ``sample.outputs[field]``, or when absent there
            ``sample.inputs[field]``.
        field: The key the citations are logged under.

    Returns:
        The cited ids; an empty list when the answer cites nothing. Repeated ids are kept (a
        metric decides whether citing a passage twice matters).

    Raises:
        InputError: The field is missing, is not a list, or an item is not a string.

    Example:
        >>> sample_citations(Sample("q1", outputs={"citations": ["d3", "d7"]}))
        ['d3', 'd7']
        >>> sample_citations(Sample("q1", outputs={"citations": "d3"}, where="p.jsonl:2"))
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        evalkit.errors.InputError: p.jsonl:2: field 'citations' is str 'd3'; citations must ...
    """
    where = _where(sample)
    items = _lookup(sample, field, "citations")
    if not isinstance(items, list):
        raise InputError(f"{where}: field '{field}' is {_found(items)}; {_CITATIONS_FIX}.")
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InputError(
                f"{where}: field '{field}': item {i} is {_found(item)}; {_CITATIONS_FIX}."
            )
    return list(items)
