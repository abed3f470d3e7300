"""Show a report inside a notebook: the page in a sandboxed ``<iframe srcdoc>``.

The report keeps its own Content-Security-Policy and runs its script, but the sandbox (scripts
allowed, no same-origin) keeps it from touching the notebook page, its cookies or its kernel.
"""

from __future__ import annotations

from markupsafe import escape


def iframe_html(page: str, height: int = 720) -> str:
    """An ``<iframe>`` element that shows the HTML page ``page``, for ``IPython.display.HTML``.

    Args:
        page: A report page (``report.html`` or ``compare.html`` text).
        height: The frame's height in CSS pixels.

    Returns:
        The element's HTML; the page is attribute-escaped into ``srcdoc``.

    >>> html = iframe_html('<p title="x">a & b</p>', height=200)
    >>> html.startswith('<iframe sandbox="allow-scripts" height="200"')
    True
    >>> 'srcdoc="&lt;p title=&#34;x&#34;&gt;a &amp; b&lt;/p&gt;"' in html
    True
    """
    return (
        f'<iframe sandbox="allow-scripts" height="{int(height)}" '
        f'style="width: 100%; border: 1px solid #d8dee4;" srcdoc="{escape(page)}"></iframe>'
    )
