"""The import ladder: every import inside ``evalkit`` points down, never up or sideways.

Layers (``docs/architecture.md`` draws them)::

    L6  evalkit (__init__), __main__, api, cli; testing.* (test tooling, see below)
    L5  runner
    L4  compare, gates, report.*
    L3  suite, executors.*, store, cache, index, stats, records.*
    L2  metrics.* (one component per family), adapters.*
    L1  data.*, assets.*
    L0  errors, types, registry, _validate, _io, _textio, _env, _version, _imports, _templates

A module may import any module of a lower layer and any module of its own component (the
modules of ``report``, of ``adapters``, of the ``metrics.text`` family...). An import of a
*different* component of the *same* layer (``gates -> compare``) is allowed only when
:data:`EXCEPTIONS` lists it with its reason; an import of a higher layer only when
:data:`UPWARD` lists it with its reason and it is made inside a function.

Every import statement counts: module level, inside functions and methods, inside ``try``.
Only ``if TYPE_CHECKING:`` blocks are skipped: they never run, so they cannot create an import
cycle or load a higher layer; annotations name higher-layer types there (``registry`` types its
tables as ``Registry[type[Metric]]``) without depending on them at run time.

``evalkit.testing`` (a loopback OpenAI-compatible server and scripted backends for tests and
benchmarks) sits at L6 as its own component: it may import anything, and nothing in the
package may import it (an L0-L5 import would point up, an ``api``/``cli`` import sideways), so
``import evalkit`` and the CLI never load test tooling.

Imports count by the module they name: ``from evalkit.metrics import base`` is an edge to
``evalkit.metrics.base``; ``from evalkit.metrics import bleu`` (a functional twin, not a
module) is an edge to ``evalkit.metrics``. Parent packages that Python runs on the way
(``evalkit/__init__.py``) are not edges: they are the same for every module.
"""

from __future__ import annotations

import ast
import fnmatch
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "evalkit"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE

#: ``(pattern, layer, component)``, names relative to ``evalkit`` ("" is the package itself).
#: The first matching row places a module. A component ending in ``*`` takes the module's first
#: two name parts (``metrics.text.bleu`` -> ``metrics.text``): each metric family is one.
PLACEMENT: tuple[tuple[str, int, str], ...] = (
    ("", 6, "evalkit"),
    ("__main__", 6, "__main__"),
    ("api", 6, "api"),
    ("cli", 6, "cli"),
    ("cli.*", 6, "cli"),
    ("testing", 6, "testing"),
    ("testing.*", 6, "testing"),
    ("runner", 5, "runner"),
    ("compare", 4, "compare"),
    ("compare.*", 4, "compare"),
    ("gates", 4, "gates"),
    ("report", 4, "report"),
    ("report.*", 4, "report"),
    ("suite", 3, "suite"),
    ("suite.*", 3, "suite"),
    ("executors", 3, "executors"),
    ("executors.*", 3, "executors"),
    ("store", 3, "store"),
    ("cache", 3, "cache"),
    ("index", 3, "index"),
    ("stats", 3, "stats"),
    ("records", 3, "records"),
    ("records.*", 3, "records"),
    # The metric core: the contract, the worker pool, and the functional twins' facade.
    ("metrics", 2, "metrics"),
    ("metrics.base", 2, "metrics"),
    ("metrics.params", 2, "metrics"),
    ("metrics._parallel", 2, "metrics"),
    ("metrics._ratio_block", 2, "metrics"),
    ("metrics._twins", 2, "metrics"),
    ("metrics.*", 2, "metrics.*"),
    ("adapters", 2, "adapters"),
    ("adapters.*", 2, "adapters"),
    ("data", 1, "data"),
    ("data.*", 1, "data"),
    ("assets", 1, "assets"),
    ("assets.*", 1, "assets"),
    ("errors", 0, "errors"),
    ("types", 0, "types"),
    ("registry", 0, "registry"),
    ("_validate", 0, "_validate"),
    ("_io", 0, "_io"),
    ("_textio", 0, "_textio"),
    ("_env", 0, "_env"),
    ("_version", 0, "_version"),
    ("_imports", 0, "_imports"),
    ("_templates", 0, "_templates"),
)

#: ``(importer pattern, imported pattern, reason)``: the allowed imports between different
#: components of one layer (fnmatch patterns on names relative to ``evalkit``).
EXCEPTIONS: tuple[tuple[str, str, str], ...] = (
    ("_[a-z]*", "errors", "private helpers fail with evalkit's errors (and their exit codes)"),
    ("_validate", "types", "input checks read Sample fields"),
    ("_io", "_textio", "record files are read back with the one UTF-8 line reader"),
    ("registry", "errors", "unknown names are ConfigErrors with a did-you-mean"),
    (
        "assets.image_features",
        "data.images",
        "extractors decode image references and resize as the image inputs define",
    ),
    ("metrics.*", "metrics.base", "every metric family implements the metric contract"),
    ("metrics.*", "metrics.params", "every metric declares its parameters on the one base"),
    ("metrics.*", "metrics._parallel", "families share the one fork-based worker pool"),
    ("metrics.*", "metrics._ratio_block", "ratio values share one vectorised resampler"),
    ("metrics", "metrics.*", "the functional twins re-export each family's entry points"),
    (
        "metrics.diversity.*",
        "metrics.text.*",
        "self-BLEU scores each output against the others with the BLEU family's statistics",
    ),
    (
        "metrics.classification.*",
        "metrics.choice",
        "choice_calibration reads the items' choices and log-likelihoods as choice_accuracy does",
    ),
    (
        "metrics.rag.*",
        "metrics.judges.*",
        "faithfulness's judge verifier renders prompts and reads verdicts as the judges do",
    ),
    ("executors*", "suite", "executors read the suite's ExecutorSpec and task specs"),
    ("executors*", "cache", "call_adapter serves cached responses before calling the adapter"),
    ("store", "records", "every record is checked against its typed model on write and read"),
    ("index", "cache", "the run index lives in the cache folder and shares its corruption check"),
    ("gates", "compare", "max_drop/no_significant_regression gates are paired comparisons"),
    ("report.html.run", "gates", "the run page shows each gate's outcome and threshold"),
    ("__main__", "cli", "`python -m evalkit` is the CLI"),
)

#: ``(importer, imported, reason)``: the only imports allowed to point up the ladder. Each is
#: made inside a function, so importing the importer never loads the higher layer.
UPWARD: tuple[tuple[str, str, str], ...] = (
    (
        "metrics._twins",
        "stats",
        "the paired-probe twins (evalkit.metrics.counterfactual_gap(...)) return the bootstrap "
        "interval a run would report; stats owns the bootstrap, and it sits above the metric "
        "contract it resamples",
    ),
)


@dataclass(frozen=True)
class Edge:
    """One import statement: ``importer`` names ``imported`` at ``line``."""

    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported} (line {self.line})"


def _relative(name: str) -> str:
    """``evalkit.metrics.base`` -> ``metrics.base``; ``evalkit`` -> ``""``."""
    return "" if name == PACKAGE else name.removeprefix(PACKAGE + ".")


def module_names(root: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Every module of the package under ``root``: dotted name -> file."""
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = (PACKAGE, *path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _ImportWalker(ast.NodeVisitor):
    """Collects the evalkit modules a module imports, skipping ``if TYPE_CHECKING:`` bodies."""

    def __init__(self, module: str, is_package: bool, modules: set[str]) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.modules = modules
        self.edges: list[Edge] = []

    def _add(self, imported: str, line: int) -> None:
        if (imported == PACKAGE or imported.startswith(PACKAGE + ".")) and imported != self.module:
            self.edges.append(Edge(self.module, imported, line))

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base_parts = self.package.split(".")
            if node.level > 1:
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for alias in node.names:
            full = f"{base}.{alias.name}"
            self._add(full if full in self.modules else base, node.lineno)


def import_edges(module: str, source: str, is_package: bool, modules: set[str]) -> list[Edge]:
    """The evalkit imports of one module's source, in source order."""
    walker = _ImportWalker(module, is_package, modules)
    walker.visit(ast.parse(source))
    return sorted(set(walker.edges), key=lambda e: (e.line, e.imported))


def place(module: str) -> tuple[int, str] | None:
    """``(layer, component)`` of a dotted module name, or None when no row places it."""
    rel = _relative(module)
    for pattern, layer, component in PLACEMENT:
        if fnmatch.fnmatchcase(rel, pattern):
            if component.endswith("*"):
                component = ".".join(rel.split(".")[:2])
            return layer, component
    return None


def _excepted(importer: str, imported: str) -> bool:
    src, dst = _relative(importer), _relative(imported)
    return any(
        fnmatch.fnmatchcase(src, s) and fnmatch.fnmatchcase(dst, d) for s, d, _ in EXCEPTIONS
    )


def bad_edges(edges: list[Edge]) -> list[Edge]:
    """The edges that point up, or sideways without an exception (unplaced ones included)."""
    bad = []
    for edge in edges:
        src, dst = place(edge.importer), place(edge.imported)
        if src is None or dst is None:
            bad.append(edge)
            continue
        upward = dst[0] > src[0] and not any(
            _relative(edge.importer) == a and _relative(edge.imported) == b for a, b, _ in UPWARD
        )
        sideways = dst[0] == src[0] and dst[1] != src[1]
        if upward or (sideways and not _excepted(edge.importer, edge.imported)):
            bad.append(edge)
    return bad


def all_edges() -> list[Edge]:
    """The import edges of every module of the installed package source."""
    modules = module_names()
    edges: list[Edge] = []
    for name, path in modules.items():
        source = path.read_text(encoding="utf-8")
        edges += import_edges(name, source, path.name == "__init__.py", set(modules))
    return edges


# --- the walker itself ------------------------------------------------------------------------

_MODULES = {"evalkit", "evalkit.suite", "evalkit.runner", "evalkit.data", "evalkit.data.samples"}


def test_walker_catches_an_upward_import_in_a_function() -> None:
    source = "import json\n\n\ndef load():\n    from evalkit.runner import run_suite\n"
    edges = import_edges("evalkit.data.samples", source, False, _MODULES)
    assert [str(e) for e in bad_edges(edges)] == ["evalkit.data.samples -> evalkit.runner (line 5)"]


def test_walker_resolves_relative_imports_and_submodules() -> None:
    source = "from ..suite import DatasetSpec\nfrom . import samples\nfrom .. import runner\n"
    edges = import_edges("evalkit.data", source, True, _MODULES)
    assert [str(e) for e in edges] == [
        "evalkit.data -> evalkit.suite (line 1)",
        "evalkit.data -> evalkit.data.samples (line 2)",
        "evalkit.data -> evalkit.runner (line 3)",
    ]
    assert [e.imported for e in bad_edges(edges)] == ["evalkit.suite", "evalkit.runner"]


def test_walker_skips_type_checking_blocks_only() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from evalkit.runner import RunOutcome\n"
        "else:\n    from evalkit.suite import Suite\n"
        "try:\n    import evalkit.runner\nexcept ImportError:\n    pass\n"
    )
    edges = import_edges("evalkit.data.samples", source, False, _MODULES)
    assert [str(e) for e in edges] == [
        "evalkit.data.samples -> evalkit.suite (line 5)",
        "evalkit.data.samples -> evalkit.runner (line 7)",
    ]


def test_sideways_needs_an_exception_and_own_component_is_free() -> None:
    allowed = [
        Edge("evalkit.gates", "evalkit.compare", 1),
        Edge("evalkit.report.markdown", "evalkit.report.html.compare", 1),
        Edge("evalkit.metrics.text.bleu", "evalkit.metrics.text._sacre", 1),
        Edge("evalkit.stats", "evalkit.metrics.base", 1),
    ]
    assert bad_edges(allowed) == []
    refused = [
        Edge("evalkit.compare", "evalkit.gates", 1),
        Edge("evalkit.metrics.lm", "evalkit.adapters.base", 2),
        Edge("evalkit.metrics.text.bleu", "evalkit.metrics.image.fid", 3),
        Edge("evalkit.errors", "evalkit.nowhere", 4),
    ]
    assert bad_edges(refused) == refused


# --- the package ------------------------------------------------------------------------------


def test_every_module_is_placed() -> None:
    unplaced = sorted(m for m in module_names() if place(m) is None)
    assert not unplaced, (
        "modules missing from PLACEMENT in tests/test_layers.py (give each a layer): "
        + ", ".join(unplaced)
    )


def test_exceptions_are_sideways_and_never_join_metrics_and_adapters() -> None:
    modules = list(module_names())
    for src, dst, reason in EXCEPTIONS:
        assert reason, (src, dst)
        srcs = [m for m in modules if fnmatch.fnmatchcase(_relative(m), src)]
        dsts = [m for m in modules if fnmatch.fnmatchcase(_relative(m), dst)]
        for a in srcs:
            for b in dsts:
                pa, pb = place(a), place(b)
                assert pa is not None and pb is not None
                assert pa[0] == pb[0], f"exception {src} -> {dst} crosses layers ({a} -> {b})"
        families = {src.split(".")[0], dst.split(".")[0]}
        assert families != {"metrics", "adapters"}, f"metrics and adapters: {src} -> {dst}"


def test_upward_exceptions_are_lazy_and_used() -> None:
    edges = all_edges()
    for importer, imported, reason in UPWARD:
        assert reason
        used = [
            e
            for e in edges
            if _relative(e.importer) == importer and _relative(e.imported) == imported
        ]
        assert used, f"UPWARD row {importer} -> {imported} is unused (remove it)"
        source = module_names()[f"{PACKAGE}.{importer}"].read_text(encoding="utf-8")
        top_level = {
            node.lineno
            for node in ast.parse(source).body
            if isinstance(node, ast.Import | ast.ImportFrom)
        }
        assert not [e for e in used if e.line in top_level], (
            f"{importer} -> {imported} must be imported inside a function"
        )


def test_every_exception_is_still_used() -> None:
    edges = all_edges()
    stale = [
        f"{src} -> {dst}"
        for src, dst, _ in EXCEPTIONS
        if not any(
            fnmatch.fnmatchcase(_relative(e.importer), src)
            and fnmatch.fnmatchcase(_relative(e.imported), dst)
            for e in edges
        )
    ]
    assert not stale, f"EXCEPTIONS rows that no import uses any more (remove them): {stale}"


def test_imports_point_down_the_ladder() -> None:
    bad = bad_edges(all_edges())
    if bad:
        lines = "\n".join(f"  {e}  [L{_layer(e.importer)} -> L{_layer(e.imported)}]" for e in bad)
        pytest.fail(
            f"{len(bad)} import(s) point up the layer ladder, or sideways between components "
            f"without an entry in EXCEPTIONS (tests/test_layers.py):\n{lines}",
            pytrace=False,
        )


def _layer(module: str) -> str:
    placed = place(module)
    return "?" if placed is None else str(placed[0])
