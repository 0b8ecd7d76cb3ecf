"""An example customer-support agent, traced with whyops.

The agent ships inside the package as :mod:`whyops.demo_agent` (so ``whyops demo`` runs from any
installation); read ``whyops/demo_agent/agent.py`` and ``tools.py`` for the code. This
example runs it against a server of your own::

    WHYOPS_BASE_URL=http://127.0.0.1:8787 WHYOPS_API_KEY=... python -m examples.support_agent
"""

from whyops.demo_agent import AGENT_NAME, SESSIONS, Session, SupportAgent, Turn, run_sessions

__all__ = ["AGENT_NAME", "SESSIONS", "Session", "SupportAgent", "Turn", "run_sessions"]
