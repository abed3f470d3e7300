"""What several commands print or write: result rows, gate lines, JUnit and Markdown files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def _print_gates(gates: list[dict[str, Any]]) -> None:
    """One line per gate check, then counts; the failure count goes to stderr."""
    for gate in gates:
        mark = {"pass": "PASS", "fail": "FAIL", "skipped": "SKIP"}[gate["status"]]
        click.echo(
            f"gate {mark}: {gate['task']}/{gate['metric']} {gate['kind']}: {gate['message']}"
        )
    counts = {s: sum(g["status"] == s for g in gates) for s in ("pass", "fail", "skipped")}
    if gates:
        click.echo(
            f"gates: {counts['pass']} passed, {counts['fail']} failed, {counts['skipped']} skipped"
        )
    if counts["fail"]:
        click.echo(f"{counts['fail']} gate(s) failed; exit code 1.", err=True)


def _ci_outputs(
    junit: Path | None,
    markdown: Path | None,
    *,
    run_header: dict[str, Any] | None = None,
    gates: list[dict[str, Any]] | None = None,
    compare_doc: dict[str, Any] | None = None,
    run_dir: Path | None = None,
) -> None:
    """Write JUnit XML and a Markdown summary; append the summary to $GITHUB_STEP_SUMMARY."""
    import os

    if junit is not None:
        import evalkit.report.junit as junit_mod

        if compare_doc is not None:
            xml = junit_mod.junit_for_compare(compare_doc)
        else:
            xml = junit_mod.junit_for_run(run_header or {}, gates or [])
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(xml, encoding="utf-8")
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if markdown is None and not summary_path:
        return
    from evalkit.report import markdown as md

    if compare_doc is not None:
        text = md.render_compare_markdown(compare_doc)
    else:
        from evalkit.store import load_run

        text = md.render_markdown(load_run(run_dir)) if run_dir is not None else ""
        if gates:
            text += "\n" + md.render_gates_markdown(gates)
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(text, encoding="utf-8")
    if summary_path:
        with open(summary_path, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def _print_results(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    width = max(len(f"{r['task']}/{r['metric']}") for r in rows)
    for r in rows:
        name = f"{r['task']}/{r['metric']}".ljust(width)
        ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        err = f"  errors={r['n_errors']}" if r["n_errors"] else ""
        click.echo(f"{name}  {_fmt(r['value']):>8}  {ci:<20} n={r['n']}{err}")
