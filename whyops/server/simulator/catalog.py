"""The models the simulator answers for, and how a model name selects behaviour."""

from __future__ import annotations

import re

from . import errors

OPENAI_MODELS = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5.4",
    "o3",
    "o3-mini",
    "o4-mini",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "text-embedding-ada-002",
    "sim-chat",
    "sim-reasoning",
)
ANTHROPIC_MODELS = (
    "claude-opus-4-7",
    "claude-sonnet-4-6",
    "claude-haiku-4-5",
    "claude-sonnet-5",
    "sim-claude",
)
ANTHROPIC_DISPLAY_NAMES = {
    "claude-opus-4-7": "Claude Opus 4.7",
    "claude-sonnet-4-6": "Claude Sonnet 4.6",
    "claude-haiku-4-5": "Claude Haiku 4.5",
    "claude-sonnet-5": "Claude Sonnet 5",
    "sim-claude": "Simulated Claude",
}
_OPENAI_FAMILIES = re.compile(
    r"^(gpt-|chatgpt-|o\d|text-embedding-|omni-|ft:|codex-|computer-use-|sim-)"
)
_ANTHROPIC_FAMILIES = re.compile(r"^(claude-|sim-)")
_REASONING = re.compile(r"^(o\d|gpt-[5-9](?!.*chat))|reasoning")
EMBEDDING_DIMENSIONS = {"text-embedding-3-large": 3072}
DEFAULT_EMBEDDING_DIMENSIONS = 1536


def base_name(model: str) -> str:
    """`provider-slug/model` routing prefixes do not change what the model is."""
    return model.rsplit("/", 1)[-1]


def check_model(provider: str, model: str) -> None:
    """Unknown model families answer 404 like the real APIs; any `sim-*` name is known."""
    family = _ANTHROPIC_FAMILIES if provider == errors.ANTHROPIC else _OPENAI_FAMILIES
    if not family.match(base_name(model)) and "reasoning" not in model:
        raise errors.unknown_model(provider, model)


def is_reasoning_model(model: str) -> bool:
    return bool(_REASONING.search(base_name(model)))


def embedding_dimensions(model: str) -> int:
    return EMBEDDING_DIMENSIONS.get(base_name(model), DEFAULT_EMBEDDING_DIMENSIONS)


def model_list(provider: str) -> dict[str, object]:
    """`GET /v1/models` in the asking SDK's shape."""
    if provider == errors.ANTHROPIC:
        data = [_anthropic_model(name) for name in ANTHROPIC_MODELS]
        return {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"],
            "last_id": data[-1]["id"],
        }
    return {"object": "list", "data": [_openai_model(name) for name in OPENAI_MODELS]}


def model_info(provider: str, model: str) -> dict[str, object]:
    check_model(provider, model)
    return _anthropic_model(model) if provider == errors.ANTHROPIC else _openai_model(model)


def _openai_model(name: str) -> dict[str, object]:
    owner = "whyops-simulator" if name.startswith("sim-") else "system"
    return {"id": name, "object": "model", "created": MODELS_CREATED, "owned_by": owner}


def _anthropic_model(name: str) -> dict[str, object]:
    return {
        "type": "model",
        "id": name,
        "display_name": ANTHROPIC_DISPLAY_NAMES.get(name, name),
        "created_at": "2025-09-29T00:00:00Z",
        "lifecycle": "active",
        "max_input_tokens": 200_000,
        "max_tokens": 64_000,
    }


MODELS_CREATED = 1_735_689_600
