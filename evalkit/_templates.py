"""Prompt templates from YAML: ``str.format`` over plain field names, nothing more.

Shared by suites (task prompts) and judge metrics (judge prompts); re-exported by
:mod:`evalkit.suite.templates`.
"""

from __future__ import annotations

import re
import string

#: The largest width or precision a prompt field's format spec may ask for (``{x:>1000}``): a
#: larger one is a typo or an attempt to make one prompt gigabytes long.
MAX_FORMAT_WIDTH = 1000
# Python's standard format-spec mini-language (docs: "Format Specification Mini-Language"):
# [[fill]align][sign]["z"]["#"]["0"][width][grouping]["." precision][type].
_FORMAT_SPEC = re.compile(
    r"(?:(?P<fill>.)?[<>=^])?[-+ ]?z?#?0?(?P<width>\d+)?[_,]?"
    r"(?:\.(?P<precision>\d+))?[bcdeEfFgGnosxX%]?",
    re.DOTALL,
)
_FIX = (
    "use plain field names only, such as {question} or {score:.2f}; write literal braces as "
    "{{ and }}"
)


def _check_field(field: str, spec: str, conversion: str | None) -> None:
    """ValueError unless ``{field!conversion:spec}`` names a field with a literal spec."""
    shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
    shown += "}"
    if not field:
        raise ValueError(f"prompt field {shown} is positional; {_FIX}")
    if not field.isidentifier():
        kind = "positional" if field.isdigit() else "an attribute or index lookup"
        raise ValueError(f"prompt field {shown} is {kind}; {_FIX}")
    if conversion not in (None, "r", "s", "a"):
        raise ValueError(
            f"prompt field {shown}: unknown conversion !{conversion}; use !r, !s or !a"
        )
    if "{" in spec or "}" in spec:
        raise ValueError(f"prompt field {shown} nests a field in its format spec; {_FIX}")
    match = _FORMAT_SPEC.fullmatch(spec)
    if match is None:
        raise ValueError(
            f"prompt field {shown}: '{spec}' is not a format spec (Python's mini-language, "
            "such as >10 or .2f)"
        )
    for part in ("width", "precision"):
        number = match.group(part)
        if number is not None and int(number) > MAX_FORMAT_WIDTH:
            raise ValueError(
                f"prompt field {shown}: {part} {number} is above the limit of "
                f"{MAX_FORMAT_WIDTH}; use at most {MAX_FORMAT_WIDTH}"
            )


def _check_template(value: str) -> str:
    """A ``str.format`` template over plain field names with literal format specs, or ValueError.

    Templates come from YAML, so they may only name fields: attribute and index lookups
    (``{x.__class__}``, ``{x[0]}``), positional fields and fields nested in a format spec are
    refused, and so are widths and precisions above :data:`MAX_FORMAT_WIDTH`.
    """
    try:
        parts = [(f, spec or "", conv) for _, f, spec, conv in string.Formatter().parse(value)]
    except ValueError as exc:
        raise ValueError(
            f"prompt is not a valid str.format template ({exc}); "
            "double literal braces: {{{{ }}}}"
        ) from exc
    for field, spec, conversion in parts:
        if field is not None:
            _check_field(field, spec, conversion)
    return value
