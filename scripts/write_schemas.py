"""Write the JSON Schema of each record file evalkit writes into ``docs/schemas/``.

The schemas are generated from the models in :mod:`evalkit.records` (``model_json_schema()``):
``results.schema.json`` (a run's ``results.json``), ``sample_line.schema.json`` (one line of
``samples.jsonl``) and ``compare.schema.json`` (a comparison's ``compare.json``). Rerun this
script after changing a model; ``tests/test_records.py`` fails while the committed files
differ from the models.

Usage::

    python scripts/write_schemas.py [--out docs/schemas] [--check]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from evalkit.records import json_schemas

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "schemas"


def stale(out: Path) -> list[str]:
    """The schema files under ``out`` that are missing or differ from the models."""
    return [
        name
        for name, text in json_schemas().items()
        if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text
    ]


def write(out: Path) -> list[Path]:
    """Write every schema file into ``out`` (created if missing); the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in json_schemas().items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; 1 with ``--check`` when a committed schema is stale."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument(
        "--check", action="store_true", help="only report stale files (exit 1 if any)"
    )
    args = parser.parse_args(argv)
    if args.check:
        names = stale(args.out)
        for name in names:
            print(f"stale: {args.out / name}", file=sys.stderr)
        return 1 if names else 0
    for path in write(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
