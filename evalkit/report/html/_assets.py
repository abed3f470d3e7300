"""What both HTML reports share: the template environment, the inline assets and their CSP.

Both pages are rendered from the package's Jinja2 templates (:func:`template_environment`,
autoescaping on) and embed their data once as ``<script type="application/json">`` text that
cannot close its element (:func:`script_json`).

Both templates (``run.html``, ``compare.html``) inline ``_common.css`` (plus any page-specific
stylesheet) in one ``<style>`` element and ``_common.js`` plus the page's script in one
``<script>`` element, through the shared ``_head.html`` include. The policy allows exactly those
two elements by their SHA-256 hashes (CSP Level 2 hash sources) and nothing else: no network
fetch of any kind (``default-src 'none'``), no other inline script or style, no ``<base>``,
no form submission. Record data lives only in ``<script type="application/json">`` blocks,
which browsers never execute.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

# Inside a <script> element the HTML parser ends the element at "</script" and treats "<!--"
# specially; U+2028/U+2029 end lines in old JavaScript parsers; lone surrogates cannot be
# encoded as UTF-8. In JSON text these characters only occur inside strings, where the
# "\uXXXX" escape means the same character, so escaping them changes no value.
_SCRIPT_UNSAFE = re.compile("[<>&\u2028\u2029\ud800-\udfff]")


def script_json(obj: Any) -> Markup:
    """Serialise ``obj`` as JSON that is safe inside ``<script type="application/json">``.

    ``<``, ``>``, ``&``, U+2028, U+2029 and lone surrogates are written as ``\\uXXXX``
    escapes, so no string can close the script element. Non-finite floats become ``null``
    (``JSON.parse`` rejects ``NaN``).

    Args:
        obj: JSON-serialisable data.

    Returns:
        The JSON text, marked safe for the template.

    >>> str(script_json({"a": "</script><b>&"}))
    '{"a":"\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e\\\\u0026"}'
    >>> json.loads(script_json({"a": "</script>"}))
    {'a': '</script>'}
    """
    text = json.dumps(_finite(obj), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return _script_safe(text)


def payload_json(obj: Any) -> Markup:
    """:func:`script_json` for a large payload built from plain data: the same text, faster.

    The payload is encoded as it is, in one :func:`json.dumps` call, without the pass of
    :func:`script_json` that copies the whole structure to replace non-finite floats; only
    when the encoder meets one (``ValueError``) is the payload encoded by :func:`script_json`.
    The two give the same text for any payload whose dict keys are strings (the encoder
    writes a key ``True`` as ``true`` where :func:`script_json` writes ``True``), which is
    the caller's guarantee.

    Args:
        obj: JSON-serialisable data whose dict keys are all strings.

    Returns:
        The JSON text, escaped for ``<script>`` and marked safe for the template.

    >>> payload_json({"a": ["</script>", 1.5]}) == script_json({"a": ["</script>", 1.5]})
    True
    >>> str(payload_json({"v": [float("nan"), 2.0]}))
    '{"v":[null,2.0]}'
    """
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:  # a NaN or an infinity somewhere: the copying pass replaces it
        return script_json(obj)
    return _script_safe(text)


def _script_unsafe_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _script_safe(text: str) -> Markup:
    """JSON text with the characters unsafe in ``<script>`` as ``\\uXXXX`` escapes (one
    regex pass over the whole text; JSON has them only inside strings)."""
    return Markup(_SCRIPT_UNSAFE.sub(_script_unsafe_escape, text))


def _finite(obj: Any) -> Any:
    """Replace NaN and infinities by ``None`` throughout a JSON-like structure."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


@lru_cache(maxsize=1)
def template_environment() -> Environment:
    """The Jinja2 environment of the report templates (one, shared by both pages).

    Autoescaping is on and an undefined variable is an error, so a template can only place
    the strings its page's context formatted.

    Returns:
        The environment, loading ``evalkit/report/templates``.
    """
    # PackageLoader reads templates through importlib, so it works from a wheel or a zip too;
    # pyproject ships report/templates/*.html, *.css and *.js as package data.
    return Environment(
        loader=PackageLoader("evalkit.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class PageAssets:
    """What a page places in its head and at its end, and the policy that allows them."""

    style_text: Markup
    script_text: Markup
    csp: Markup


def csp_hash(text: str) -> str:
    """A CSP hash source for the exact text of an inline ``<script>`` or ``<style>`` element.

    >>> csp_hash("alert(1)")
    "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
    """
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _source(env: Environment, name: str) -> str:
    assert env.loader is not None  # the package environment always has its loader
    text: str = env.loader.get_source(env, name)[0]
    lowered = text.lower()
    if "</script" in lowered or "</style" in lowered or "<!--" in lowered:
        # A template asset that closed its own element would break every report.
        raise RuntimeError(f"report template asset {name} contains an element terminator")
    return text


@lru_cache(maxsize=4)
def page_assets(env: Environment, page_script: str) -> PageAssets:
    """The inline style and script of one page kind and its Content-Security-Policy.

    Args:
        env: The report template environment (its loader reads the assets).
        page_script: The page's own script template (``run.js`` or ``compare.js``), appended
            to ``_common.js`` inside one strict-mode function.

    Returns:
        The style and script texts (placed verbatim by ``_head.html`` and the page) and the
        policy, whose hashes cover exactly those texts.
    """
    style = "\n" + _source(env, "_common.css")
    script = (
        '\n(function () {\n  "use strict";\n'
        + _source(env, "_common.js")
        + "\n"
        + _source(env, page_script)
        + "})();\n"
    )
    csp = (
        "default-src 'none'; "
        f"script-src {csp_hash(script)}; "
        f"style-src {csp_hash(style)}; "
        "base-uri 'none'; form-action 'none'"
    )
    return PageAssets(Markup(style), Markup(script), Markup(csp))
