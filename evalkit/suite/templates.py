"""Prompt templates of a suite: checked by :mod:`evalkit._templates` (shared with judges)."""

from evalkit._templates import MAX_FORMAT_WIDTH, _check_template

__all__ = ["MAX_FORMAT_WIDTH", "_check_template"]
