"""HTML reports: ``report.html`` for a run and ``compare.html`` for a comparison.

Modules:

- :mod:`~evalkit.report.html.run`: ``report.html``, one self-contained file per run.
- :mod:`~evalkit.report.html.compare`: ``compare.html``, one self-contained file per comparison.
- :mod:`~evalkit.report.html.charts`: the run report's SVG charts and the comparison's forest
  plot.
- :mod:`~evalkit.report.html.trend`: the trend chart of a checkpoint series.
- :mod:`~evalkit.report.html.examples`: the example sections of ``compare.html``.
- :mod:`~evalkit.report.html._assets`: templates, inline assets and the Content-Security-Policy.
- :mod:`~evalkit.report.html._cells`: display cells shared by the comparison page and its
  trend charts.

No metric is registered here. Conventions of the family: each page is one offline file, a
pure function of its record or comparison document, rendered by an autoescaping Jinja2
template from values formatted in Python first; charts are inline SVG written in Python, so
they need no JavaScript; and the page's policy allows no network fetch and only its own style
and script (:mod:`~evalkit.report.html._assets`).
"""
