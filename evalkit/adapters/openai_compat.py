"""``openai:MODEL``: any OpenAI-compatible HTTP server (vLLM, TGI, llama.cpp, Ollama, OpenAI).

Options (``--model-arg KEY=VALUE``):

- ``base_url``: the API root, for example ``http://localhost:8000/v1``; required unless
  ``OPENAI_BASE_URL`` is set. A URL without a path gets ``/v1``.
- ``api_key_env``: the name of the environment variable that holds the API key (default
  ``OPENAI_API_KEY``; no key is sent when it is unset or empty). The key itself is never an
  option: it would end up in shell history and in run records. It is read from the environment
  for each request, is never stored on the adapter, and is redacted from every error and log
  message (a server that echoes the key back in an error body cannot leak it into a record:
  server text is redacted before it is cut to an excerpt, and every piece of 8 or more
  characters of the key is hidden, as is any echoed ``Authorization`` value).
- ``endpoint``: ``chat`` (``/chat/completions``, the default) or ``completions``
  (``/completions``) for generation. Log-likelihoods always use ``/completions``.
- ``prefix_text`` (none): text put before every scored text and context, such as the model's
  BOS or EOS token (``<|endoftext|>`` for GPT-2), so that the first real token is scored too,
  conditioned on it, as the ``hf:`` adapter does; the server must turn it into that token
  (vLLM does). Without it, the first token of each text is context only.
- ``max_concurrency`` (8): requests in flight at once.
- ``timeout_s`` (60): the most one attempt may take in all (name lookup, connect, sending,
  response headers and body; a server that sends one byte at a time is cut off too). A timed
  out attempt is a failed call: retried up to ``max_attempts``, then recorded as an error.
- ``max_attempts`` (5), ``backoff_base_s`` (0.5), ``backoff_max_s`` (30): see
  :mod:`evalkit.adapters._http` for what is retried and how.

Requests:

- ``generate``: ``max_tokens``, ``temperature``, ``stop`` and ``seed`` of the task are sent as
  those fields; ``outputs`` holds the server's ``finish_reason``.
- ``loglikelihood`` and ``loglikelihood_rolling``: ``/completions`` with ``echo: true``,
  ``logprobs: 1`` and ``max_tokens: 0`` (retried once with ``max_tokens: 1`` when the server
  refuses 0 with a 400, and from then on; the generated token is ignored), reading the
  log-probabilities of the echoed prompt tokens. A continuation's tokens are those from the
  token that starts exactly where the context ends (``text_offset``); when no token starts
  there, a token spans the boundary and the request fails with advice, rather than mixing
  context into the score. ``loglikelihood_rolling`` scores every token after the first
  (``nll = -sum``, ``n_tokens`` = their number; with ``prefix_text``, every token of the text)
  in one pass over the whole text: the
  ``max_length``/``stride`` options of windowed scoring do not apply to a server, which
  refuses texts longer than its context with an error recorded for that sample.

Self-check: a server that ignores ``echo`` (and so returns log-probabilities of generated
tokens only), returns null prompt log-probabilities, or returns token, log-probability and
offset lists of different lengths makes each such request fail with a message saying so;
no number is ever made up.

The response cache key is ``info()`` (kind, model, base URL, endpoint, prefix text) plus each
request's prompt, continuation, options and generation fields (``max_tokens``,
``temperature``, ``stop``, ``seed``), so sampled outputs are keyed by their seed. Retry and
concurrency settings change no output, so they are not part of it.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

from evalkit.adapters._http import JSONClient, RequestFailed, RetryPolicy, excerpt, redact
from evalkit.adapters.base import ModelAdapter
from evalkit.errors import AdapterError, ConfigError, did_you_mean
from evalkit.types import GenerateRequest, Generation

ENDPOINTS = ("chat", "completions")
_OPTIONS = (
    "base_url",
    "api_key_env",
    "endpoint",
    "prefix_text",
    "max_concurrency",
    "timeout_s",
    "max_attempts",
    "backoff_base_s",
    "backoff_max_s",
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: Logprob slack when comparing a token with the most likely one (JSON floats round-trip, but
#: servers may round).
_GREEDY_TOL = 1e-6


class LogprobsUnavailable(AdapterError):
    """The server's response cannot give the log-probabilities asked for.

    Raised per request and recorded as that request's error (``LogprobsUnavailable: ...``),
    so the runner counts it; it never ends a run by itself.
    """


@dataclass(frozen=True)
class PromptToken:
    """One echoed prompt token: its text, start offset, log-probability and top alternatives."""

    text: str
    offset: int
    logprob: float | None
    top: Mapping[str, float] | None


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def prompt_tokens(choice: Any, prompt: str) -> list[PromptToken]:
    """The prompt tokens of an ``echo: true, logprobs: N`` completion choice, self-checked.

    Raises:
        LogprobsUnavailable: The choice has no log-probabilities, the lists disagree in length,
            the prompt was not echoed, or the echoed prompt has null log-probabilities.

    >>> choice = {"text": "a b", "logprobs": {"tokens": ["a", " b"],
    ...     "token_logprobs": [None, -0.5], "text_offset": [0, 1], "top_logprobs": None}}
    >>> [(t.text, t.offset, t.logprob) for t in prompt_tokens(choice, "a b")]
    [('a', 0, None), (' b', 1, -0.5)]
    """
    lp = choice.get("logprobs") if isinstance(choice, dict) else None
    if not isinstance(lp, dict):
        raise LogprobsUnavailable(
            "the server returned no log-probabilities for /completions with logprobs=1; it "
            "cannot score log-likelihoods"
        )
    tokens, values, offsets = lp.get("tokens"), lp.get("token_logprobs"), lp.get("text_offset")
    if not (isinstance(tokens, list) and isinstance(values, list) and isinstance(offsets, list)):
        raise LogprobsUnavailable(
            "the server's logprobs lack tokens, token_logprobs or text_offset; it cannot score "
            "log-likelihoods through the completions API"
        )
    top = lp.get("top_logprobs")
    lengths = {len(tokens), len(values), len(offsets)} | ({len(top)} if top else set())
    if len(lengths) != 1:
        raise LogprobsUnavailable(
            f"the server's log-probabilities are inconsistent: {len(tokens)} tokens, "
            f"{len(values)} token_logprobs, {len(offsets)} text_offsets"
            + (f", {len(top)} top_logprobs" if top else "")
        )
    text = choice.get("text")
    if isinstance(text, str) and not text.startswith(prompt):
        raise LogprobsUnavailable(
            "the server did not echo the prompt (echo=true was ignored), so it returned "
            "log-probabilities of generated tokens only; prompt log-likelihoods need a server "
            "that echoes prompt log-probabilities (vLLM, OpenAI's legacy completions models)"
        )
    out: list[PromptToken] = []
    for i, (tok, value, off) in enumerate(zip(tokens, values, offsets, strict=True)):
        if not isinstance(off, int) or off >= len(prompt):
            break  # generated tokens (max_tokens=1) start at the prompt's end
        if out and off < out[-1].offset:
            raise LogprobsUnavailable(f"the server's text_offset decreases at token {i}")
        alt = top[i] if top else None
        out.append(
            PromptToken(
                text=tok if isinstance(tok, str) else "",
                offset=off,
                logprob=float(value) if _number(value) else None,
                top={str(k): float(v) for k, v in alt.items() if _number(v)}
                if isinstance(alt, dict)
                else None,
            )
        )
    if prompt and not out:
        raise LogprobsUnavailable(
            "the server returned no prompt tokens (echo=true was ignored?); it cannot score "
            "log-likelihoods"
        )
    missing = sum(t.logprob is None for t in out[1:])
    if missing:
        raise LogprobsUnavailable(
            f"the echoed prompt has null log-probabilities at {missing} of {len(out) - 1} "
            "scored positions: the server does not return prompt log-probabilities"
        )
    return out


def continuation_outputs(tokens: Sequence[PromptToken], boundary: int, end: int) -> dict[str, Any]:
    """``{"logprob", "is_greedy", "n_tokens"}`` of the tokens in ``[boundary, end)``.

    ``is_greedy`` is ``None`` when the server sent no top log-probabilities to decide it.

    Raises:
        LogprobsUnavailable: The continuation is empty, or no token starts at ``boundary``
            (one spans the context and the continuation).

    >>> toks = [PromptToken("a", 0, None, None), PromptToken(" b", 1, -0.5, {" b": -0.5}),
    ...         PromptToken(" c", 3, -2.0, {" x": -0.1, " c": -2.0})]
    >>> continuation_outputs(toks, 1, 5)
    {'logprob': -2.5, 'is_greedy': False, 'n_tokens': 2}
    """
    if boundary >= end:
        raise LogprobsUnavailable("the continuation is empty; give a non-empty continuation")
    start = next((i for i, t in enumerate(tokens) if t.offset >= boundary), len(tokens))
    if start == len(tokens) or tokens[start].offset != boundary:
        prev = tokens[start - 1]
        raise LogprobsUnavailable(
            f"token {prev.text!r} spans the end of the context and the start of the "
            "continuation, so the continuation's log-likelihood is not defined by whole tokens; "
            "end the context before a word boundary and start the continuation with the space "
            '(context "Answer:", continuation " yes")'
        )
    if start == 0:
        raise LogprobsUnavailable(
            "the context is empty, so the continuation's first token has no log-probability; "
            "give a non-empty context"
        )
    cont = tokens[start:]
    logprob = sum(t.logprob for t in cont if t.logprob is not None)
    greedy: bool | None = True
    for t in cont:
        if not t.top or t.logprob is None:
            greedy = None
            break
        if t.logprob < max(t.top.values()) - _GREEDY_TOL:
            greedy = False
    return {"logprob": logprob, "is_greedy": greedy, "n_tokens": len(cont)}


def rolling_outputs(tokens: Sequence[PromptToken]) -> dict[str, Any]:
    """``{"nll", "n_tokens"}`` over every token after the first.

    >>> rolling_outputs([PromptToken("a", 0, None, None), PromptToken(" b", 1, -0.5, None)])
    {'nll': 0.5, 'n_tokens': 1}
    """
    scored = [t.logprob for t in tokens[1:] if t.logprob is not None]
    return {"nll": -sum(scored) if scored else 0.0, "n_tokens": len(scored)}


def _int_option(spec: str, name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"{spec}: option {name} must be an integer >= {low}, got {value!r}.")
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(
            f"{spec}: option {name} must be an integer >= {low}, got {value!r}."
        ) from None
    if number < low:
        raise ConfigError(f"{spec}: option {name} must be an integer >= {low}, got {number}.")
    return number


def _float_option(spec: str, name: str, value: Any, *, positive: bool) -> float:
    what = "a number > 0" if positive else "a number >= 0"
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{spec}: option {name} must be {what}, got {value!r}.") from None
    if (
        isinstance(value, bool)
        or not math.isfinite(number)
        or number < 0
        or (positive and number == 0)
    ):
        raise ConfigError(f"{spec}: option {name} must be {what}, got {value!r}.")
    return number


def _base_url(spec: str, value: Any) -> str:
    raw = value if value is not None else os.environ.get("OPENAI_BASE_URL")
    if not raw or not isinstance(raw, str):
        raise ConfigError(
            f"{spec}: no server to call: pass --model-arg base_url=http://HOST:PORT/v1 "
            "or set OPENAI_BASE_URL."
        )
    url = urllib.parse.urlsplit(raw.strip())
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(
            f"{spec}: base_url must be an http:// or https:// URL such as http://localhost:8000/v1."
        )
    if url.username is not None or url.password is not None:
        # Never echo the URL: its user-info part is a credential.
        raise ConfigError(
            f"{spec}: base_url must not hold credentials; put the API key in an environment "
            "variable and name it with api_key_env."
        )
    if url.query or url.fragment:
        raise ConfigError(f"{spec}: base_url must not have a query or fragment.")
    path = url.path.rstrip("/") or "/v1"
    return f"{url.scheme}://{url.netloc}{path}"


class OpenAICompatAdapter(ModelAdapter):
    """A model behind an OpenAI-compatible HTTP API (see the module docstring for options).

    >>> a = OpenAICompatAdapter("my-model", base_url="http://127.0.0.1:8000")
    >>> a.info()["base_url"], a.info()["endpoint"]
    ('http://127.0.0.1:8000/v1', 'chat')
    """

    name: ClassVar[str] = "openai"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"generate", "loglikelihood", "loglikelihood_rolling"}
    )

    def __init__(
        self,
        target: str,
        *,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        endpoint: str = "chat",
        prefix_text: str = "",
        max_concurrency: int = 8,
        timeout_s: float = 60.0,
        max_attempts: int = 5,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        **unknown: Any,
    ) -> None:
        spec = f"openai:{target}"
        if unknown:
            if "api_key" in unknown:
                raise ConfigError(
                    f"{spec}: the API key is never an option (it would end up in shell history "
                    "and run records); put it in an environment variable and name that with "
                    "api_key_env (default OPENAI_API_KEY)."
                )
            bad = sorted(unknown)
            raise ConfigError(
                f"{spec}: unknown option(s) {', '.join(bad)}."
                f"{did_you_mean(bad[0], _OPTIONS)} Options: {', '.join(_OPTIONS)}."
            )
        if not target.strip():
            raise ConfigError("openai: name the model after 'openai:', e.g. openai:gpt-4o-mini.")
        if not isinstance(api_key_env, str) or not _ENV_NAME.match(api_key_env):
            # Do not echo the value: a user may have put the key itself here.
            raise ConfigError(
                f"{spec}: api_key_env must be the NAME of an environment variable (letters, "
                "digits, underscores, e.g. OPENAI_API_KEY), not the key itself."
            )
        if endpoint not in ENDPOINTS:
            raise ConfigError(
                f"{spec}: option endpoint must be 'chat' or 'completions', got {endpoint!r}."
                f"{did_you_mean(str(endpoint), ENDPOINTS)}"
            )
        if not isinstance(prefix_text, str):
            raise ConfigError(f"{spec}: option prefix_text must be a string, e.g. '<|endoftext|>'.")
        self.model = target
        self.prefix_text = prefix_text
        self.base_url = _base_url(spec, base_url)
        self.api_key_env = api_key_env
        self.endpoint = endpoint
        self.max_concurrency = _int_option(spec, "max_concurrency", max_concurrency, 1)
        self.policy = RetryPolicy(
            timeout_s=_float_option(spec, "timeout_s", timeout_s, positive=True),
            max_attempts=_int_option(spec, "max_attempts", max_attempts, 1),
            backoff_base_s=_float_option(spec, "backoff_base_s", backoff_base_s, positive=False),
            backoff_max_s=_float_option(spec, "backoff_max_s", backoff_max_s, positive=False),
        )
        self.client = JSONClient(
            self.base_url, headers=self._headers, secrets=self._secrets, policy=self.policy
        )
        #: ``max_tokens`` of echo requests: 0, or 1 once the server refused 0.
        self.echo_max_tokens = 0
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # -- secrets: read from the environment per request, never kept on the object ------------

    def _secrets(self) -> list[str]:
        raw = os.environ.get(self.api_key_env, "")
        return [s for s in {raw, raw.strip()} if s]

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env, "").strip()
        if not key:
            return {}
        if not all(33 <= ord(c) < 127 for c in key):
            raise RequestFailed(
                f"the API key in ${self.api_key_env} holds spaces, line breaks or non-ASCII "
                "characters; check how the variable is set"
            )
        return {"Authorization": f"Bearer {key}"}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_pool"] = None
        state["_pool_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pool_lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "model": self.model,
            "base_url": self.base_url,
            "endpoint": self.endpoint,
            "prefix_text": self.prefix_text,
        }

    def close(self) -> None:
        """Stop the worker threads (a later call starts new ones)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        self.client.close()

    def abort(self) -> None:
        """Abandon the requests in flight now, from any thread (for Ctrl-C).

        Each request in flight or still queued ends at once as a failed call ("aborted"),
        so a ``generate`` call blocked in another thread returns promptly; nothing waits for a
        server or a backoff. The adapter refuses further calls (build a new one to go on).
        """
        self.client.abort()
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            # Queued requests still run, each failing at once as aborted: cancelling them
            # would raise in the thread blocked in generate instead of returning failures.
            pool.shutdown(wait=False)

    def _map(
        self, fn: Callable[[GenerateRequest], Generation], requests: Sequence[GenerateRequest]
    ) -> list[Generation]:
        """``fn`` over the requests, at most ``max_concurrency`` at once, in order."""
        if not requests:
            return []
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.max_concurrency, thread_name_prefix="evalkit-openai"
                )
            pool = self._pool

        def guarded(r: GenerateRequest) -> Generation:
            try:
                return fn(r)
            except RequestFailed as exc:
                return Generation(text=None, error=redact(str(exc), self._secrets()))
            except LogprobsUnavailable as exc:
                message = f"LogprobsUnavailable: {exc}"
                return Generation(text=None, error=redact(message, self._secrets()))
            except Exception as exc:  # failures are data; never let one batch item sink all
                message = f"{type(exc).__name__}: {exc}"
                return Generation(text=None, error=redact(message, self._secrets()))

        return list(pool.map(guarded, requests))

    # -- generation -------------------------------------------------------------------------

    def _generation_body(self, r: GenerateRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "temperature": r.temperature}
        if self.endpoint == "chat":
            body["messages"] = [{"role": "user", "content": r.prompt}]
        else:
            body["prompt"] = r.prompt
        if r.max_tokens is not None:
            body["max_tokens"] = r.max_tokens
        if r.stop:
            body["stop"] = list(r.stop)
        if r.seed is not None:
            body["seed"] = r.seed
        return body

    def _generate_one(self, r: GenerateRequest) -> Generation:
        path = "/chat/completions" if self.endpoint == "chat" else "/completions"
        doc = self.client.post(path, self._generation_body(r))
        choice = _first_choice(doc, path, self._secrets())
        if self.endpoint == "chat":
            message = choice.get("message")
            text = message.get("content") if isinstance(message, dict) else None
            where = "choices[0].message.content"
        else:
            text = choice.get("text")
            where = "choices[0].text"
        if not isinstance(text, str):
            raise RequestFailed(f"POST {path}: the response has no text in {where}")
        reason = choice.get("finish_reason")
        return Generation(text=text, outputs={"finish_reason": reason} if reason else {})

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """Completions of each prompt, ``max_concurrency`` at a time; failures are data."""
        return self._map(self._generate_one, requests)

    # -- log-likelihoods --------------------------------------------------------------------

    def _score(self, prompt: str) -> list[PromptToken]:
        def body(max_tokens: int) -> dict[str, Any]:
            return {
                "model": self.model,
                "prompt": prompt,
                "max_tokens": max_tokens,
                "echo": True,
                "logprobs": 1,
                "temperature": 0.0,
            }

        max_tokens = self.echo_max_tokens
        try:
            doc = self.client.post("/completions", body(max_tokens))
        except RequestFailed as exc:
            if max_tokens != 0 or exc.status != 400:
                raise
            # Some servers (vLLM) refuse max_tokens=0; one generated token is ignored below.
            doc = self.client.post("/completions", body(1))
            self.echo_max_tokens = 1
        return prompt_tokens(_first_choice(doc, "/completions", self._secrets()), prompt)

    def _loglikelihood_one(self, r: GenerateRequest) -> Generation:
        if r.continuation is None:
            raise LogprobsUnavailable("a loglikelihood request needs a continuation")
        context = self.prefix_text + r.prompt
        tokens = self._score(context + r.continuation)
        outputs = continuation_outputs(tokens, len(context), len(context + r.continuation))
        return Generation(text=None, outputs=outputs)

    def _rolling_one(self, r: GenerateRequest) -> Generation:
        if not self.prefix_text:
            return Generation(text=None, outputs=rolling_outputs(self._score(r.prompt)))
        if not r.prompt:
            return Generation(text=None, outputs={"nll": 0.0, "n_tokens": 0})
        start, text = len(self.prefix_text), self.prefix_text + r.prompt
        scored = continuation_outputs(self._score(text), start, len(text))
        return Generation(
            text=None, outputs={"nll": -scored["logprob"], "n_tokens": scored["n_tokens"]}
        )

    def loglikelihood(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """Log-probability of each continuation given its prompt, from echoed prompt tokens."""
        return self._map(self._loglikelihood_one, requests)

    def loglikelihood_rolling(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """Summed negative log-likelihood of each whole text, from echoed prompt tokens."""
        return self._map(self._rolling_one, requests)


def _first_choice(doc: Any, path: str, secrets: Sequence[str]) -> dict[str, Any]:
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict | str):
        err = doc["error"]
        message = err.get("message", err) if isinstance(err, dict) else err
        text = message if isinstance(message, str) else json.dumps(message, default=str)
        raise RequestFailed(
            f"POST {path}: the server answered with an error: {excerpt(text, secrets)}"
        )
    choices = doc.get("choices") if isinstance(doc, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise RequestFailed(f"POST {path}: the response has no choices (got {keys})")
    choice: dict[str, Any] = choices[0]
    return choice
