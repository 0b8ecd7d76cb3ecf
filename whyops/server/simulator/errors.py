"""Provider-shaped errors: the bodies, statuses and headers the real APIs answer with."""

from __future__ import annotations

from typing import Any

OPENAI = "openai"
ANTHROPIC = "anthropic"

_OPENAI_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    409: ("invalid_request_error", "conflict"),
    413: ("invalid_request_error", "request_too_large"),
    415: ("invalid_request_error", None),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    503: ("server_error", "server_overloaded"),
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    415: "invalid_request_error",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_DEFAULT_MESSAGES = {
    400: "Invalid request (simulated).",
    401: "Invalid authentication credentials (simulated).",
    403: "You are not allowed to use this resource (simulated).",
    404: "The requested resource does not exist (simulated).",
    408: "Request timed out (simulated).",
    409: "Conflict (simulated).",
    413: "Request too large (simulated).",
    422: "Unprocessable request (simulated).",
    429: "Rate limit reached for requests (simulated). Please retry shortly.",
    500: "The server had an error while processing your request (simulated).",
    502: "Bad gateway (simulated).",
    503: "The server is overloaded or not ready yet (simulated).",
    504: "Gateway timeout (simulated).",
    529: "Overloaded",
}
RETRY_AFTER_MS = "50"


class ApiError(Exception):
    """An error answer; `param` names the offending field for invalid requests."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        self.status = status
        self.message = message or _DEFAULT_MESSAGES.get(status, f"Simulated error {status}.")
        self.param = param
        self.code = code
        super().__init__(self.message)


def missing_field(provider: str, field: str) -> ApiError:
    if provider == ANTHROPIC:
        return ApiError(400, f"{field}: Field required", param=field)
    return ApiError(
        400,
        f"Missing required parameter: '{field}'.",
        param=field,
        code="missing_required_parameter",
    )


def invalid_field(provider: str, field: str, problem: str) -> ApiError:
    if provider == ANTHROPIC:
        return ApiError(400, f"{field}: {problem}", param=field)
    return ApiError(
        400, f"Invalid value for '{field}': {problem}", param=field, code="invalid_value"
    )


def unknown_model(provider: str, model: str) -> ApiError:
    if provider == ANTHROPIC:
        return ApiError(404, f"model: {model}")
    return ApiError(404, f"The model `{model}` does not exist or you do not have access to it.")


def missing_key(provider: str) -> ApiError:
    if provider == ANTHROPIC:
        return ApiError(401, "x-api-key header is required")
    return ApiError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        code="missing_api_key",
    )


def openai_error_body(error: ApiError) -> dict[str, Any]:
    kind, code = _OPENAI_TYPES.get(error.status, ("server_error", None))
    return {
        "error": {
            "message": error.message,
            "type": kind,
            "param": error.param,
            "code": error.code or code,
        }
    }


def anthropic_error_body(error: ApiError, request_id: str) -> dict[str, Any]:
    kind = _ANTHROPIC_TYPES.get(error.status, "api_error")
    body: dict[str, Any] = {"type": kind, "message": error.message}
    if error.code:
        body["details"] = {"error_code": error.code}  # as thread errors carry theirs
    return {"type": "error", "error": body, "request_id": request_id}


def error_body(provider: str, error: ApiError, request_id: str) -> dict[str, Any]:
    if provider == ANTHROPIC:
        return anthropic_error_body(error, request_id)
    return openai_error_body(error)


def error_headers(provider: str, error: ApiError, request_id: str) -> dict[str, str]:
    header = "request-id" if provider == ANTHROPIC else "x-request-id"
    headers = {header: request_id}
    if error.status == 429:
        headers.update({"retry-after": "1", "retry-after-ms": RETRY_AFTER_MS})
    return headers


def openai_stream_error(
    message: str = "The server had an error while streaming (simulated).",
) -> dict[str, Any]:
    """The `data:` payload OpenAI sends when a chat stream fails after it started."""
    return openai_error_body(ApiError(500, message))


def anthropic_stream_error(
    message: str = "Overloaded", kind: str = "overloaded_error"
) -> dict[str, Any]:
    """The payload of Anthropic's `event: error` frame when a stream fails after it started."""
    return {"type": "error", "error": {"type": kind, "message": message}}
