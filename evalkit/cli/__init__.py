"""The ``evalkit`` command line: run, report, metrics, validate.

Exit codes: 0 success, 1 a gate failed, 2 bad input or configuration, 3 the run could not
complete. Errors print one clear message to stderr, never a traceback.

One module per command group: :mod:`~evalkit.cli.running` (``run``, ``validate``),
:mod:`~evalkit.cli.results` (``report``, ``gate``, ``compare``), :mod:`~evalkit.cli.listing`
(``metrics``, ``runs``), :mod:`~evalkit.cli.cache_commands` (``cache info``, ``cache clear``);
:mod:`~evalkit.cli.app` holds the group and :func:`main` (``evalkit.cli:main``, the console
entry point), and :mod:`~evalkit.cli._printing` what several commands print.
"""

from __future__ import annotations

from evalkit.cli._printing import _ci_outputs as _ci_outputs
from evalkit.cli.app import cli as cli
from evalkit.cli.app import main as main
from evalkit.cli.cache_commands import cache_clear as cache_clear
from evalkit.cli.cache_commands import cache_group as cache_group
from evalkit.cli.cache_commands import cache_info as cache_info
from evalkit.cli.listing import metrics as metrics
from evalkit.cli.listing import runs_cmd as runs_cmd
from evalkit.cli.results import compare as compare
from evalkit.cli.results import gate as gate
from evalkit.cli.results import report as report
from evalkit.cli.running import run as run
from evalkit.cli.running import validate as validate
