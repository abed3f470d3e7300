"""``python -m evalkit.testing``: serve the loopback OpenAI-compatible server until killed."""

from evalkit.testing.openai_server import main

main()
