"""OpenAI ``POST /v1/embeddings``: its spec (``embedding_request`` / ``embedding_response``)."""

from __future__ import annotations

from typing import Any

from whyops.server.proxy.events import Draft, compact
from whyops.server.proxy.messages import as_list, pick
from whyops.server.proxy.providers import OPENAI
from whyops.server.proxy.spec import JSON, RouteSpec
from whyops.server.proxy.sse import Frame
from whyops.wire.events import EventType
from whyops.wire.usage import openai_usage

PARAMS = {"dimensions": "dimensions", "encodingFormat": "encoding_format", "user": "user"}


def dimensions(embedding: Any) -> int | None:
    """Vector length of a float list or a base64 string of little-endian float32."""
    if isinstance(embedding, list):
        return len(embedding)
    if isinstance(embedding, str):
        padding = len(embedding) - len(embedding.rstrip("="))
        return (len(embedding) * 3 // 4 - padding) // 4
    return None


def request_draft(spec: RouteSpec, body: JSON) -> Draft:
    params = pick(body, spec.params) or None
    metadata = compact(
        {"model": body.get("model"), "provider": spec.provider.name, "params": params}
    )
    return Draft(EventType.EMBEDDING_REQUEST, {"input": body.get("input")}, metadata)


def shape_answer(body: JSON, answer: JSON, latency_ms: int) -> list[Draft]:
    data = as_list(answer.get("data"))
    first = data[0].get("embedding") if data and isinstance(data[0], dict) else None
    content = {
        "object": answer.get("object", "list"),
        "embeddingCount": len(data),
        "firstEmbeddingDimensions": dimensions(first),
        "encodingFormat": "base64" if isinstance(first, str) else "float",
    }
    metadata = compact(
        {
            "model": answer.get("model") or body.get("model") or "unknown",
            "provider": EMBEDDINGS.provider.name,
            "usage": EMBEDDINGS.usage_wire(answer.get("usage")),
            "latencyMs": latency_ms,
            "status": "ok",
        }
    )
    return [Draft(EventType.EMBEDDING_RESPONSE, content, metadata)]


def open_stream(body: JSON, signature_text: str | None) -> NoStream:
    return NoStream()


class NoStream:
    """Embeddings never stream; should an upstream do so, the bytes pass untouched."""

    rewrites = False

    def record_frame(self, frame: Frame) -> bytes:
        return frame.raw

    def drain(self) -> bytes:
        return b""

    def finish(self, latency_ms: int, aborted: str | None) -> list[Draft]:
        return []


EMBEDDINGS = RouteSpec(
    path="/v1/embeddings",
    provider=OPENAI,
    span_name="openai.embeddings",
    span_kind="embedding",
    upstream_path="/embeddings",
    usage=openai_usage,
    shape_answer=shape_answer,
    open_stream=open_stream,
    params=PARAMS,
    describe_request=request_draft,
)
