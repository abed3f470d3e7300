"""Every ``EVALKIT_*`` environment variable evalkit reads, with one typed accessor each.

Accessors read the environment when called (not at import), so a variable set after
``import evalkit`` (``monkeypatch.setenv`` in a test, ``os.environ`` in a notebook) takes
effect. An empty value counts as unset.

============================== ========================================== =====================
Variable                       Meaning                                    Default
============================== ========================================== =====================
``EVALKIT_CACHE_DIR``          Folder of the response cache               ``~/.cache/evalkit``
                               (``responses.sqlite``), the run index,
                               corpus embeddings and the WordNet copy.
``EVALKIT_INDEX``              The run index file.                        ``runs.sqlite`` in
                                                                          the cache folder
``EVALKIT_WORKERS``            Worker processes of the metrics' forked    the usable CPUs
                               pool; 1 turns the pool off (values below
                               1 count as 1; a non-integer is ignored).
``EVALKIT_WORDNET_DIR``        A local WordNet (nltk data folder or       ``/usr/share/wordnet``
                               dictionary files) for METEOR.
``EVALKIT_INCEPTION_WEIGHTS``  pytorch-fid's FID Inception weights file   none (an error when
                               for the ``inception-v3`` extractor.        needed)
``EVALKIT_DIGITS_CNN_WEIGHTS`` The digits CNN weights (``.npz``) for the  ``models/digits-cnn/
                               ``digits-cnn`` extractor.                  weights.npz``
============================== ========================================== =====================

The defaults of the last three live with their users (:mod:`evalkit.assets.wordnet`,
:mod:`evalkit.assets.image_features`); the accessors return ``None`` when the variable is unset.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CACHE_DIR",
    "DIGITS_CNN_WEIGHTS",
    "INCEPTION_WEIGHTS",
    "INDEX",
    "WORDNET_DIR",
    "WORKERS",
    "cache_dir",
    "digits_cnn_weights",
    "inception_weights",
    "index_file",
    "wordnet_dir",
    "workers",
]

CACHE_DIR = "EVALKIT_CACHE_DIR"
INDEX = "EVALKIT_INDEX"
WORKERS = "EVALKIT_WORKERS"
WORDNET_DIR = "EVALKIT_WORDNET_DIR"
INCEPTION_WEIGHTS = "EVALKIT_INCEPTION_WEIGHTS"
DIGITS_CNN_WEIGHTS = "EVALKIT_DIGITS_CNN_WEIGHTS"


def _text(name: str) -> str | None:
    """The variable's value, or None when it is unset or empty."""
    return os.environ.get(name) or None


def cache_dir() -> Path:
    """``$EVALKIT_CACHE_DIR``, else ``~/.cache/evalkit`` (not created here).

    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"EVALKIT_CACHE_DIR": "/tmp/evk"}):
    ...     str(cache_dir())
    '/tmp/evk'
    """
    return Path(_text(CACHE_DIR) or Path.home() / ".cache" / "evalkit")


def index_file() -> Path | None:
    """``$EVALKIT_INDEX`` as a path, or None (the index then sits in :func:`cache_dir`)."""
    value = _text(INDEX)
    return Path(value) if value else None


def workers() -> int | None:
    """``$EVALKIT_WORKERS`` as a worker count (at least 1), or None when unset or not an integer.

    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"EVALKIT_WORKERS": " 0 "}):
    ...     workers()
    1
    >>> with mock.patch.dict(os.environ, {"EVALKIT_WORKERS": "many"}):
    ...     workers() is None
    True
    """
    raw = os.environ.get(WORKERS, "").strip()
    if not raw:
        return None
    try:
        return max(int(raw), 1)
    except ValueError:
        return None


def wordnet_dir() -> str | None:
    """``$EVALKIT_WORDNET_DIR`` as given (the caller expands ``~`` and quotes it in messages)."""
    return _text(WORDNET_DIR)


def inception_weights() -> str | None:
    """``$EVALKIT_INCEPTION_WEIGHTS`` as given, or None."""
    return _text(INCEPTION_WEIGHTS)


def digits_cnn_weights() -> str | None:
    """``$EVALKIT_DIGITS_CNN_WEIGHTS`` as given, or None."""
    return _text(DIGITS_CNN_WEIGHTS)
