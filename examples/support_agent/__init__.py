"""An example customer-support agent, traced with whyops (see agent.py)."""

from .agent import AGENT_NAME, SESSIONS, Session, SupportAgent, Turn, run_sessions

__all__ = ["AGENT_NAME", "SESSIONS", "Session", "SupportAgent", "Turn", "run_sessions"]
