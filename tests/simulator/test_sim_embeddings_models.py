"""Embeddings (float and the SDK's default base64) and model listings for both SDKs."""

from __future__ import annotations

import math

import anthropic
import openai
import pytest


def _cosine(a, b):
    return sum(x * y for x, y in zip(a, b))


@pytest.fixture
def loose_oai(simulator):
    """The SDK's default base64 path does not pass its own strict validation."""
    with openai.OpenAI(base_url=simulator.openai_base_url, api_key="k", max_retries=0) as client:
        yield client


def test_base64_default_decodes_to_the_float_answer(loose_oai, oai):
    texts = ["where is my order", "where is my parcel order", "weather in Paris"]
    default = loose_oai.embeddings.create(model="text-embedding-3-small", input=texts)
    floats = oai.embeddings.create(
        model="text-embedding-3-small", input=texts, encoding_format="float"
    )
    assert [d.embedding for d in default.data] == [d.embedding for d in floats.data]
    assert [d.index for d in floats.data] == [0, 1, 2]
    vectors = [d.embedding for d in floats.data]
    assert all(len(v) == 1536 for v in vectors)
    assert all(math.isclose(_cosine(v, v), 1.0, rel_tol=1e-5) for v in vectors)
    assert _cosine(vectors[0], vectors[1]) > 0.5 > _cosine(vectors[0], vectors[2])
    assert floats.usage.prompt_tokens == floats.usage.total_tokens > 0


def test_dimensions_tokens_and_determinism(oai):
    first = oai.embeddings.create(
        model="text-embedding-3-large", input=[[1, 2, 3]], dimensions=64, encoding_format="float"
    )
    again = oai.embeddings.create(
        model="text-embedding-3-large", input=[[1, 2, 3]], dimensions=64, encoding_format="float"
    )
    assert len(first.data[0].embedding) == 64
    assert first.usage.prompt_tokens == 3
    assert first.data[0].embedding == again.data[0].embedding
    large = oai.embeddings.create(
        model="text-embedding-3-large", input="x", encoding_format="float"
    )
    assert len(large.data[0].embedding) == 3072


def test_openai_models(oai):
    ids = [model.id for model in oai.models.list()]
    assert {"gpt-4o", "o4-mini", "text-embedding-3-small"} <= set(ids)
    assert oai.models.retrieve("gpt-4o").owned_by == "system"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("llama-unknown")


def test_anthropic_models(claude):
    page = claude.models.list()
    assert "claude-sonnet-4-6" in [model.id for model in page.data]
    info = claude.models.retrieve("claude-haiku-4-5")
    assert info.type == "model" and info.display_name == "Claude Haiku 4.5"
    with pytest.raises(anthropic.NotFoundError):
        claude.models.retrieve("gpt-4o")
