"""An NLI cross-encoder from a local folder: P(entailment) of (passage, claim) pairs.

The folder holds a transformers sequence-classification model (``config.json``, safetensors
weights, a tokenizer). Nothing is downloaded: the folder is opened with ``local_files_only``,
and only safetensors weights are read. The entailment class is found from
``config.id2label`` (the one label whose lower-cased name starts with ``entail``), so models
that order their labels differently (``contradiction, neutral, entailment`` in MNLI heads,
``entailment, neutral, contradiction`` in others) are read correctly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalkit.assets.encoders import sha256_files
from evalkit.errors import AssetError, ConfigError

__all__ = ["NLIModel", "entailment_index"]


def entailment_index(id2label: dict[Any, str], where: str) -> int:
    """The class index of the entailment label in a model's ``id2label``.

    Raises:
        ConfigError: No label, or more than one, names entailment.

    Example:
        >>> entailment_index({0: "CONTRADICTION", 1: "neutral", 2: "Entailment"}, "m")
        2
    """
    found = [int(i) for i, label in id2label.items() if str(label).lower().startswith("entail")]
    if len(found) != 1:
        labels = ", ".join(f"{i}: {label}" for i, label in sorted(id2label.items()))
        raise ConfigError(
            f"{where}: the model's config.id2label ({labels}) has {len(found)} labels naming "
            "entailment; an NLI model must have exactly one (e.g. 'entailment')."
        )
    return found[0]


class NLIModel:
    """A local NLI cross-encoder (loaded once, on CPU or the first CUDA device).

    Args:
        folder: The model folder.
        where: Who needs it (for messages).
        max_length: Longest pair in tokens (the passage is cut first).
        batch_size: Pairs per forward pass.
    """

    def __init__(self, folder: str, where: str, *, max_length: int, batch_size: int) -> None:
        path = Path(folder)
        weights = sorted(path.glob("*.safetensors")) if path.is_dir() else []
        if not weights:
            raise AssetError(
                f"{where}: nli_model {folder}: no folder with safetensors weights there; give "
                "the local folder of a sequence-classification NLI model (save_pretrained with "
                "safe_serialization). Models are never downloaded."
            )
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(
            path, local_files_only=True, use_safetensors=True
        )
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = model.to(self.device).eval()
        self.entail_index = entailment_index(dict(model.config.id2label), where)
        self.sha256 = sha256_files(weights)
        self.max_length = max_length
        self.batch_size = batch_size

    def entailment(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """P(entailment) of each ``(premise, hypothesis)`` pair, in order (softmax, float32)."""
        torch = self.torch
        out: list[float] = []
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start : start + self.batch_size]
            enc = self.tokenizer(
                [p for p, _ in chunk],
                [h for _, h in chunk],
                padding=True,
                truncation="only_first" if self.max_length else False,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            with torch.no_grad():
                logits = self.model(**enc).logits
            probs = torch.softmax(logits.float(), dim=-1)[:, self.entail_index]
            out.extend(float(x) for x in probs.cpu().tolist())
        return out
