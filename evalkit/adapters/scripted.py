"""``scripted:MODE``: a deterministic offline model for tests and demos.

Modes: ``echo`` (the prompt), ``upper``, ``reverse`` (words reversed), or a path to a JSON file
``{"responses": {prompt: text}, "errors": {prompt: message}, "default": "echo"}``. A response
may be a list of texts: sample ``k`` of a request for ``n`` samples gets item ``k`` modulo
the list's length (a deterministic stand-in for sampling). Options
``fail_ids`` (a comma-separated list or a list of sample ids) make those calls fail.
Nothing is random, so runs and cache keys are reproducible.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from evalkit.adapters.base import ModelAdapter
from evalkit.errors import ConfigError
from evalkit.types import GenerateRequest, Generation

_MODES: dict[str, Callable[[str], str]] = {
    "echo": lambda p: p,
    "upper": lambda p: p.upper(),
    "reverse": lambda p: " ".join(reversed(p.split())),
}


class ScriptedAdapter(ModelAdapter):
    """A scripted model: fixed responses, fixed failures, no randomness.

    >>> a = ScriptedAdapter("upper", fail_ids="2")
    >>> [g.text or g.error for g in a.generate([GenerateRequest("hi", sample_id="1"),
    ...                                          GenerateRequest("yo", sample_id="2")])]
    ['HI', 'scripted failure for sample 2']
    """

    name: ClassVar[str] = "scripted"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"generate", "loglikelihood", "loglikelihood_rolling"}
    )

    def __init__(
        self,
        target: str = "echo",
        *,
        responses: dict[str, str | list[str]] | None = None,
        errors: dict[str, str] | None = None,
        fail_ids: str | int | Sequence[str | int] = (),
    ) -> None:
        self.target = target
        self.responses = dict(responses or {})
        self.errors = dict(errors or {})
        default = target
        self.script_sha256: str | None = None
        if target not in _MODES:
            path = Path(target)
            if not path.is_file():
                raise ConfigError(
                    f"scripted:{target}: not a mode ({', '.join(_MODES)}) nor a JSON script file."
                )
            raw = path.read_bytes()
            # The script's bytes are part of info(), so the response cache and --resume see
            # an edited script as a different model.
            self.script_sha256 = hashlib.sha256(raw).hexdigest()
            try:
                script = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise ConfigError(f"{path}: not a JSON script file ({exc}).") from exc
            self.responses.update(script.get("responses", {}))
            self.errors.update(script.get("errors", {}))
            default = script.get("default", "echo")
            if default not in _MODES:
                raise ConfigError(f"{path}: default must be one of {', '.join(_MODES)}.")
        self.default = default
        # ``--model-arg fail_ids=2`` arrives as the JSON number 2: ids are compared as text.
        if isinstance(fail_ids, (str, int)):
            ids = str(fail_ids).split(",")
        else:
            ids = [str(i) for i in fail_ids]
        self.fail_ids = frozenset(i.strip() for i in ids if i.strip())

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        out = []
        for r in requests:
            if r.sample_id in self.fail_ids:
                out.append(
                    Generation(text=None, error=f"scripted failure for sample {r.sample_id}")
                )
            elif r.prompt in self.errors:
                out.append(Generation(text=None, error=self.errors[r.prompt]))
            elif r.prompt in self.responses:
                text = self.responses[r.prompt]
                if isinstance(text, list):
                    text = text[r.sample_index % len(text)]
                out.append(Generation(text=text))
            else:
                out.append(Generation(text=_MODES[self.default](r.prompt)))
        return out

    def _failure(self, r: GenerateRequest) -> Generation | None:
        if r.sample_id in self.fail_ids:
            return Generation(text=None, error=f"scripted failure for sample {r.sample_id}")
        if r.prompt in self.errors:
            return Generation(text=None, error=self.errors[r.prompt])
        return None

    def loglikelihood(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """A fixed rule: each continuation word costs 0.5 nats, 0.25 if it occurs in the prompt.

        >>> ScriptedAdapter().loglikelihood([GenerateRequest("a b", continuation="b c")])[0].outputs
        {'logprob': -0.75, 'is_greedy': False, 'n_tokens': 2}
        """
        out = []
        for r in requests:
            failed = self._failure(r)
            if failed is not None:
                out.append(failed)
                continue
            seen = set(r.prompt.split())
            words = (r.continuation or "").split()
            logprob = -sum(0.25 if w in seen else 0.5 for w in words)
            greedy = bool(words) and all(w in seen for w in words)
            out.append(
                Generation(
                    text=None,
                    outputs={"logprob": logprob, "is_greedy": greedy, "n_tokens": len(words)},
                )
            )
        return out

    def loglikelihood_rolling(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """A fixed rule: each whitespace token of the text costs ``1 + len(token) / 10`` nats.

        >>> ScriptedAdapter().loglikelihood_rolling([GenerateRequest("ab c")])[0].outputs
        {'nll': 2.3, 'n_tokens': 2}
        """
        out = []
        for r in requests:
            failed = self._failure(r)
            if failed is not None:
                out.append(failed)
                continue
            words = r.prompt.split()
            nll = round(sum(1 + len(w) / 10 for w in words), 12)
            out.append(Generation(text=None, outputs={"nll": nll, "n_tokens": len(words)}))
        return out

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "target": self.target,
            "default": self.default,
            "n_responses": len(self.responses),
            "fail_ids": sorted(self.fail_ids),
            **({"script_sha256": self.script_sha256} if self.script_sha256 else {}),
        }
