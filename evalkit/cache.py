"""A response cache in SQLite, keyed by everything that changes a model's output.

The key hashes the adapter's public settings (``info()``) and the request's generation fields
(prompt, max tokens, temperature, stop sequences, seed). Failed calls are never cached, so a
retry asks the model again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from evalkit.types import GenerateRequest, Generation


def default_cache_path() -> Path:
    """``$EVALKIT_CACHE_DIR/responses.sqlite`` or ``~/.cache/evalkit/responses.sqlite``."""
    base = os.environ.get("EVALKIT_CACHE_DIR") or Path.home() / ".cache" / "evalkit"
    return Path(base) / "responses.sqlite"


def cache_key(adapter_info: dict[str, Any], request: GenerateRequest) -> str:
    """SHA-256 over the adapter settings and the request fields that change the output.

    >>> a = cache_key({"kind": "x"}, GenerateRequest("hi", task="t1", sample_id="1"))
    >>> b = cache_key({"kind": "x"}, GenerateRequest("hi", task="t2", sample_id="9"))
    >>> a == b  # where a prompt comes from does not change the answer
    True
    >>> a == cache_key({"kind": "x"}, GenerateRequest("hi", temperature=0.7))
    False
    """
    blob = json.dumps(
        {"adapter": adapter_info, "request": request.cache_fields()},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """Get and put completions by key; one SQLite file, safe to share between runs."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses_v2 "
            "(key TEXT PRIMARY KEY, text_json TEXT NOT NULL)"
        )
        self._db.commit()

    def get_many(self, keys: list[str]) -> dict[str, Generation]:
        """The cached generations of those keys that are present (marked ``cached``)."""
        found: dict[str, Generation] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, text_json FROM responses_v2 WHERE key IN ({marks})", chunk
            )
            for k, v in rows.fetchall():
                blob = json.loads(v)
                found[k] = Generation(text=blob["text"], outputs=blob["outputs"], cached=True)
        return found

    def put_many(self, items: list[tuple[str, Generation]]) -> None:
        """Store successful generations."""
        # Texts are stored JSON-encoded (ASCII): model output may hold lone surrogates, which
        # SQLite's UTF-8 text cannot.
        rows = [
            (k, json.dumps({"text": g.text, "outputs": dict(g.outputs)})) for k, g in items if g.ok
        ]
        if rows:
            self._db.executemany("INSERT OR REPLACE INTO responses_v2 VALUES (?, ?)", rows)
            self._db.commit()

    def close(self) -> None:
        """Close the database."""
        self._db.close()
