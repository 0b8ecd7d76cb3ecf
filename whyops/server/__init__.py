"""``whyops serve``: a WhyOps-compatible collector, LLM proxy and read API on SQLite.

Lives in the ``server`` extra; the SDK never imports this package.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("whyops.server needs the server extra: pip install 'whyops[server]'") from exc
