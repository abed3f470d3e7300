"""WordNet found offline: the source folder, the nltk folder built once in the cache, the reader.

Most tests use a fake source of tiny files (finding and copying does not read contents); one
test loads nltk's reader from a folder of symlinks to Debian's files, the layout that nltk
refuses when it is used in place.
"""

from __future__ import annotations

import gzip
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from evalkit.assets import wordnet as assets
from evalkit.assets.wordnet import (
    DEBIAN_WORDNET_DIR,
    LEXNAMES_WN30,
    wordnet,
    wordnet_folder,
    wordnet_source,
    wordnet_version,
)
from evalkit.errors import AssetError

REQUIRED = assets._REQUIRED
HINT = "apt-get install wordnet-base wordnet-sense-index"
# lexnames(5WN): the syntactic category of each part of speech.
CATEGORY = {"n": 1, "v": 2, "a": 3, "s": 3, "r": 4}


def _fake_source(folder: Path, names: tuple[str, ...] = REQUIRED) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(f"fake {name}\n", encoding="utf-8")
    return folder


def _symlinked_debian(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in (*REQUIRED, "cntlist.rev"):
        (folder / name).symlink_to(DEBIAN_WORDNET_DIR / name)
    return folder


def _no_symlinks(root: Path) -> bool:
    return not any(p.is_symlink() for p in root.rglob("*"))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "wordnet"


# ------------------------------------------------------------------------------------- source


def test_debian_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVALKIT_WORDNET_DIR", raising=False)
    assert wordnet_source() == DEBIAN_WORDNET_DIR.resolve()
    assert wordnet_version() == "3.0"


@pytest.mark.parametrize("layout", ["", "dict", "wordnet", "corpora/wordnet"])
def test_source_layouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str) -> None:
    """Raw dictionary files, a WordNet release (dict/), an nltk folder or an nltk data root."""
    files = _fake_source(tmp_path / "wn" / layout)
    monkeypatch.setenv("EVALKIT_WORDNET_DIR", str(tmp_path / "wn"))
    assert wordnet_source() == files.resolve()
    assert wordnet_version() == "unknown"  # the fake data.adj names no version


@pytest.mark.parametrize("case", ["empty", "absent", "no-sense-index"])
def test_missing_wordnet_is_an_asset_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    target = tmp_path / "wn"
    if case == "empty":
        target.mkdir()
    elif case == "no-sense-index":  # wordnet-base without wordnet-sense-index
        _fake_source(target, tuple(n for n in REQUIRED if n != "index.sense"))
    monkeypatch.setenv("EVALKIT_WORDNET_DIR", str(target))
    for call in (wordnet_source, wordnet_version, wordnet_folder, wordnet):
        with pytest.raises(AssetError) as info:
            call()
        message = str(info.value)
        assert message.startswith("meteor needs WordNet")
        assert HINT in message and "EVALKIT_WORDNET_DIR" in message
    if case == "no-sense-index":
        assert "lacks index.sense." in message
    if case == "absent":
        assert "is not a folder" in message
    with pytest.raises(AssetError, match=r"^my_metric needs WordNet"):
        wordnet_source("my_metric")


def test_missing_debian_wordnet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVALKIT_WORDNET_DIR", raising=False)
    monkeypatch.setattr(assets, "DEBIAN_WORDNET_DIR", tmp_path / "nowhere")
    with pytest.raises(AssetError, match=re.escape("nowhere is not a folder. Install Debian's")):
        wordnet_source()


# ------------------------------------------------------------------------------ the nltk folder


def test_folder_is_built_once_with_plain_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    source = _fake_source(tmp_path / "src", (*REQUIRED, "cntlist.rev"))
    # A symlink in the source (nltk would refuse it) becomes a plain file in the copy.
    (source / "data.noun").unlink()
    (tmp_path / "elsewhere").write_text("nouns\n", encoding="utf-8")
    (source / "data.noun").symlink_to(tmp_path / "elsewhere")
    monkeypatch.setenv("EVALKIT_WORDNET_DIR", str(source))

    folder = wordnet_folder()
    assert folder.parent.name == "corpora" and folder.name == "wordnet"
    assert folder.is_relative_to(cache)
    assert _no_symlinks(cache)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        (*REQUIRED, "cntlist.rev", "lexnames")
    )
    assert (folder / "data.noun").read_text(encoding="utf-8") == "nouns\n"
    assert (folder / "lexnames").read_text(encoding="utf-8") == LEXNAMES_WN30
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}

    # Idempotent: the second call reuses the folder and copies nothing.
    assert wordnet_folder() == folder
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert [p.name for p in cache.iterdir()] == [folder.parent.parent.name]  # no leftovers


def test_a_lexnames_file_in_the_source_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    source = _fake_source(tmp_path / "src")
    (source / "lexnames").symlink_to(source / "index.noun")  # not usable in place
    monkeypatch.setenv("EVALKIT_WORDNET_DIR", str(source))
    folder = wordnet_folder()
    assert (folder / "lexnames").read_text(encoding="utf-8") == "fake index.noun\n"


def test_a_complete_plain_nltk_folder_is_used_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    source = _fake_source(tmp_path / "nltk_data" / "corpora" / "wordnet", (*REQUIRED, "lexnames"))
    monkeypatch.setenv("EVALKIT_WORDNET_DIR", str(tmp_path / "nltk_data"))
    assert wordnet_folder() == source.resolve()
    assert not cache.exists()


def test_a_changed_source_gets_a_new_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    source = _fake_source(tmp_path / "src")
    monkeypatch.setenv("EVALKIT_WORDNET_DIR", str(source))
    first = wordnet_folder()
    (source / "data.adj").write_text("a longer, changed file\n", encoding="utf-8")
    second = wordnet_folder()
    assert second != first
    assert (second / "data.adj").read_text(encoding="utf-8") == "a longer, changed file\n"


def test_incomplete_folders_are_rebuilt_and_concurrent_builds_agree(
    tmp_path: Path, cache: Path
) -> None:
    source = _fake_source(tmp_path / "src").resolve()
    final = cache / f"wn-{assets._fingerprint(source)}"
    (final / "corpora" / "wordnet").mkdir(parents=True)  # an interrupted, non-atomic build
    (final / "corpora" / "wordnet" / "data.adj").write_text("partial", encoding="utf-8")
    assert assets._build(source) == final
    assert assets._complete(final / "corpora" / "wordnet")

    # Several processes or threads racing on an empty cache all end with the same folder.
    other = _fake_source(tmp_path / "src2").resolve()
    results: list[Path] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            results.append(assets._build(other))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1 and assets._complete(results[0] / "corpora" / "wordnet")
    assert not [p for p in cache.iterdir() if p.name.startswith(".build-")]


# ----------------------------------------------------------------------------------- lexnames


def test_lexnames_table_is_wordnet_30s() -> None:
    rows = [line.split("\t") for line in LEXNAMES_WN30.splitlines()]
    assert len(rows) == 45
    assert [r[0] for r in rows] == [f"{i:02d}" for i in range(45)]
    prefix = {"noun": "1", "verb": "2", "adj": "3", "adv": "4"}
    assert all(prefix[name.split(".")[0]] == cat for _, name, cat in rows)
    assert rows[0][1:] == ["adj.all", "3"] and rows[44][1:] == ["adj.ppl", "3"]


def test_lexnames_table_matches_the_manual_page() -> None:
    """Debian's wordnet-base installs lexnames(5WN); its table is the source of the constant."""
    page = Path("/usr/share/man/man5/lexnames.5WN.gz")
    if not page.exists():
        pytest.skip("the lexnames(5WN) manual page is not installed")
    text = gzip.decompress(page.read_bytes()).decode("utf-8", errors="replace")
    table = [
        (m.group(1), m.group(2)) for m in re.finditer(r"^(\d\d)\t(\S+)\s*\t", text, flags=re.M)
    ]
    assert table == [tuple(line.split("\t")[:2]) for line in LEXNAMES_WN30.splitlines()]


@pytest.mark.parametrize("pos", ["adj", "adv", "noun", "verb"])
def test_lexnames_categories_agree_with_the_dictionary(pos: str) -> None:
    """Every synset's lexicographer file (``lex_filenum``, wndb(5WN)) has its own category."""
    categories = [int(line.split("\t")[2]) for line in LEXNAMES_WN30.splitlines()]
    seen = set()
    with (wordnet_source() / f"data.{pos}").open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("  "):
                continue  # licence header
            _offset, lex_filenum, ss_type = line.split(" ", 3)[:3]
            seen.add(int(lex_filenum))
            assert categories[int(lex_filenum)] == CATEGORY[ss_type], line[:40]
    assert seen  # the file had synsets


# ------------------------------------------------------------------------------------- reader


def test_reader_loads_once_from_a_plain_copy() -> None:
    """Debian's folder has no ``lexnames``: the reader reads evalkit's plain copy of it."""
    reader: Any = wordnet()
    assert wordnet() is reader  # once per process and source
    root = Path(str(reader.root))
    assert root.parent.name == "corpora" and not root.is_relative_to(DEBIAN_WORDNET_DIR)
    assert _no_symlinks(root)
    assert (root / "lexnames").read_text(encoding="utf-8") == LEXNAMES_WN30
    assert reader.get_version() == "3.0"
    assert [s.name() for s in reader.synsets("dog")][:2] == ["dog.n.01", "frump.n.01"]


def test_a_symlinked_debian_folder_is_copied_to_plain_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    """nltk 3.10 refuses corpus files that are symlinks out of the corpus folder."""
    monkeypatch.setenv("EVALKIT_WORDNET_DIR", str(_symlinked_debian(tmp_path / "links")))
    folder = wordnet_folder()
    assert folder.is_relative_to(cache) and _no_symlinks(cache)
    for name in (*REQUIRED, "cntlist.rev"):
        assert (folder / name).stat().st_size == (DEBIAN_WORDNET_DIR / name).stat().st_size
    assert wordnet_version() == "3.0"


def test_reader_files_are_reopened_after_fork() -> None:
    reader: Any = wordnet()
    before = reader._data_file("n")
    assets._reopen_after_fork()
    assert reader.synsets("cat")
    after = reader._data_file("n")
    assert after is not before and not after.closed
    assert os.path.samefile(after.name, before.name)
