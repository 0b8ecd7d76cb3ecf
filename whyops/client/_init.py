"""Agent registration: ``POST {analyse}/entities/init``, then ``{proxy}/v1/agents/init``.

Request planning and answer classification are pure; the two small senders (sync and
async ``httpx2``) are the only I/O. :class:`InitFlight` makes registration single-flight
across threads and event loops: whoever comes first sends, everyone else waits for that
answer instead of sending again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Mapping
from typing import Any, Literal, TypedDict

import attrs
import httpx2

from ._exceptions import AgentInitError
from ._settings import ClientSettings

INIT_TIMEOUT = httpx2.Timeout(10.0, connect=5.0)
# Answers that say the request itself is wrong: asking the fallback URL would not help.
FINAL_STATUSES = frozenset({400, 401, 403, 409, 422})


class AgentInfo(TypedDict):
    """What the server answers to a registration (WhyOps 0.1.1's ``AgentInfo``)."""

    agentId: str
    agentVersionId: str
    status: Literal["created", "existing"]
    versionHash: str


@attrs.frozen(slots=True)
class InitRequest:
    urls: tuple[str, ...]
    headers: Mapping[str, str]
    body: Mapping[str, Any]


@attrs.frozen(slots=True)
class Outcome:
    """One URL's answer: ``info`` on success, else a line for the error, and whether to go on."""

    info: AgentInfo | None = None
    problem: str = ""
    status: int | None = None
    try_next: bool = True


def plan_init(settings: ClientSettings, metadata: Mapping[str, Any]) -> InitRequest:
    return InitRequest(
        urls=(settings.analyse_url + "/entities/init", settings.proxy_url + "/v1/agents/init"),
        headers={"Authorization": f"Bearer {settings.api_key}", "User-Agent": "whyops-python"},
        body={"agentName": settings.agent_name, "metadata": dict(metadata)},
    )


def classify(url: str, status: int, body: object) -> Outcome:
    """Turn one HTTP answer into an :class:`Outcome` (pure)."""
    if 200 <= status < 300 and isinstance(body, dict) and body.get("agentId"):
        info = AgentInfo(
            agentId=str(body["agentId"]),
            agentVersionId=str(body.get("agentVersionId", "")),
            status=body.get("status", "existing"),
            versionHash=str(body.get("versionHash", "")),
        )
        return Outcome(info=info, status=status)
    detail = _error_text(body)
    problem = f"{url}: HTTP {status}" + (f" {detail}" if detail else "")
    if status in (401, 403):
        problem += " (check api_key / WHYOPS_API_KEY)"
    return Outcome(problem=problem, status=status, try_next=status not in FINAL_STATUSES)


def unreachable(url: str, exc: Exception) -> Outcome:
    return Outcome(problem=f"{url}: unreachable ({type(exc).__name__}: {exc})")


def conclude(outcomes: list[Outcome]) -> AgentInfo:
    """The first success, or an :class:`AgentInitError` listing every attempt."""
    for outcome in outcomes:
        if outcome.info is not None:
            return outcome.info
    attempts = tuple(o.problem for o in outcomes)
    status = next((o.status for o in reversed(outcomes) if o.status is not None), None)
    raise AgentInitError(
        "agent registration failed: " + "; ".join(attempts), status=status, attempts=attempts
    )


def send_sync(request: InitRequest) -> AgentInfo:
    outcomes: list[Outcome] = []
    with httpx2.Client(timeout=INIT_TIMEOUT) as http:
        for url in request.urls:
            try:
                answer = http.post(url, json=request.body, headers=dict(request.headers))
                outcome = classify(url, answer.status_code, _json(answer))
            except httpx2.HTTPError as exc:
                outcome = unreachable(url, exc)
            outcomes.append(outcome)
            if outcome.info is not None or not outcome.try_next:
                break
    return conclude(outcomes)


async def send_async(request: InitRequest) -> AgentInfo:
    outcomes: list[Outcome] = []
    async with httpx2.AsyncClient(timeout=INIT_TIMEOUT) as http:
        for url in request.urls:
            try:
                answer = await http.post(url, json=request.body, headers=dict(request.headers))
                outcome = classify(url, answer.status_code, _json(answer))
            except httpx2.HTTPError as exc:
                outcome = unreachable(url, exc)
            outcomes.append(outcome)
            if outcome.info is not None or not outcome.try_next:
                break
    return conclude(outcomes)


class InitFlight:
    """Single-flight registration shared by sync callers, async callers and the background.

    A success is kept for the life of the client; a failure is not, so a later explicit
    call tries again.
    """

    def __init__(self, request: InitRequest) -> None:
        self._request = request
        self._lock = threading.Lock()
        self._inflight: concurrent.futures.Future[AgentInfo] | None = None
        self.result: AgentInfo | None = None

    def run_sync(self) -> AgentInfo:
        future, owner = self._join()
        if owner:
            self._settle(future, lambda: send_sync(self._request))
        return future.result()

    async def run_async(self) -> AgentInfo:
        future, owner = self._join()
        if not owner:
            return await asyncio.wrap_future(future)
        try:
            info = await send_async(self._request)
        except BaseException as exc:
            self._finish(future, None, exc)
            raise
        self._finish(future, info, None)
        return info

    def _join(self) -> tuple[concurrent.futures.Future[AgentInfo], bool]:
        with self._lock:
            if self.result is not None:
                done: concurrent.futures.Future[AgentInfo] = concurrent.futures.Future()
                done.set_result(self.result)
                return done, False
            if self._inflight is not None:
                return self._inflight, False
            self._inflight = concurrent.futures.Future()
            return self._inflight, True

    def _settle(self, future: concurrent.futures.Future[AgentInfo], send: Any) -> None:
        try:
            info = send()
        except BaseException as exc:
            self._finish(future, None, exc)
            return
        self._finish(future, info, None)

    def _finish(
        self,
        future: concurrent.futures.Future[AgentInfo],
        info: AgentInfo | None,
        exc: BaseException | None,
    ) -> None:
        with self._lock:
            self._inflight = None
            if info is not None:
                self.result = info
        if info is not None:
            future.set_result(info)
        else:
            future.set_exception(exc or AgentInitError("no answer", status=None, attempts=()))


def _json(answer: httpx2.Response) -> object:
    try:
        return answer.json()
    except ValueError:
        return answer.text[:200]


def _error_text(body: object) -> str:
    if isinstance(body, dict):
        error = body.get("error", body.get("message", ""))
        return str(error)[:300] if error else ""
    return str(body)[:200] if body else ""
