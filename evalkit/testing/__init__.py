"""Test doubles that are real parts: a loopback OpenAI-compatible server and its backends.

Importable by tests and benchmarks; nothing here is imported by ``import evalkit``.
"""

from __future__ import annotations

from evalkit.testing.backends import HFBackend, ScriptedBackend, TokenScore
from evalkit.testing.openai_server import Fault, OpenAIServer, RecordedRequest

__all__ = ["Fault", "HFBackend", "OpenAIServer", "RecordedRequest", "ScriptedBackend", "TokenScore"]
