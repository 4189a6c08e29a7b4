"""ponder: a reasoning-aware LLM gateway, chat UI and benchmark."""

__version__ = "0.1.0"
