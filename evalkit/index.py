"""An index of past runs in SQLite (embedded, no server), for ``evalkit runs`` and ``--latest``.

The index only points at run directories; the records there stay the source of truth. It lives
at ``$EVALKIT_INDEX``, or next to the response cache (``$EVALKIT_CACHE_DIR/runs.sqlite``).

An index file SQLite cannot use (corrupt, truncated, locked, on a full disk) never costs a run:
the run warns once and is simply not indexed. Listing runs from such a file is a configuration
error (exit 2) that names the file; deleting it is safe, since the runs themselves stay where
they are.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from evalkit import _env
from evalkit.cache import default_cache_path, is_corrupt
from evalkit.errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    suite TEXT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    labels TEXT NOT NULL,
    n_samples INTEGER,
    n_errors INTEGER
)
"""


def index_path() -> Path:
    """Where the run index lives."""
    return _env.index_file() or default_cache_path().with_name("runs.sqlite")


def _connect(path: Path | None = None) -> sqlite3.Connection:
    p = path or index_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(p, timeout=30)
    try:
        db.execute(_SCHEMA)
    except BaseException:
        db.close()
        raise
    return db


def _fix(path: Path, exc: BaseException) -> str:
    """What to do about an index file that failed with ``exc``."""
    if is_corrupt(exc):
        return (
            f"delete {path} (it only points at run folders, which stay as they are; new runs "
            "are indexed again)"
        )
    return f"check that {path} is writable and its disk has space, or set EVALKIT_INDEX"


def record_run(run_dir: Path, header: dict[str, Any], path: Path | None = None) -> None:
    """Add or update a run in the index; an unusable index file is a warning, never an error.

    The run record is complete before this is called, so a broken index must not fail the run:
    the run is left out of ``evalkit runs`` and a warning line says how to repair the index.
    """
    p = path or index_path()
    try:
        _record(run_dir, header, p)
    except (sqlite3.Error, OSError) as exc:
        print(
            f"warning: the run index {p} cannot be used ({type(exc).__name__}: {exc}); this "
            f"run was not indexed (`evalkit runs` will not list it). Fix: {_fix(p, exc)}.",
            file=sys.stderr,
            flush=True,
        )


def _record(run_dir: Path, header: dict[str, Any], path: Path) -> None:
    counts = header.get("counts") or {}
    row = (
        header["run_id"],
        str(Path(run_dir).resolve()),
        (header.get("suite") or {}).get("name", ""),
        (header.get("model") or {}).get("spec", ""),
        header.get("status", ""),
        header.get("created_at", ""),
        header.get("finished_at"),
        json.dumps(header.get("labels") or {}, sort_keys=True),
        counts.get("samples"),
        counts.get("errors"),
    )
    db = _connect(path)
    try:
        with db:  # commits, or rolls back on error
            db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    finally:
        db.close()


def list_runs(
    *,
    suite: str | None = None,
    model: str | None = None,
    since: str | None = None,
    until: str | None = None,
    status: str | None = None,
    limit: int | None = None,
    path: Path | None = None,
) -> list[dict[str, Any]]:
    """Runs from the index, newest first, filtered by suite, model substring, date and status.

    ``since`` and ``until`` are ISO dates or timestamps compared with the run's creation time.
    Runs whose directory no longer exists are left out.
    """
    where, args = [], []
    if suite:
        where.append("suite = ?")
        args.append(suite)
    if model:
        where.append("model LIKE ?")
        args.append(f"%{model}%")
    if since:
        where.append("created_at >= ?")
        args.append(since)
    if until:
        where.append("created_at <= ?")
        args.append(until)
    if status:
        where.append("status = ?")
        args.append(status)
    sql = "SELECT * FROM runs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC, rowid DESC"
    p = path or index_path()
    try:
        db = _connect(p)
        db.row_factory = sqlite3.Row
        try:
            rows = [dict(r) for r in db.execute(sql, args)]
        finally:
            db.close()
    except (sqlite3.Error, OSError) as exc:
        raise ConfigError(
            f"{p}: the run index cannot be read ({type(exc).__name__}: {exc}); {_fix(p, exc)}."
        ) from None
    out = []
    for r in rows:
        if not (Path(r["path"]) / "results.json").is_file():
            continue
        r["labels"] = json.loads(r["labels"])
        out.append(r)
        if limit is not None and len(out) >= limit:
            break
    return out
