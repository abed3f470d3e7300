"""A response cache in SQLite, keyed by everything that changes a model's output.

The key hashes the adapter's public settings (``info()``) and the request's generation fields
(prompt, max tokens, temperature, stop sequences, seed). ``info()`` carries what identifies the
model itself: a hash of the source file behind a ``python:`` adapter, the SHA-256 of an ``hf:``
model's weight, config and tokenizer files, the URL and model name of an HTTP endpoint. So an
edited function or a retrained checkpoint never gets the old outputs back. Failed calls are never
cached, so a retry asks the model again.

Each row also records the spec of the adapter that produced it and when, for ``evalkit cache
info`` and ``evalkit cache clear --older-than DAYS --adapter SPEC``.

A cache file that SQLite cannot read (corrupt, truncated, not a database, locked for too long,
on a full disk) never ends a run: the run warns once, naming the file and the fix, and goes on
without the cache. ``evalkit cache clear`` replaces such a file with an empty cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit import _env
from evalkit.errors import ConfigError
from evalkit.types import GenerateRequest, Generation

__all__ = [
    "CacheSummary",
    "ClearResult",
    "ResponseCache",
    "cache_key",
    "clear_cache",
    "default_cache_path",
    "is_corrupt",
    "summarize_cache",
]

#: The table name carries the key format; ``adapter`` and ``created_at`` were added later
#: (rows written before have NULL there: "unknown" adapter, older than any age).
_TABLE = "responses_v2"
_COLUMNS = {"adapter": "TEXT", "created_at": "REAL"}
UNKNOWN_ADAPTER = "(unknown)"
#: SQLite's own names for "this is not a readable database" (result codes 11 and 26).
_CORRUPT_CODES = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
_CORRUPT_WORDS = ("not a database", "malformed", "corrupt")


def default_cache_path() -> Path:
    """``$EVALKIT_CACHE_DIR/responses.sqlite`` or ``~/.cache/evalkit/responses.sqlite``."""
    return _env.cache_dir() / "responses.sqlite"


def cache_key(adapter_info: dict[str, Any], request: GenerateRequest) -> str:
    """SHA-256 over the adapter settings and the request fields that change the output.

    >>> a = cache_key({"kind": "x"}, GenerateRequest("hi", task="t1", sample_id="1"))
    >>> b = cache_key({"kind": "x"}, GenerateRequest("hi", task="t2", sample_id="9"))
    >>> a == b  # where a prompt comes from does not change the answer
    True
    >>> a == cache_key({"kind": "x"}, GenerateRequest("hi", temperature=0.7))
    False
    >>> a == cache_key({"kind": "x", "source_sha256": "0f"}, GenerateRequest("hi"))
    False
    """
    blob = json.dumps(
        {"adapter": adapter_info, "request": request.cache_fields()},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def is_corrupt(exc: BaseException) -> bool:
    """Whether a SQLite error says the file is not a readable database (not just busy).

    >>> is_corrupt(sqlite3.DatabaseError("file is not a database"))
    True
    >>> is_corrupt(sqlite3.OperationalError("database is locked"))
    False
    """
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    if getattr(exc, "sqlite_errorname", None) in _CORRUPT_CODES:  # Python >= 3.11
        return True
    return any(w in str(exc).lower() for w in _CORRUPT_WORDS)


def _warn(message: str) -> None:
    # One plain line on stderr: a run's console output stays readable, and the line shows
    # whatever logging set-up the caller has.
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _unusable(path: Path, exc: BaseException) -> str:
    why = f"{type(exc).__name__}: {exc}"
    if is_corrupt(exc):
        fix = "run `evalkit cache clear` (or delete the file) to start an empty cache"
    else:
        fix = "check that it is writable and the disk has space, or run with --no-cache"
    return f"the response cache {path} cannot be used ({why}); {fix}."


def _connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) a cache file with the current schema.

    Raises:
        sqlite3.Error, OSError: The file cannot be created, read or migrated.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30)
    try:
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {_TABLE} (key TEXT PRIMARY KEY, text_json TEXT NOT NULL)"
        )
        have = {row[1] for row in db.execute(f"PRAGMA table_info({_TABLE})")}
        for name, kind in _COLUMNS.items():
            if name not in have:  # a cache written before these columns existed
                db.execute(f"ALTER TABLE {_TABLE} ADD COLUMN {name} {kind}")
        db.commit()
    except BaseException:
        db.close()
        raise
    return db


class ResponseCache:
    """Get and put completions by key; one SQLite file, safe to share between runs.

    If the file cannot be used (see the module docstring), the cache warns once on stderr and
    turns itself off: lookups find nothing and nothing is stored, and :attr:`error` says why.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else default_cache_path()
        self.error: str | None = None
        self._labels: dict[str, str] = {}
        self._db: sqlite3.Connection | None = None
        try:
            self._db = _connect(self.path)
        except (sqlite3.Error, OSError) as exc:
            self._turn_off(exc)

    @property
    def usable(self) -> bool:
        """False once the file turned out unusable (the run goes on without the cache)."""
        return self.error is None

    def _turn_off(self, exc: BaseException) -> None:
        self.error = _unusable(self.path, exc)
        _warn(self.error + " This run continues without the cache.")
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):  # closing a broken handle
                self._db.close()
        self._db = None

    def label(self, info: dict[str, Any], requests: Iterable[GenerateRequest], spec: str) -> None:
        """Remember that the keys of ``requests`` under ``info`` belong to adapter ``spec``.

        Stored rows then carry the spec, which ``evalkit cache info`` counts and
        ``evalkit cache clear --adapter`` selects on.
        """
        for r in requests:
            self._labels[cache_key(info, r)] = spec

    def get_many(self, keys: list[str]) -> dict[str, Generation]:
        """The cached generations of those keys that are present (marked ``cached``)."""
        found: dict[str, Generation] = {}
        if self._db is None:
            return found
        try:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, text_json FROM {_TABLE} WHERE key IN ({marks})", chunk
                ).fetchall()
                for k, v in rows:
                    gen = _decode(v)
                    if gen is not None:  # an unreadable row is a miss, rewritten on put
                        found[k] = gen
        except sqlite3.Error as exc:
            self._turn_off(exc)
            return {}
        return found

    def put_many(self, items: list[tuple[str, Generation]]) -> None:
        """Store successful generations (with their adapter spec, when labelled)."""
        if self._db is None:
            return
        now = time.time()
        # Texts are stored JSON-encoded (ASCII): model output may hold lone surrogates, which
        # SQLite's UTF-8 text cannot.
        rows = [
            (
                k,
                json.dumps({"text": g.text, "outputs": dict(g.outputs)}),
                self._labels.get(k),
                now,
            )
            for k, g in items
            if g.ok
        ]
        if not rows:
            return
        try:
            self._db.executemany(
                f"INSERT OR REPLACE INTO {_TABLE} (key, text_json, adapter, created_at) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )
            self._db.commit()
        except sqlite3.Error as exc:
            self._turn_off(exc)

    def close(self) -> None:
        """Close the database."""
        if self._db is not None:
            try:
                self._db.close()
            finally:
                self._db = None


def _decode(text_json: str) -> Generation | None:
    try:
        blob = json.loads(text_json)
        return Generation(text=blob["text"], outputs=blob["outputs"], cached=True)
    except (ValueError, TypeError, KeyError):
        return None


# ------------------------------------------------------------------------ info and clear


@dataclass(frozen=True)
class CacheSummary:
    """What ``evalkit cache info`` shows.

    Attributes:
        path: The cache file.
        exists: Whether the file exists (a missing file is an empty cache).
        size_bytes: The file's size on disk (with SQLite's ``-wal`` file, if any).
        entries: Stored responses.
        by_adapter: Entries per adapter spec (``(unknown)`` for rows from older versions).
        oldest, newest: Unix times of the oldest and newest entry, or None.
    """

    path: Path
    exists: bool
    size_bytes: int
    entries: int
    by_adapter: dict[str, int] = field(default_factory=dict)
    oldest: float | None = None
    newest: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (the path as a string)."""
        return {
            "path": str(self.path),
            "exists": self.exists,
            "size_bytes": self.size_bytes,
            "entries": self.entries,
            "by_adapter": dict(self.by_adapter),
            "oldest": self.oldest,
            "newest": self.newest,
        }


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in _files(path) if p.is_file())


def _files(path: Path) -> list[Path]:
    """The cache file and SQLite's companions (journal, write-ahead log, shared memory)."""
    return [path] + [path.with_name(path.name + s) for s in ("-journal", "-wal", "-shm")]


def _corrupt_error(path: Path, exc: BaseException) -> ConfigError:
    return ConfigError(
        f"{path}: the response cache cannot be read ({type(exc).__name__}: {exc}); run "
        "`evalkit cache clear` to replace it with an empty cache (or delete the file)."
    )


def _read_summary(path: Path) -> tuple[dict[str, int], float | None, float | None]:
    """Counts per adapter and the age range, read without writing to the file."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        have = {row[1] for row in db.execute(f"PRAGMA table_info({_TABLE})")}
        if not have:  # an empty SQLite file, or one from another program: no entries
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # still must be SQLite
            return {}, None, None
        adapter = "adapter" if "adapter" in have else "NULL"
        created = "created_at" if "created_at" in have else "NULL"
        by = dict(
            db.execute(
                f"SELECT COALESCE({adapter}, ?), COUNT(*) FROM {_TABLE} GROUP BY 1 "
                "ORDER BY 2 DESC, 1",
                (UNKNOWN_ADAPTER,),
            ).fetchall()
        )
        oldest, newest = db.execute(
            f"SELECT MIN({created}), MAX({created}) FROM {_TABLE}"
        ).fetchone()
    finally:
        db.close()
    return by, oldest, newest


def summarize_cache(path: Path | None = None) -> CacheSummary:
    """Size, entries, entries per adapter and the age range of a cache file.

    Raises:
        ConfigError: The file is not a readable cache; the message names it and the fix.
    """
    p = Path(path) if path else default_cache_path()
    if not p.exists():
        return CacheSummary(path=p, exists=False, size_bytes=0, entries=0)
    try:
        by, oldest, newest = _read_summary(p)
    except sqlite3.Error as exc:
        raise _corrupt_error(p, exc) from None
    return CacheSummary(
        path=p,
        exists=True,
        size_bytes=_size(p),
        entries=sum(by.values()),
        by_adapter=by,
        oldest=oldest,
        newest=newest,
    )


@dataclass(frozen=True)
class ClearResult:
    """What ``clear_cache`` did: entries removed and kept, or a corrupt file replaced."""

    path: Path
    removed: int
    kept: int
    replaced_corrupt: bool = False
    error: str | None = None


def _matches_adapter(adapter: str) -> tuple[str, list[str]]:
    """SQL condition for ``--adapter``: the exact spec, or every spec of a kind (``python``)."""
    if ":" in adapter:
        return "adapter = ?", [adapter]
    return "(adapter = ? OR adapter LIKE ? ESCAPE '\\')", [adapter, _like_prefix(adapter) + ":%"]


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def clear_cache(
    path: Path | None = None,
    *,
    older_than_days: float | None = None,
    adapter: str | None = None,
    now: float | None = None,
) -> ClearResult:
    """Delete cache entries: all, those older than some days, or those of one adapter.

    ``adapter`` is a full spec (``python:mod:fn``) or a kind (``python``: every spec of that
    kind). Entries whose age or adapter is unknown (written by an older evalkit) count as older
    than any age and match no adapter. A file SQLite cannot read is replaced by an empty cache,
    whatever the filters: its entries are lost anyway.

    Raises:
        ConfigError: The file exists but cannot be opened for another reason (locked, no
            permission); the message names it.
    """
    p = Path(path) if path else default_cache_path()
    if not p.exists():
        return ClearResult(path=p, removed=0, kept=0)
    where, args = _filters(older_than_days, adapter, time.time() if now is None else now)
    try:
        return _delete_rows(p, where, args)
    except sqlite3.Error as exc:
        if not is_corrupt(exc):
            raise ConfigError(
                f"{p}: cannot clear the response cache ({type(exc).__name__}: {exc}); close "
                "the runs that use it, or delete the file."
            ) from None
        reason = f"{type(exc).__name__}: {exc}"
    try:
        for f in _files(p):
            f.unlink(missing_ok=True)
        _connect(p).close()
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(
            f"{p}: cannot be read ({reason}) nor replaced ({type(exc).__name__}: {exc}); "
            "delete it by hand."
        ) from None
    return ClearResult(path=p, removed=0, kept=0, replaced_corrupt=True, error=reason)


def _filters(
    older_than_days: float | None, adapter: str | None, now: float
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if older_than_days is not None:
        where.append("(created_at IS NULL OR created_at < ?)")
        args.append(now - older_than_days * 86400.0)
    if adapter is not None:
        cond, more = _matches_adapter(adapter)
        where.append(cond)
        args += more
    return where, args


def _delete_rows(path: Path, where: Sequence[str], args: Sequence[Any]) -> ClearResult:
    db = _connect(path)
    try:
        sql = f"DELETE FROM {_TABLE}" + (" WHERE " + " AND ".join(where) if where else "")
        removed = db.execute(sql, list(args)).rowcount
        db.commit()
        kept = db.execute(f"SELECT COUNT(*) FROM {_TABLE}").fetchone()[0]
        if removed:
            db.execute("VACUUM")  # give the space back: a cleared cache is a small file
    finally:
        db.close()
    return ClearResult(path=path, removed=max(removed, 0), kept=kept)
