"""OpenAI ``POST /v1/embeddings``: ``embedding_request`` / ``embedding_response``."""

from __future__ import annotations

from typing import Any

from whyops.server.proxy.events import Draft, compact
from whyops.server.proxy.messages import pick
from whyops.server.proxy.sse import Frame
from whyops.server.proxy.usage import openai_usage

JSON = dict[str, Any]

PARAMS = {"dimensions": "dimensions", "encodingFormat": "encoding_format", "user": "user"}


def dimensions(embedding: Any) -> int | None:
    """Vector length of a float list or a base64 string of little-endian float32."""
    if isinstance(embedding, list):
        return len(embedding)
    if isinstance(embedding, str):
        padding = len(embedding) - len(embedding.rstrip("="))
        return (len(embedding) * 3 // 4 - padding) // 4
    return None


class Embeddings:
    provider = "openai"
    span_name = "openai.embeddings"
    span_kind = "embedding"
    upstream_path = "/embeddings"

    def answer_refs(self, body: JSON) -> list[str]:
        return []

    def find_trace_id(self, body: JSON) -> str | None:
        return None

    def strip_signatures(self, body: JSON) -> bool:
        return False

    def upstream_body(self, body: JSON) -> JSON:
        return body

    def request_draft(self, body: JSON) -> Draft:
        metadata = compact(
            {"model": body.get("model"), "provider": "openai", "params": pick(body, PARAMS) or None}
        )
        return Draft("embedding_request", {"input": body.get("input")}, metadata)

    def response_drafts(self, body: JSON, answer: Any, latency_ms: int) -> list[Draft]:
        data = answer.get("data") if isinstance(answer.get("data"), list) else []
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
                "provider": "openai",
                "usage": openai_usage(answer.get("usage")),
                "latencyMs": latency_ms,
                "status": "ok",
            }
        )
        return [Draft("embedding_response", content, metadata)]

    def inject_signature(self, body: JSON, answer: Any, signature_text: str) -> bool:
        return False

    def stream_state(self, body: JSON, signature_text: str | None) -> NoStream:
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
