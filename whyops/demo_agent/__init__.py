"""The support agent that ``whyops demo`` traces (shipped in the package, so the demo runs
from any installation; ``examples/support_agent/`` runs it against a server of your own).

Its parts read as an example of tracing an agent: ``agent.py`` (the agent, its OpenAI and
Anthropic calls through the whyops proxy) and ``tools.py`` (its ``@whyops.tool`` functions).
"""

from .agent import AGENT_NAME, SESSIONS, Session, SupportAgent, Turn, run_sessions

__all__ = ["AGENT_NAME", "SESSIONS", "Session", "SupportAgent", "Turn", "run_sessions"]
