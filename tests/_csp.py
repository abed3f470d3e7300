"""A check shared by the report tests: the page's Content-Security-Policy is strict and exact."""

from __future__ import annotations

import base64
import hashlib
import re


def _hash(text: str) -> str:
    return (
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"
    )


def assert_strict_csp(html: str) -> dict[str, list[str]]:
    """Assert that ``html`` has one CSP meta tag, first in its head, that forbids every fetch
    and allows exactly its one inline style and one executable inline script, by hash.

    Returns:
        The policy's directives.
    """
    metas = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
    assert len(metas) == 1, metas
    head = html[: html.index("</head>")]
    assert head.index("Content-Security-Policy") < head.index("<style>")
    directives: dict[str, list[str]] = {}
    for part in metas[0].split(";"):
        name, *values = part.split()
        directives[name] = values
    assert directives["default-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"] and directives["form-action"] == ["'none'"]
    assert "'unsafe-inline'" not in metas[0] and "'unsafe-eval'" not in metas[0]
    assert not any(
        v.startswith(("http", "data:", "*", "'self'")) for vs in directives.values() for v in vs
    )
    styles = re.findall(r"<style>(.*?)</style>", html, re.S)
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(styles) == 1 and len(scripts) == 1
    assert directives["style-src"] == [_hash(styles[0])]
    assert directives["script-src"] == [_hash(scripts[0])]
    return directives
