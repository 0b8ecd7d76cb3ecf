"""Query parameters with WhyOps-style field errors."""

from __future__ import annotations

from datetime import datetime, timezone

from starlette.requests import Request
from starlette.responses import JSONResponse

from whyops.server.timeutil import parse_timestamp
from whyops.server.validation import Issues

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Query:
    """Typed access to ``request.query_params``; every bad value becomes an issue."""

    def __init__(self, request: Request) -> None:
        self._params = request.query_params
        self.issues = Issues()

    def text(self, *names: str) -> str | None:
        for name in names:
            value = self._params.get(name)
            if value:
                return value
        return None

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self._params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            self.issues.add(name, "Expected integer", "invalid_type")
            return default
        if not low <= value <= high:
            self.issues.add(name, f"Must be between {low} and {high}", "out_of_range")
            return default
        return value

    def boolean(self, name: str) -> bool | None:
        raw = self._params.get(name)
        if raw is None or raw == "":
            return None
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        self.issues.add(name, "Expected true or false", "invalid_type")
        return None

    def time_us(self, name: str) -> int | None:
        """An ISO 8601 time (``Z``, an offset, or a bare date meaning UTC midnight)."""
        raw = self._params.get(name)
        if raw is None or raw == "":
            return None
        parsed = parse_timestamp(raw)
        if parsed is not None:
            return parsed[1]
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            self.issues.add(name, "Invalid datetime", "invalid_string")
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        delta = moment - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds

    def includes(self, name: str) -> set[str]:
        raw = self._params.get(name) or ""
        return {part.strip() for part in raw.split(",") if part.strip()}

    def error(self) -> JSONResponse | None:
        if not self.issues:
            return None
        return JSONResponse({"error": "Validation failed", "details": self.issues.items}, 400)
