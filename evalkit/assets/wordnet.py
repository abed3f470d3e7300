"""Local assets that metrics need, found offline: never downloaded, never silently replaced.

WordNet (for METEOR) is read through nltk's ``WordNetCorpusReader`` from local dictionary
files:

1. ``$EVALKIT_WORDNET_DIR`` when set: an nltk data folder (holding ``corpora/wordnet/``), an
   nltk-style ``wordnet`` folder, a WordNet release folder (holding ``dict/``), or a folder of
   the raw WordNet dictionary files;
2. otherwise Debian's ``/usr/share/wordnet``, installed by
   ``apt-get install wordnet-base wordnet-sense-index``.

nltk needs ``data.*``, ``index.*``, ``*.exc`` and ``index.sense`` (nltk reads it while loading)
plus a ``lexnames`` file that no Debian package ships, and nltk 3.10 refuses corpus files that
are symlinks pointing outside the corpus folder. So unless the source already is a complete
nltk folder of plain files, evalkit copies the files once into
``$EVALKIT_CACHE_DIR/wordnet/<key>/corpora/wordnet/`` (default cache ``~/.cache/evalkit``),
writes the fixed WordNet 3.0 ``lexnames`` table when the source has none, and reuses that
folder afterwards. The key hashes the source path and its files' sizes and modification times,
so a changed source gets a new folder. The folder appears atomically (built under a temporary
name, then renamed), so concurrent processes never see half of it.

The reader is loaded once per process and source (it takes a few seconds) and kept.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit import _env
from evalkit.errors import AssetError

if TYPE_CHECKING:  # pragma: no cover
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

__all__ = [
    "DEBIAN_WORDNET_DIR",
    "LEXNAMES_WN30",
    "WORDNET_ENV",
    "wordnet",
    "wordnet_folder",
    "wordnet_source",
    "wordnet_version",
]

#: The environment variable that names a local WordNet folder.
WORDNET_ENV = _env.WORDNET_DIR
#: Where Debian's ``wordnet-base`` and ``wordnet-sense-index`` packages put the dictionary.
DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")

#: Files nltk's reader cannot load without (``index.sense``: it reads it while loading).
_REQUIRED = (
    *(f"data.{p}" for p in ("adj", "adv", "noun", "verb")),
    *(f"index.{p}" for p in ("adj", "adv", "noun", "verb")),
    *(f"{p}.exc" for p in ("adj", "adv", "noun", "verb")),
    "index.sense",
)
#: Files nltk uses when present (``lexnames`` is written when missing).
_OPTIONAL = ("cntlist.rev", "lexnames")

#: WordNet 3.0's table of lexicographer files: number, name, syntactic category (1 noun,
#: 2 verb, 3 adjective, 4 adverb), tab-separated, as documented in the WordNet 3.0 manual page
#: lexnames(5WN) ("List of WordNet lexicographer file names and numbers", Princeton, Dec 2006;
#: Debian installs it as /usr/share/man/man5/lexnames.5WN.gz). Debian ships the manual page
#: but not the file, which nltk's reader opens first.
_LEXNAMES_WN30: tuple[tuple[str, int], ...] = (
    ("adj.all", 3),
    ("adj.pert", 3),
    ("adv.all", 4),
    ("noun.Tops", 1),
    ("noun.act", 1),
    ("noun.animal", 1),
    ("noun.artifact", 1),
    ("noun.attribute", 1),
    ("noun.body", 1),
    ("noun.cognition", 1),
    ("noun.communication", 1),
    ("noun.event", 1),
    ("noun.feeling", 1),
    ("noun.food", 1),
    ("noun.group", 1),
    ("noun.location", 1),
    ("noun.motive", 1),
    ("noun.object", 1),
    ("noun.person", 1),
    ("noun.phenomenon", 1),
    ("noun.plant", 1),
    ("noun.possession", 1),
    ("noun.process", 1),
    ("noun.quantity", 1),
    ("noun.relation", 1),
    ("noun.shape", 1),
    ("noun.state", 1),
    ("noun.substance", 1),
    ("noun.time", 1),
    ("verb.body", 2),
    ("verb.change", 2),
    ("verb.cognition", 2),
    ("verb.communication", 2),
    ("verb.competition", 2),
    ("verb.consumption", 2),
    ("verb.contact", 2),
    ("verb.creation", 2),
    ("verb.emotion", 2),
    ("verb.motion", 2),
    ("verb.perception", 2),
    ("verb.possession", 2),
    ("verb.social", 2),
    ("verb.stative", 2),
    ("verb.weather", 2),
    ("adj.ppl", 3),
)
LEXNAMES_WN30 = "".join(f"{i:02d}\t{name}\t{cat}\n" for i, (name, cat) in enumerate(_LEXNAMES_WN30))

_INSTALL_HINT = (
    "Install Debian's wordnet-base and wordnet-sense-index "
    "(apt-get install wordnet-base wordnet-sense-index) or set EVALKIT_WORDNET_DIR."
)
# The version line of a WordNet data file header (the pattern nltk's get_version uses).
_VERSION = re.compile(r"Word[nN]et (\d+\+?|\d+\.\d+) Copyright")

_lock = threading.RLock()
_readers: dict[Path, WordNetCorpusReader] = {}


def _cache_root() -> Path:
    return _env.cache_dir() / "wordnet"


def _candidates(base: Path) -> list[Path]:
    """The folders under a user-given path that may hold the dictionary files, best first."""
    return [base / "corpora" / "wordnet", base / "wordnet", base / "dict", base]


def wordnet_source(needed_by: str = "meteor") -> Path:
    """The folder holding the WordNet dictionary files that :func:`wordnet` will read.

    Args:
        needed_by: Named in the error message (the metric that needs WordNet).

    Raises:
        AssetError: When no complete WordNet is found; the message says how to install one.
    """
    env = _env.wordnet_dir()
    base = Path(env).expanduser() if env else DEBIAN_WORDNET_DIR
    where = f"{WORDNET_ENV}={env}" if env else str(DEBIAN_WORDNET_DIR)
    if not base.is_dir():
        raise AssetError(f"{needed_by} needs WordNet, but {where} is not a folder. {_INSTALL_HINT}")
    best: tuple[Path, list[str]] | None = None
    for folder in _candidates(base):
        if not folder.is_dir():
            continue
        missing = [f for f in _REQUIRED if not (folder / f).is_file()]
        if not missing:
            return folder.resolve()
        if best is None or len(missing) < len(best[1]):
            best = (folder, missing)
    detail = f"{best[0]} lacks {', '.join(best[1])}" if best else f"{where} has no WordNet files"
    raise AssetError(f"{needed_by} needs WordNet, but {detail}. {_INSTALL_HINT}")


def wordnet_version(needed_by: str = "meteor") -> str:
    """The WordNet version named in the header of ``data.adj`` (``"3.0"``), or ``"unknown"``.

    Cheap: reads the found source's header, loads nothing.

    Raises:
        AssetError: When no complete WordNet is found.
    """
    path = wordnet_source(needed_by) / "data.adj"
    with path.open(encoding="utf-8", errors="replace") as fh:
        for i, line in enumerate(fh):
            if not line.startswith("  "):  # header lines start with two spaces
                break
            match = _VERSION.search(line)
            if match:
                return match.group(1)
            if i > 100:
                break
    return "unknown"


def _usable_in_place(source: Path) -> bool:
    """A complete nltk folder of plain files (nltk refuses symlinks that leave the folder)."""
    names = (*_REQUIRED, "lexnames")
    return all((source / n).is_file() and not (source / n).is_symlink() for n in names)


def _fingerprint(source: Path) -> str:
    h = hashlib.sha256(str(source).encode())
    for name in (*_REQUIRED, *_OPTIONAL):
        path = source / name
        if path.is_file():
            st = path.stat()
            h.update(f"|{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _complete(folder: Path) -> bool:
    return all(
        (folder / n).is_file() and not (folder / n).is_symlink() for n in (*_REQUIRED, "lexnames")
    )


def _build(source: Path) -> Path:
    """Copy ``source`` into an nltk data folder in the cache (once); returns the data root."""
    root = _cache_root()
    final = root / f"wn-{_fingerprint(source)}"
    if _complete(final / "corpora" / "wordnet"):
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    try:
        target = tmp / "corpora" / "wordnet"
        target.mkdir(parents=True)
        for name in (*_REQUIRED, *_OPTIONAL):
            if (source / name).is_file():
                # copyfile follows symlinks: the copy holds plain files only.
                shutil.copyfile(source / name, target / name)
        if not (target / "lexnames").exists():
            (target / "lexnames").write_text(LEXNAMES_WN30, encoding="utf-8")
        _install(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _install(tmp: Path, final: Path, attempts: int = 5) -> None:
    """Move the finished build ``tmp`` to ``final``, racing safely with other builders.

    A complete ``final`` (another process won) is kept. An incomplete one (an interrupted build)
    is first renamed aside, which is atomic, and only then deleted: deleting it in place could
    delete a concurrent winner's folder file by file while it is being read.
    """
    words = final / "corpora" / "wordnet"
    for _ in range(attempts):
        if _complete(words):
            return
        if final.exists():
            aside = Path(tempfile.mkdtemp(prefix=".stale-", dir=final.parent))
            try:
                os.rename(final, aside / final.name)
            except OSError:  # it changed under us: look again
                continue
            finally:
                shutil.rmtree(aside, ignore_errors=True)
        try:
            os.rename(tmp, final)
            return
        except OSError:  # someone else's folder arrived first: look again
            continue
    if not _complete(words):
        raise OSError(f"could not install the WordNet copy at {final}; remove it and retry")


def wordnet_folder(needed_by: str = "meteor") -> Path:
    """The nltk-style ``wordnet`` folder to load: the source itself, or its copy in the cache.

    Raises:
        AssetError: When no complete WordNet is found.
    """
    source = wordnet_source(needed_by)
    if _usable_in_place(source):
        return source
    with _lock:
        return _build(source) / "corpora" / "wordnet"


def _reader_class() -> type[WordNetCorpusReader]:
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class OfflineWordNetReader(WordNetCorpusReader):  # type: ignore[misc]  # nltk is untyped
        """nltk's reader without the Open Multilingual WordNet version map.

        While loading, nltk's reader maps the nltk ``wordnet`` corpus found on ``nltk.data.path``
        onto the loaded one (``map_wn``: it reads ``index.sense`` twice, about 4 of its 7
        seconds here). That map (``map30``) is used only to load OMW language data, which needs
        an OMW reader; this one has none, so the map is skipped. Synsets, lemmas and every
        English lookup are nltk's own code, unchanged.
        """

        def map_wn(self, version: str = "wordnet") -> Any:
            return None

    return OfflineWordNetReader


def wordnet(needed_by: str = "meteor") -> WordNetCorpusReader:
    """nltk's WordNet reader over the local dictionary, loaded once per process and source.

    Args:
        needed_by: Named in the error message (the metric that needs WordNet).

    Raises:
        AssetError: When no complete WordNet is found (the message says how to install it) or
            when nltk cannot read the files found.
    """
    source = wordnet_source(needed_by)
    with _lock:
        reader = _readers.get(source)
        if reader is not None:
            return reader
        folder = wordnet_folder(needed_by)
        import nltk.data

        # nltk 3.10 opens corpus files only under a root on nltk.data.path (or $NLTK_DATA).
        allowed = str(folder.parent.parent if folder.parent.name == "corpora" else folder)
        if allowed not in nltk.data.path:
            nltk.data.path.append(allowed)
        try:
            with warnings.catch_warnings():
                # "The multilingual functions are not available with this Wordnet version":
                # expected without an OMW reader.
                warnings.simplefilter("ignore", UserWarning)
                reader = _reader_class()(str(folder), None)
            for pos in ("n", "v", "a", "r"):
                # Open the data files now, so that the reader keeps working if the cached
                # copy is deleted while this process runs.
                reader._data_file(pos)
        except Exception as exc:
            raise AssetError(
                f"{needed_by} needs WordNet, but nltk could not read {folder}: "
                f"{type(exc).__name__}: {exc}. {_INSTALL_HINT}"
            ) from exc
        _readers[source] = reader
        return reader


def _reopen_after_fork() -> None:
    """A forked child shares the parent's file offsets; give its readers their own handles."""
    for reader in _readers.values():
        reader._data_file_map = {}


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reopen_after_fork)
