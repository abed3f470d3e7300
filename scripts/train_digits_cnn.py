"""Train the small digits CNN behind evalkit's offline "digits-FID" (extractor ``digits-cnn``).

Data: scikit-learn's bundled ``load_digits`` (1797 8x8 images, no download), split by
``evalkit.assets.image_features.digits_data`` (a seeded permutation: 1197 to train,
600 held out; the
image suite's data come from the held-out part). Architecture: conv 3x3 1->8, ReLU, conv 3x3
8->16, ReLU, 2x2 max pool, linear 256->32 (the features), ReLU, linear 32->10.

Writes ``models/digits-cnn/weights.npz`` (float32 arrays under torch's parameter names; evalkit
runs the network in numpy) and ``models/digits-cnn/training.json`` (settings, accuracy and the
weights' SHA-256). Deterministic on one thread::

    python scripts/train_digits_cnn.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalkit.assets.image_features import (  # noqa: E402
    DIGITS_SPLIT_SEED,
    digits_cnn_forward,
    digits_data,
    sha256_file,
)


class DigitsNet(nn.Module):
    """The torch twin of :func:`evalkit.assets.image_features.digits_cnn_forward`."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc1 = nn.Linear(256, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(self.conv1(x))
        h = torch.relu(self.conv2(h))
        h = nn.functional.max_pool2d(h, 2).flatten(1)
        feats = self.fc1(h)
        return feats, self.fc2(torch.relu(feats))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "digits-cnn")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    images, labels, train, held = digits_data()
    x = torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
    y = torch.from_numpy(labels)
    net = DigitsNet()
    settings = {"batch_size": 64, "lr": 3e-3, "weight_decay": 1e-4, "epochs": args.epochs}
    opt = torch.optim.AdamW(net.parameters(), lr=settings["lr"], weight_decay=1e-4)
    gen = torch.Generator().manual_seed(args.seed)
    train_t = torch.from_numpy(train)
    for _epoch in range(args.epochs):
        net.train()
        perm = train_t[torch.randperm(len(train_t), generator=gen)]
        for start in range(0, len(perm), settings["batch_size"]):
            idx = perm[start : start + settings["batch_size"]]
            _, logits = net(x[idx])
            loss = nn.functional.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    params = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    # Feature standardisation (training images): unit-scale features for FID and KID.
    raw, _ = digits_cnn_forward(params, x.numpy()[train])
    params["feature_mean"] = raw.mean(axis=0).astype(np.float32)
    params["feature_scale"] = raw.std(axis=0).astype(np.float32)
    with torch.no_grad():
        _, torch_logits = net(x)
    feats, logits = digits_cnn_forward(params, x.numpy())
    max_diff = float(np.abs(logits - torch_logits.numpy()).max())
    assert max_diff < 1e-4, max_diff  # the numpy forward pass is the torch one
    acc = {
        name: float((logits[idx].argmax(1) == labels[idx]).mean())
        for name, idx in (("train", train), ("held_out", held))
    }

    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / "weights.npz"
    np.savez(weights, **params)
    record = {
        "description": "Digits CNN trained by scripts/train_digits_cnn.py on sklearn load_digits.",
        "command": "python scripts/train_digits_cnn.py " + " ".join(argv or sys.argv[1:]),
        "seed": args.seed,
        "threads": 1,
        "data": {
            "source": "sklearn.datasets.load_digits (bundled with scikit-learn)",
            "pixels": "uint8 = round(v * 255 / 16); network input = uint8 / 255",
            "split": f"numpy default_rng({DIGITS_SPLIT_SEED}).permutation(1797): "
            f"{len(train)} train, {len(held)} held out",
        },
        "architecture": "conv3x3(1->8) relu conv3x3(8->16) relu maxpool2 "
        "linear(256->32)=features relu linear(32->10)",
        "features": "linear(256->32) output before its ReLU, standardised by the training "
        "images' per-dimension mean and std (feature_mean, feature_scale)",
        "n_parameters": int(sum(p.size for k, p in params.items() if not k.startswith("feature_"))),
        "training": {**settings, "optimizer": "AdamW", "loss": "cross_entropy"},
        "accuracy": acc,
        "feature_dims": int(feats.shape[1]),
        "numpy_vs_torch_max_abs_diff": max_diff,
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
        "weights_sha256": sha256_file(weights),
    }
    (args.out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({"accuracy": acc, "weights": str(weights)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
