"""Train the bundled tiny GPT-2 (``models/tiny-gpt2/``) on text that ships with Python.

The model exists so that perplexity, log-likelihood and generation run end to end offline, on a
real transformers model, in seconds. It is not meant to be good; it is meant to be reproducible
and to get measurably better with training.

Data: ``pydoc_data.topics`` (the text of ``help()``'s topics, in every CPython installation).
Topics are split by name: a topic is held out when the first byte of ``sha256(name)`` is below
26 (about 10 %), so the split does not depend on the seed or on the order of the dict. The
held-out topics never reach the tokenizer or the model.

Tokenizer: a byte-level BPE (the ``tokenizers`` package) with 1024 entries trained on the
training topics, with GPT-2's ``<|endoftext|>`` as BOS, EOS and unknown token and a toy chat
template. Model: ``GPT2LMHeadModel`` with 2 layers, width 128, 4 heads, 128 positions, tied
embeddings, no dropout (about 0.54 M parameters, 2.2 MB in float32 safetensors). Training:
documents joined by ``<|endoftext|>`` into one token stream, random windows of 128 tokens,
batch 16, AdamW (betas 0.9/0.95, weight decay 0.01), learning rate 2e-3 with 30 warm-up steps
and cosine decay to 10 %, gradient clipping at 1.0, one CPU thread (faster than two on a busy
two-core machine).

Each checkpoint ``models/tiny-gpt2/step-XXXX/`` holds ``config.json``, ``model.safetensors``,
``generation_config.json`` and the tokenizer files. ``models/tiny-gpt2/training.json`` records
the seed, configs, steps, data split hashes, library versions, and each checkpoint's training
loss and held-out perplexity (computed with evalkit's own ``hf`` adapter and ``perplexity``
metric, windows of 128 tokens). The script also writes the suite data of ``suites/lm.yaml``
(paragraphs and sentence prompts drawn from the held-out topics only).

Run from the repository root (about four minutes on one CPU core)::

    python scripts/train_tiny_lm.py

The numbers depend on the Python version (``pydoc_data`` changes between releases) and, in the
last digits, on the torch build; ``training.json`` records both.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import platform
import random
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EOT = "<|endoftext|>"
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
)
MODEL_CONFIG: dict[str, Any] = {
    "vocab_size": 1024,
    "n_positions": 128,
    "n_embd": 128,
    "n_layer": 2,
    "n_head": 4,
    "resid_pdrop": 0.0,
    "embd_pdrop": 0.0,
    "attn_pdrop": 0.0,
    "tie_word_embeddings": True,
}
TRAIN: dict[str, Any] = {
    "batch_size": 16,
    "block_size": 128,
    "lr": 2e-3,
    "min_lr_ratio": 0.1,
    "warmup_steps": 30,
    "weight_decay": 0.01,
    "betas": [0.9, 0.95],
    "grad_clip": 1.0,
}


def sha256_text(obj: Any) -> str:
    """SHA-256 of a JSON-serialisable object in canonical form."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def split_topics() -> tuple[dict[str, str], dict[str, str]]:
    """``(train, heldout)``: the pydoc topics, split by a hash of their names."""
    from pydoc_data.topics import topics

    train: dict[str, str] = {}
    heldout: dict[str, str] = {}
    for name in sorted(topics):
        side = heldout if hashlib.sha256(name.encode()).digest()[0] < 26 else train
        side[name] = topics[name]
    return train, heldout


def paragraphs(texts: dict[str, str], lo: int = 200, hi: int = 1200) -> list[tuple[str, str]]:
    """``(topic, paragraph)`` pairs of ``lo..hi`` characters, blank-line separated."""
    out = []
    for name, text in texts.items():
        for para in text.split("\n\n"):
            para = para.strip("\n")
            if lo <= len(para) <= hi and len(para.split()) >= 20:
                out.append((name, para))
    return out


def write_suite_data(heldout: dict[str, str], folder: Path, seed: int) -> dict[str, str]:
    """The held-out texts and generation prompts of ``suites/lm.yaml``; returns their hashes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paras = paragraphs(heldout)
    chosen = sorted(rng.sample(range(len(paras)), min(40, len(paras))))
    texts = [
        {"id": f"{paras[i][0]}-{n}", "topic": paras[i][0], "text": paras[i][1]}
        for n, i in enumerate(chosen)
    ]
    prompts = []
    for n, (name, para) in enumerate(paras):
        words = para.split()
        if len(words) >= 16:
            prompts.append(
                {
                    "id": f"{name}-{n}",
                    "prompt": " ".join(words[:8]),
                    "reference": " ".join(words[8:16]),
                }
            )
    prompts = [prompts[i] for i in sorted(rng.sample(range(len(prompts)), min(20, len(prompts))))]
    hashes = {}
    for fname, rows in (("heldout.jsonl", texts), ("generate.jsonl", prompts)):
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (folder / fname).write_text(body, encoding="utf-8")
        hashes[fname] = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return hashes


def train_tokenizer(texts: list[str], vocab_size: int, block_size: int) -> Any:
    """A byte-level BPE wrapped as a transformers fast tokenizer."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    bpe.train_from_iterator(
        texts, vocab_size=vocab_size, min_frequency=2, special_tokens=[EOT], show_progress=False
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer,
        bos_token=EOT,
        eos_token=EOT,
        unk_token=EOT,
        model_max_length=block_size,
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def portable_tokenizer_config(folder: Path) -> None:
    """Name the tokenizer class that transformers 4 and 5 both load.

    transformers 5 writes ``"tokenizer_class": "TokenizersBackend"`` and a ``backend`` key,
    which transformers 4 does not know; ``PreTrainedTokenizerFast`` loads the same
    ``tokenizer.json`` in both.
    """
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.pop("backend", None)
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def stream(tok: Any, texts: list[str]) -> list[int]:
    """Documents joined into one token stream, each preceded by ``<|endoftext|>``."""
    eot = tok.convert_tokens_to_ids(EOT)
    out: list[int] = []
    for ids in tok(texts, add_special_tokens=False)["input_ids"]:
        out.append(eot)
        out.extend(ids)
    return out


def heldout_perplexity(path: Path, texts: list[str]) -> dict[str, Any]:
    """evalkit's corpus perplexity of ``texts`` under the checkpoint at ``path``."""
    from evalkit.adapters.hf import HFAdapter
    from evalkit.metrics.lm import score_texts

    score = score_texts(texts, HFAdapter(str(path), batch_size=16))
    return {k: round(v, 6) for k, v in score.details.items()} | {"signature": score.signature}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "tiny-gpt2")
    parser.add_argument("--suite-data", type=Path, default=ROOT / "suites" / "lm")
    parser.add_argument("--checkpoints", default="75,150,300,600")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    started = time.time()
    steps = sorted(int(s) for s in args.checkpoints.split(","))
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    train, heldout = split_topics()
    suite_hashes = write_suite_data(heldout, args.suite_data, args.seed)
    tok = train_tokenizer(list(train.values()), MODEL_CONFIG["vocab_size"], TRAIN["block_size"])
    data = torch.tensor(stream(tok, list(train.values())), dtype=torch.long)
    eot = tok.convert_tokens_to_ids(EOT)
    config = GPT2Config(**MODEL_CONFIG, bos_token_id=eot, eos_token_id=eot)
    model = GPT2LMHeadModel(config)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": TRAIN["weight_decay"]},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=TRAIN["lr"],
        betas=tuple(TRAIN["betas"]),
    )
    total = steps[-1]

    def lr_at(step: int) -> float:
        if step < TRAIN["warmup_steps"]:
            return float(TRAIN["lr"] * (step + 1) / TRAIN["warmup_steps"])
        frac = (step - TRAIN["warmup_steps"]) / max(1, total - TRAIN["warmup_steps"])
        low = TRAIN["min_lr_ratio"]
        return float(TRAIN["lr"] * (low + (1 - low) * 0.5 * (1 + math.cos(math.pi * frac))))

    gen = torch.Generator().manual_seed(args.seed)
    block, batch = TRAIN["block_size"], TRAIN["batch_size"]
    losses: list[float] = []
    records = []
    args.out.mkdir(parents=True, exist_ok=True)
    model.train()
    for step in range(1, total + 1):
        for group in opt.param_groups:
            group["lr"] = lr_at(step - 1)
        starts = torch.randint(0, len(data) - block, (batch,), generator=gen)
        x = torch.stack([data[s : s + block] for s in starts.tolist()])
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), TRAIN["grad_clip"])
        opt.step()
        losses.append(float(loss))
        if step % 25 == 0:
            print(f"step {step}: loss {sum(losses[-25:]) / 25:.4f}", file=sys.stderr, flush=True)
        if step in steps:
            folder = args.out / f"step-{step:04d}"
            model.eval()
            model.save_pretrained(folder, safe_serialization=True)
            tok.save_pretrained(folder)
            portable_tokenizer_config(folder)
            model.train()
            window = losses[-25:]
            ppl = heldout_perplexity(folder, list(heldout.values()))
            weights = folder / "model.safetensors"
            records.append(
                {
                    "step": step,
                    "path": str(folder.relative_to(ROOT)) if folder.is_relative_to(ROOT) else "",
                    "tokens_seen": step * batch * block,
                    "train_loss_last25": round(sum(window) / len(window), 6),
                    "heldout": ppl,
                    "model_bytes": weights.stat().st_size,
                    "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
                }
            )
            print(f"checkpoint {folder.name}: held-out {ppl}", file=sys.stderr, flush=True)

    tok_files = sorted(p.name for p in (args.out / f"step-{total:04d}").iterdir())
    record = {
        "description": "Tiny GPT-2 trained by scripts/train_tiny_lm.py on pydoc_data.topics.",
        "command": "python scripts/train_tiny_lm.py " + " ".join(argv or sys.argv[1:]),
        "seed": args.seed,
        "threads": args.threads,
        "model_config": MODEL_CONFIG | {"bos_token_id": eot, "eos_token_id": eot},
        "n_parameters": n_params,
        "training": TRAIN | {"steps": total, "checkpoints": steps},
        "tokenizer": {
            "kind": "tokenizers ByteLevelBPETokenizer (add_prefix_space=False, min_frequency=2)",
            "vocab_size": len(tok),
            "special_tokens": {"bos": EOT, "eos": EOT, "unk": EOT},
            "chat_template": CHAT_TEMPLATE,
        },
        "data": {
            "source": "pydoc_data.topics",
            "python": platform.python_version(),
            "split": "heldout when sha256(topic name)[0] < 26",
            "train_topics": len(train),
            "heldout_topics": sorted(heldout),
            "train_sha256": sha256_text(train),
            "heldout_sha256": sha256_text(heldout),
            "train_chars": sum(len(t) for t in train.values()),
            "heldout_chars": sum(len(t) for t in heldout.values()),
            "train_tokens": len(data),
            "suite_data_sha256": suite_hashes,
        },
        "heldout_metric": "evalkit perplexity over the whole held-out topics, windows of 128",
        "checkpoints": records,
        "files": tok_files,
        "versions": {pkg: metadata.version(pkg) for pkg in ("torch", "transformers", "tokenizers")},
        "platform": platform.platform(),
        "wall_seconds": round(time.time() - started, 1),
    }
    (args.out / "training.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    ppls = [r["heldout"]["perplexity"] for r in records]
    print(f"held-out perplexity by checkpoint: {ppls}", file=sys.stderr)
    if any(b >= a for a, b in itertools.pairwise(ppls)):
        print("warning: held-out perplexity did not decrease at every checkpoint", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
