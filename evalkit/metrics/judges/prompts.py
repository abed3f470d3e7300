"""Judge prompt templates: ``str.format`` over named fields, from the suite or a file.

A judge template is checked like a task prompt (:mod:`evalkit._templates`: plain field names,
literal format specs, ``{{`` and ``}}`` for literal braces, which a template asking for a JSON
verdict needs). The fields a judge template may name:

- every dataset field of the sample (``{question}``, ``{context}``...);
- ``{prompt}``: the prompt the task's model was given;
- ``{prediction}``: the model's output;
- ``{reference}``: the first reference (empty when there is none), ``{references}``: all of
  them, one per line;
- the metric's own fields (pairwise: ``{output_a}``, ``{output_b}``).

The template's SHA-256 (of its text, whether written inline or read from ``template_file``)
goes into the metric's signature; the text itself does not.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Collection
from pathlib import Path

from evalkit._templates import _check_template
from evalkit._textio import decode_utf8
from evalkit.errors import ConfigError, InputError
from evalkit.types import Sample

__all__ = ["JudgePrompt"]

#: Fields every judge prompt may name besides the dataset's.
BASE_FIELDS = ("prompt", "prediction", "reference", "references")


class JudgePrompt:
    """A checked judge template and its hash.

    Args:
        metric: The metric's name (for messages).
        template: The template text, or None to read ``template_file`` (or use ``default``).
        template_file: A UTF-8 file holding the template (an absolute path: the suite loader
            resolves it against the suite's folder).
        default: The metric's built-in template, used when neither is given.
        extra: The metric's own fields (allowed in the template besides the dataset's).

    Raises:
        ConfigError: Both ``template`` and ``template_file`` given, an unreadable file, or a
            template that is not a plain ``str.format`` template.

    Example:
        >>> text = "Q: {question}\\nA: {prediction}\\nScore 1-5 as {{\\"score\\": N}}"
        >>> p = JudgePrompt("judge", text)
        >>> print(p.render(Sample(id="1", inputs={"question": "2+2?"}, prediction="4")))
        Q: 2+2?
        A: 4
        Score 1-5 as {"score": N}
        >>> len(p.sha256), sorted(p.fields)
        (64, ['prediction', 'question'])
    """

    def __init__(
        self,
        metric: str,
        template: str | None,
        template_file: str | None = None,
        *,
        default: str | None = None,
        extra: Collection[str] = (),
    ) -> None:
        if template is not None and template_file is not None:
            raise ConfigError(f"{metric}: give `template` or `template_file`, not both.")
        if template is None and template_file is not None:
            path = Path(template_file)
            try:
                raw = path.read_bytes()
            except OSError as exc:
                raise ConfigError(
                    f"{metric}: template_file {path}: cannot be read ({exc.strerror or exc})."
                ) from None
            template = decode_utf8(raw, path)
        if template is None:
            if default is None:
                raise ConfigError(
                    f"{metric}: give a judge prompt as `template` or `template_file`."
                )
            template = default
        try:
            self.text = _check_template(template)
        except ValueError as exc:
            raise ConfigError(f"{metric}: judge template: {exc}.") from None
        self.metric = metric
        self.sha256 = hashlib.sha256(self.text.encode("utf-8")).hexdigest()
        self.fields = frozenset(
            f for _, f, _, _ in string.Formatter().parse(self.text) if f is not None
        )
        self.extra = frozenset(extra)

    def render(self, sample: Sample, **extra: str) -> str:
        """The prompt for ``sample`` (its prediction set), with the metric's own ``extra`` fields.

        Raises:
            InputError: The template names a field the sample does not have (naming the
                sample's file and line, and the fields it has).
        """
        values: dict[str, object] = dict(sample.inputs)
        refs = sample.references
        values.update(
            prompt=sample.prompt or "",
            prediction=sample.prediction or "",
            reference=refs[0] if refs else "",
            references="\n".join(refs),
        )
        values.update(extra)
        missing = sorted(self.fields - values.keys())
        if missing:
            have = ", ".join(sorted(values)) or "(none)"
            raise InputError(
                f"{sample.where or 'sample ' + repr(sample.id)}: the {self.metric} judge template "
                f"names {', '.join('{' + m + '}' for m in missing)}, which this sample does not "
                f"have (fields: {have}); fix the template or the dataset."
            )
        try:
            return self.text.format(**values)
        except (ValueError, TypeError) as exc:  # a format spec that does not fit the value
            raise InputError(
                f"{sample.where or 'sample ' + repr(sample.id)}: the {self.metric} judge template "
                f"cannot be filled ({type(exc).__name__}: {exc})."
            ) from None
