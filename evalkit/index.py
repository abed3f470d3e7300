"""An index of past runs in SQLite (embedded, no server), for ``evalkit runs`` and ``--latest``.

The index only points at run directories; the records there stay the source of truth. It lives
at ``$EVALKIT_INDEX``, or next to the response cache (``$EVALKIT_CACHE_DIR/runs.sqlite``).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from evalkit.cache import default_cache_path

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
    env = os.environ.get("EVALKIT_INDEX")
    return Path(env) if env else default_cache_path().with_name("runs.sqlite")


def _connect(path: Path | None = None) -> sqlite3.Connection:
    p = path or index_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(p, timeout=30)
    db.execute(_SCHEMA)
    return db


def record_run(run_dir: Path, header: dict[str, Any], path: Path | None = None) -> None:
    """Add or update a run in the index."""
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
    with _connect(path) as db:
        db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
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
    db = _connect(path)
    db.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in db.execute(sql, args)]
    finally:
        db.close()
    out = []
    for r in rows:
        if not (Path(r["path"]) / "results.json").is_file():
            continue
        r["labels"] = json.loads(r["labels"])
        out.append(r)
        if limit is not None and len(out) >= limit:
            break
    return out
