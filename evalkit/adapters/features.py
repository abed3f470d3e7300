"""``features:FILE``: serve ``generate_images`` requests from features computed elsewhere.

For users with their own feature pipeline (Inception, CLIP, DINOv2... run outside evalkit):
FILE is a ``.npy`` or ``.npz`` array of shape ``(N, D)``, one row per generated sample
(:func:`evalkit.data.images.load_features`; in a ``.npz`` the array ``features``, or its only
array besides ``ids``). Which row is which sample:

- with an ``ids`` array in the ``.npz``: the row whose id is the sample's id (every sample of
  the dataset must have one; the error lists the first missing ids);
- otherwise, the sample's position in its task's dataset (row 0 is the first sample), for one
  task per adapter: give each task its own ``model: features:FILE``.

Each result is ``Generation(text=None, outputs={"features": "FILE#ROW"})`` (FILE made
absolute): the record names the row, the metrics read it. Score them with
``fid: {extractor: precomputed, reference: REAL.npz}`` (or ``kid``), the reference being the
real images' features from the same pipeline (see :mod:`evalkit.metrics.image.precomputed`).
The whole file is read when the adapter is built: an unreadable file, a shape other than
``(N, D)``, NaN or infinity (naming the row) is an input error (exit 2) before any sample runs.
The file's SHA-256 is in ``info()``, so it is part of the run's identity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from evalkit.adapters.base import ModelAdapter
from evalkit.assets.image_features import sha256_file
from evalkit.data.images import FEATURE_SUFFIXES, load_features
from evalkit.errors import ConfigError, InputError
from evalkit.types import GenerateRequest, Generation

#: How many missing sample ids an error lists.
_SHOWN = 5


class FeaturesAdapter(ModelAdapter):
    """Precomputed feature rows of generated samples (see the module docstring)."""

    name: ClassVar[str] = "features"
    capabilities: ClassVar[frozenset[str]] = frozenset({"generate_images"})
    cacheable: ClassVar[bool] = False

    def __init__(self, target: str, **options: Any) -> None:
        if options:
            raise ConfigError(f"features:{target}: a feature file takes no options.")
        path = Path(target)
        if not path.is_file() or path.suffix.lower() not in FEATURE_SUFFIXES:
            state = "not found" if not path.exists() else "is not a .npy or .npz file"
            raise InputError(
                f"{path}: {state}; features: takes an (N, D) feature array in a .npy or .npz "
                "file (rows in the dataset's sample order, or an 'ids' array in the .npz)."
            )
        self.target = target
        self.path = path.resolve()
        found = load_features(self.path, what="generated features")
        self.sha256 = sha256_file(self.path)
        self._n_rows, self._dims = (int(x) for x in found.features.shape)
        self._ids = None if found.ids is None else {sid: i for i, sid in enumerate(found.ids)}
        #: ``(task, sample id) -> row`` in dataset order, when the file has no ``ids``.
        self._positions: dict[tuple[str, str], int] = {}

    def prepare(self, requests: Mapping[str, Sequence[GenerateRequest]]) -> None:
        """Map every sample to its row before any sample runs (ids, or dataset order)."""
        if self._ids is not None:
            wanted = dict.fromkeys(r.sample_id for reqs in requests.values() for r in reqs)
            missing = [sid for sid in wanted if sid not in self._ids]
            if missing:
                shown = ", ".join(repr(s) for s in missing[:_SHOWN])
                more = f" and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
                raise InputError(
                    f"{self.path}: its 'ids' array has no row for {len(missing)} of the "
                    f"{len(wanted)} samples ({shown}{more}); add their features, or fix the "
                    "ids (they must equal the dataset's sample ids)."
                )
            return
        if len(requests) > 1:
            raise ConfigError(
                f"features:{self.target} has no 'ids' array, so its rows follow one dataset's "
                f"sample order, but tasks {', '.join(sorted(requests))} share it; give each "
                "task its own `model: features:FILE`, or add an 'ids' array to the .npz."
            )
        for task, reqs in requests.items():
            order = list(dict.fromkeys(r.sample_id for r in reqs))
            if len(order) > self._n_rows:
                raise InputError(
                    f"{self.path}: has {self._n_rows} feature rows, but task '{task}' has "
                    f"{len(order)} samples; give one row per sample, in the dataset's order."
                )
            self._positions.update(((task, sid), i) for i, sid in enumerate(order))

    def _row(self, req: GenerateRequest) -> int:
        if self._ids is not None:
            row = self._ids.get(req.sample_id)
            if row is None:
                raise InputError(f"{self.path}: its 'ids' array has no sample '{req.sample_id}'.")
            return row
        row = self._positions.get((req.task, req.sample_id))
        if row is None:
            raise InputError(
                f"features:{self.target}: sample '{req.sample_id}' of task '{req.task}' was not "
                "in the dataset given to prepare(); without an 'ids' array the row is the "
                "sample's position in its dataset."
            )
        return row

    def generate_images(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        return [
            Generation(text=None, outputs={"features": f"{self.path}#{self._row(r)}"})
            for r in requests
        ]

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        raise ConfigError(
            f"adapter features:{self.target} serves only generate_images requests (score them "
            "with fid or kid and `extractor: precomputed`)."
        )

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "target": self.target,
            "sha256": self.sha256,
            "rows": self._n_rows,
            "dims": self._dims,
            "rows_by": "ids" if self._ids is not None else "dataset order",
        }
