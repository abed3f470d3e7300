"""The OpenAI API the loopback server answers: completions (echo, logprobs) and chat."""

from __future__ import annotations

import threading
import time
from typing import Any

from evalkit.testing._server_http import RecordedRequest, _prompt_of
from evalkit.testing.backends import Backend, TokenScore

LOGPROBS_MODES = ("echo", "generated_only", "null", "mismatch")


class _BadRequest(Exception):
    pass


class _OpenAIAPI:
    """The API answers of :class:`~evalkit.testing.openai_server.OpenAIServer` (its base)."""

    backend: Backend
    model: str
    logprobs_mode: str
    refuse_zero_max_tokens: bool
    _lock: threading.Lock
    _records: list[RecordedRequest]

    def _params(self, body: dict[str, Any]) -> dict[str, Any]:
        max_tokens = body.get("max_tokens", 16)
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 0):
            raise _BadRequest("max_tokens must be a non-negative integer")
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        temperature = float(body.get("temperature", 1.0))
        return {
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stop": stop,
            "seed": body.get("seed"),
        }

    def _envelope(self, obj: str, choice: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            n = len(self._records)
        return {
            "id": f"{'chatcmpl' if obj.startswith('chat') else 'cmpl'}-{n}",
            "object": obj,
            "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, **choice}],
        }

    def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = _prompt_of({"messages": body.get("messages")})
        if prompt is None:
            raise _BadRequest("messages must hold a user message with string content")
        params = self._params(body)
        if params["max_tokens"] == 0:
            raise _BadRequest("max_tokens must be at least 1")
        text, reason = self.backend.generate(prompt, **params)
        return self._envelope(
            "chat.completion",
            {"message": {"role": "assistant", "content": text}, "finish_reason": reason},
        )

    def _completions(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            raise _BadRequest("prompt must be a string (lists of prompts are not served here)")
        params = self._params(body)
        if params["max_tokens"] == 0 and self.refuse_zero_max_tokens:
            raise _BadRequest("max_tokens must be at least 1")
        if params["max_tokens"] == 0:
            text, reason = "", "length"
        else:
            text, reason = self.backend.generate(prompt, **params)
        echo = bool(body.get("echo")) and self.logprobs_mode != "generated_only"
        logprobs = body.get("logprobs")
        choice: dict[str, Any] = {
            "text": prompt + text if echo else text,
            "finish_reason": reason,
            "logprobs": None,
        }
        if logprobs is not None:
            scored: list[TokenScore] = self.backend.score(prompt) if echo else []
            gen = self.backend.score_continuation(prompt, text) if text else []
            shift = len(prompt)
            tokens = scored + [TokenScore(t.text, t.offset + shift, t.logprob, t.top) for t in gen]
            values: list[float | None] = [t.logprob for t in tokens]
            if self.logprobs_mode == "null":
                values[: len(scored)] = [None] * len(scored)
            if self.logprobs_mode == "mismatch" and values:
                values = values[:-1]
            choice["logprobs"] = {
                "tokens": [t.text for t in tokens],
                "token_logprobs": values,
                "text_offset": [t.offset for t in tokens],
                "top_logprobs": [None if t.top is None else dict(t.top) for t in tokens],
            }
        return self._envelope("text_completion", choice)
