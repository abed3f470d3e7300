"""The shared stylesheet and script of the HTML reports, and the Content-Security-Policy.

Both pages (``run.html``, ``compare.html``) inline ``_common.css`` (plus any page-specific
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
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import Environment
from markupsafe import Markup


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
