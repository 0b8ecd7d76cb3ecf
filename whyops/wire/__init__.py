"""The WhyOps wire format, written once: what an event looks like and how records become events.

Pure: this package imports nothing from the rest of whyops. The SDK, the client, the proxy and
the server import it (docs/architecture.md).
"""
