"""Offline stand-in for the OpenAI and Anthropic APIs, deterministic and keyless.

Mount `create_app()` anywhere; with the server it lives at `/simulator`, so the OpenAI base URL
is `{server}/simulator/v1` and the Anthropic base URL is `{server}/simulator`.
"""

from .app import create_app

__all__ = ["create_app"]
