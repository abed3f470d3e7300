"""``images:TARGET``: serve ``generate_images`` requests from stored images or a Python callable.

TARGET is one of:

- a folder (one per model): the image of sample ``ID`` is the file ``ID.png`` (or ``.jpg``,
  ``.jpeg``); with a subfolder named after the task, that subfolder is used for the task;
- a ``.npz`` (array ``images``) or ``.npy`` file: the image of sample ``ID`` is row ``int(ID)``,
  or, when the ``.npz`` has an ``ids`` array, the row whose id is ``ID``;
- ``python:MODULE:FN`` or ``python:FILE.py:FN``: ``FN(prompts, seeds=[...], **options)`` returns
  one image per prompt (an array ``(H, W[, C])``, uint8 or floats in [0, 1]; ``None`` or an
  exception instance for a failed call); images are kept inline as PNG.

Each result is ``Generation(text=None, outputs={"image": REF})`` with REF a reference string
(:func:`evalkit.data.images.decode_reference`): the record names the image, the metrics read it.

A folder never lends a file outside itself: sample ids and task names must be plain file names
(no ``/``, ``\\`` or control characters, and not ``.`` or ``..``), and every path is
resolved (symlinks included) and must stay inside the folder. Each file's header is checked
before any sample is run (an unreadable file or a decompression bomb is an input error,
exit 2); a file that fails only when decoded stops the run with an input error, keeping the
batches already recorded.
The folder's part of the run's identity is its resolved path and its file names, not its
contents, so that ``--resume`` finishes a run after a broken file has been fixed; each
image's SHA-256 is in the record (``outputs.image_sha256``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from evalkit.adapters.base import ModelAdapter
from evalkit.data.images import IMAGE_SUFFIXES, check_image_file, encode_png
from evalkit.errors import ConfigError, InputError
from evalkit.types import GenerateRequest, Generation

#: What a sample id or task name may not hold to name a file: path separators, NUL and other
#: control characters; nor may it be ``.`` or ``..``.
_NOT_PLAIN = re.compile(r"[/\\\x00-\x1f\x7f]")


def _plain(name: str) -> bool:
    """Whether ``name`` names a file in a folder rather than a path (see ``_NOT_PLAIN``).

    >>> [_plain(n) for n in ("0017", "a.b-c_d", "../outside", "/etc/passwd", "..", "a\\b")]
    [True, True, False, False, False, False]
    """
    return bool(name) and name not in (".", "..") and _NOT_PLAIN.search(name) is None


def _suggest(name: str) -> str:
    """A plain name close to ``name``, for the error message."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "sample"


class ImagesAdapter(ModelAdapter):
    """Images from a folder, an array file or a generator callable (see the module docstring)."""

    name: ClassVar[str] = "images"
    capabilities: ClassVar[frozenset[str]] = frozenset({"generate_images"})
    cacheable: ClassVar[bool] = False

    def __init__(self, target: str, **options: Any) -> None:
        self.target = target
        self.options = dict(options)
        self.fn: Any = None
        self.path: Path | None = None
        self._ids: dict[str, int] | None = None
        self._n_rows = 0
        self._n_files = 0
        if target.startswith("python:"):
            from evalkit.adapters.callable import load_callable

            self.fn = load_callable(target[len("python:") :])
            self.sha256 = "callable"
            return
        if options:
            raise ConfigError(f"images:{target}: stored images take no options.")
        path = Path(target)
        if not path.exists():
            raise InputError(
                f"{path}: images not found; give a folder, a .npz/.npy file or python:MODULE:FN."
            )
        self.path = path.resolve()
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise InputError(f"{path}: no {', '.join(IMAGE_SUFFIXES)} files in this folder.")
            # The names, not the contents (see the module docstring): fixing a broken file
            # keeps the run resumable; each image's own hash goes into the record.
            h = hashlib.sha256()
            for p in files:
                h.update(str(p.relative_to(path)).encode() + b"\0")
            self.sha256 = h.hexdigest()
            self._n_files = len(files)
        elif path.suffix.lower() in (".npz", ".npy"):
            self.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
            self._index_array_file(path)
        else:
            raise InputError(f"{path}: images: takes a folder, a .npz or a .npy file.")

    def _index_array_file(self, path: Path) -> None:
        try:
            if path.suffix.lower() == ".npy":
                self._n_rows = int(np.load(path, allow_pickle=False, mmap_mode="r").shape[0])
                return
            with np.load(path, allow_pickle=False) as data:
                keys = data.files
                arr = data["images"] if "images" in keys else data[keys[0]]
                self._n_rows = int(arr.shape[0]) if arr.ndim else 0
                if "ids" in keys:
                    self._ids = {str(v): i for i, v in enumerate(data["ids"].tolist())}
        except (OSError, ValueError, IndexError) as exc:
            raise InputError(f"{path}: cannot read the array file ({exc}).") from None

    def _check_names(self, req: GenerateRequest) -> None:
        """InputError unless the task name and the sample id are plain file names."""
        fix = "it may not hold '/', '\\' or control characters, nor be '.' or '..'"
        if not _plain(req.task):
            raise InputError(
                f"images:{self.target}: task name {req.task!r} is not a plain folder name "
                f"({fix}); rename the task in the suite (tasks[].name), e.g. to "
                f"{_suggest(req.task)!r}."
            )
        if not _plain(req.sample_id):
            raise InputError(
                f"images:{self.target}: sample id {req.sample_id!r} of task '{req.task}' is not "
                f"a plain file name ({fix}); rename it in the dataset (the task's id field), "
                f"e.g. to {_suggest(req.sample_id)!r}."
            )

    def _confined(self, path: Path) -> Path:
        """``path`` if it resolves inside the folder, else InputError (a link that leads out)."""
        assert self.path is not None
        if not path.resolve().is_relative_to(self.path):
            raise InputError(
                f"{path}: leads to {path.resolve()}, outside the images folder {self.path}; "
                "copy the image into the folder instead of linking to it."
            )
        return path

    def _image_file(self, req: GenerateRequest) -> Path:
        """The file of a request in a folder, or InputError naming the sample and the fix."""
        assert self.path is not None
        self._check_names(req)
        sid = req.sample_id
        sub = self.path / req.task
        folder = self._confined(sub) if sub.is_dir() else self.path
        for suffix in IMAGE_SUFFIXES:
            candidate = folder / f"{sid}{suffix}"
            if candidate.is_file():
                return self._confined(candidate)
        raise InputError(
            f"{folder}: no image for sample '{sid}' of task '{req.task}' "
            f"(expected {sid}.png, .jpg or .jpeg)."
        )

    def _reference(self, req: GenerateRequest) -> str:
        """The stored image of a request, or InputError naming the sample."""
        assert self.path is not None
        sid = req.sample_id
        if self.path.is_dir():
            return str(self._image_file(req))
        if self._ids is not None:
            row = self._ids.get(sid)
            if row is None:
                raise InputError(f"{self.path}: its 'ids' array has no sample '{sid}'.")
        else:
            if not sid.isdigit():
                raise InputError(
                    f"{self.path}: sample id '{sid}' is not a row number; number the samples "
                    "0..N-1 or add an 'ids' array to the .npz."
                )
            row = int(sid)
        if row >= self._n_rows:
            raise InputError(f"{self.path}: has {self._n_rows} images; no row {row} ('{sid}').")
        return f"{self.path}#{row}"

    def prepare(self, requests: Mapping[str, Sequence[GenerateRequest]]) -> None:
        """Check every request's image before any sample runs (names, paths, file headers)."""
        if self.fn is None:
            for reqs in requests.values():
                for r in reqs:
                    ref = self._reference(r)
                    if self.path is not None and self.path.is_dir():
                        check_image_file(Path(ref))

    def generate_images(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        if self.fn is None:
            return [self._stored(r) for r in requests]
        prompts = [r.prompt for r in requests]
        seeds = [r.seed for r in requests]
        try:
            images = list(self.fn(prompts, seeds=seeds, **self.options))
        except Exception as exc:
            return [Generation(text=None, error=f"{type(exc).__name__}: {exc}") for _ in requests]
        if len(images) != len(requests):
            msg = f"images:{self.target} returned {len(images)} images for {len(requests)} prompts"
            return [Generation(text=None, error=msg) for _ in requests]
        out = []
        for img in images:
            if img is None or isinstance(img, BaseException):
                out.append(Generation(text=None, error=f"the generator returned {img!r}"))
                continue
            try:
                out.append(Generation(text=None, outputs={"image": encode_png(np.asarray(img))}))
            except InputError as exc:
                out.append(Generation(text=None, error=str(exc)))
        return out

    def _stored(self, req: GenerateRequest) -> Generation:
        ref = self._reference(req)
        outputs: dict[str, Any] = {"image": ref}
        if self.path is not None and self.path.is_dir():
            outputs["image_sha256"] = hashlib.sha256(Path(ref).read_bytes()).hexdigest()
        return Generation(text=None, outputs=outputs)

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        raise ConfigError(f"adapter images:{self.target} serves only generate_images requests.")

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"kind": self.name, "target": self.target}
        if self.path is not None and self.path.is_dir():
            # A folder: its file names (see the module docstring); images hashed per sample.
            info.update(path=str(self.path), files=self._n_files, names_sha256=self.sha256)
        else:
            info["sha256"] = self.sha256
        info["options"] = self.options
        return info
