"""The OpenAI-compatible gateway: ``create_app`` builds the ASGI app ``ponder serve`` runs."""

from ponder.server.app import create_app
from ponder.server.gateway import Gateway, ServerSettings

__all__ = ["Gateway", "ServerSettings", "create_app"]
