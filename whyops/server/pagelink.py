"""Links to the web page that open it signed in: printed by ``whyops serve`` and ``whyops demo``."""

from __future__ import annotations

from urllib.parse import quote


def page_link(base_url: str, api_key: str, route: str = "") -> str:
    """An address of the web page that opens in any browser: the key travels in the fragment
    (``#key=K`` or ``#/route&key=K``), which the browser never sends to the server."""
    key = quote(api_key, safe="")
    root = base_url.rstrip("/")
    return f"{root}/#{route}&key={key}" if route else f"{root}/#key={key}"
