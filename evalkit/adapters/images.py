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
(:func:`evalkit.image_io.decode_reference`): the record names the image, the metrics read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from evalkit.adapters.base import ModelAdapter
from evalkit.errors import ConfigError, InputError
from evalkit.image_io import IMAGE_SUFFIXES, encode_png
from evalkit.types import GenerateRequest, Generation


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
            h = hashlib.sha256()
            for p in files:
                h.update(str(p.relative_to(path)).encode())
                h.update(p.read_bytes())
            self.sha256 = h.hexdigest()
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

    def _reference(self, req: GenerateRequest) -> str:
        """The stored image of a request, or InputError naming the sample."""
        assert self.path is not None
        sid = req.sample_id
        if self.path.is_dir():
            folder = self.path / req.task if (self.path / req.task).is_dir() else self.path
            for suffix in IMAGE_SUFFIXES:
                candidate = folder / f"{sid}{suffix}"
                if candidate.is_file():
                    return str(candidate)
            raise InputError(
                f"{folder}: no image for sample '{sid}' of task '{req.task}' "
                f"(expected {sid}.png, .jpg or .jpeg)."
            )
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
        if self.fn is None:
            for reqs in requests.values():
                for r in reqs:
                    self._reference(r)

    def generate_images(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        if self.fn is None:
            return [Generation(text=None, outputs={"image": self._reference(r)}) for r in requests]
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

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        raise ConfigError(f"adapter images:{self.target} serves only generate_images requests.")

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "target": self.target,
            "sha256": self.sha256,
            "options": self.options,
        }
