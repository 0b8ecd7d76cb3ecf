"""One OTLP span → the WhyOps span it stands for: kind, name, inputs, output, usage, the agent
it defines. What each kind reads is described here; :mod:`whyops.otlp.inbound` turns the
result into wire events through :func:`whyops.wire.encode.to_events`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from whyops.otlp import conventions as c
from whyops.otlp.inbound_messages import conversation
from whyops.otlp.inbound_parts import Conversation, system_text
from whyops.otlp.inbound_values import clean, count, first, indexed, json_value, name, nested
from whyops.wire.records import SpanKind, ThinkingBlock, TokenUsage
from whyops.wire.usage import PROMPT_EXCLUDES_CACHE, anthropic_usage, openai_usage

JSON = dict[str, Any]
Attrs = Mapping[str, Any]
SpanEvent = tuple[str, Attrs]

#: ``gen_ai.operation.name`` → the WhyOps span kind (anything else: a plain span).
KIND_BY_OPERATION = {
    **dict.fromkeys(c.LLM_OPERATIONS, SpanKind.LLM),
    **dict.fromkeys(c.EMBEDDING_OPERATIONS, SpanKind.EMBEDDING),
    **dict.fromkeys(c.TOOL_OPERATIONS, SpanKind.TOOL),
    **dict.fromkeys(c.AGENT_OPERATIONS, SpanKind.AGENT),
}
#: ``openinference.span.kind`` → the WhyOps span kind (CHAIN, RETRIEVER, …: a plain span).
KIND_BY_OPENINFERENCE = {
    c.OI_KIND_LLM: SpanKind.LLM,
    c.OI_KIND_EMBEDDING: SpanKind.EMBEDDING,
    c.OI_KIND_TOOL: SpanKind.TOOL,
    c.OI_KIND_AGENT: SpanKind.AGENT,
}
#: OpenLLMetry's ``llm.request.type`` → the WhyOps span kind.
KIND_BY_REQUEST_TYPE = {
    "chat": SpanKind.LLM,
    "completion": SpanKind.LLM,
    "embedding": SpanKind.EMBEDDING,
}
#: Without an operation: an attribute only one kind of span carries (a tool's name; pydantic-ai's
#: ``agent_name`` on its run span; ``gen_ai.system`` on a model call of semantic conventions
#: 1.26, which had no ``gen_ai.operation.name`` yet), the first found wins.
KIND_BY_MARK = (
    (c.TOOL_NAME, SpanKind.TOOL),
    (c.PYDANTIC_AGENT_NAME, SpanKind.AGENT),
    (c.SYSTEM, SpanKind.LLM),
)
_KINDS = {kind.value: kind for kind in SpanKind}
#: Span name prefixes the GenAI conventions put before a tool's or an agent's name.
NAME_PREFIXES = {
    SpanKind.TOOL: (c.OP_EXECUTE_TOOL + " ",),
    SpanKind.AGENT: (c.OP_INVOKE_AGENT + " ", c.OP_CREATE_AGENT + " "),
}
#: The system prompt of an agent defined without one (agent registration requires one).
NO_INSTRUCTIONS = "(no system instructions recorded)"
MAX_SPAN_NAME = 1024


@attrs.frozen
class AgentDefinition:
    """An agent as ``POST /api/entities/init`` takes it: ``name`` and ``metadata``
    (``systemPrompt``, ``tools`` [{name, description, inputSchema}], ``description``)."""

    name: str
    metadata: dict[str, Any]


@attrs.frozen
class Described:
    """What one span says, beyond the fields every span has."""

    kind: SpanKind
    name: str
    inputs: Mapping[str, Any] | None = None
    output: Any = None
    has_output: bool = False
    usage: TokenUsage | None = None
    model: str | None = None
    provider: str | None = None
    thinking: tuple[ThinkingBlock, ...] = ()
    #: Added to the opening event's metadata (a model call's system prompt, tools, params).
    opening_meta: JSON = attrs.Factory(dict)
    #: The ``llm_response`` content, when the span recorded an answer.
    answer: JSON | None = None
    call_id: str | None = None
    agent: AgentDefinition | None = None


def kind_of(attributes: Attrs) -> SpanKind:
    """The WhyOps kind of a span, from its operation, OpenInference kind or request type."""
    explicit = attributes.get(c.WHYOPS_SPAN_KIND)
    if isinstance(explicit, str) and explicit in _KINDS:
        return _KINDS[explicit]
    operation = attributes.get(c.OPERATION_NAME)
    if isinstance(operation, str) and operation in KIND_BY_OPERATION:
        return KIND_BY_OPERATION[operation]
    oi_kind = attributes.get(c.OI_SPAN_KIND)
    if isinstance(oi_kind, str) and oi_kind.upper() in KIND_BY_OPENINFERENCE:
        return KIND_BY_OPENINFERENCE[oi_kind.upper()]
    if operation is not None or oi_kind is not None:
        return SpanKind.SPAN
    request_type = attributes.get(c.LLM_REQUEST_TYPE)
    if isinstance(request_type, str):
        return KIND_BY_REQUEST_TYPE.get(request_type, SpanKind.SPAN)
    return next((kind for key, kind in KIND_BY_MARK if key in attributes), SpanKind.SPAN)


def own_agent_name(attributes: Attrs, span_name: str) -> str | None:
    """The agent a span names itself: its agent attributes, else (an agent span) its name."""
    found = name(first(attributes, c.AGENT_NAME_KEYS))
    if found is None and kind_of(attributes) is SpanKind.AGENT:
        found = _bare_name(span_name, SpanKind.AGENT)
    return found


def _bare_name(span_name: str, kind: SpanKind) -> str | None:
    for prefix in NAME_PREFIXES.get(kind, ()):
        if span_name.startswith(prefix):
            return name(span_name[len(prefix) :])
    return name(span_name)


# -- usage, model, tools -----------------------------------------------------------------


def usage_of(attributes: Attrs, provider: str | None) -> TokenUsage | None:
    """Token counts of a model call, as the proxy records the provider's own usage.

    The conventions' input count includes the cache reads and writes (GenAI, OpenInference);
    a provider whose own count leaves them out (:data:`PROMPT_EXCLUDES_CACHE`) gets them taken
    off and its usage read by the wire layer's mapper for it, so totals follow its rule too.
    """
    prompt = count(first(attributes, c.INPUT_TOKENS_KEYS))
    completion = count(first(attributes, c.OUTPUT_TOKENS_KEYS))
    read = count(first(attributes, c.CACHE_READ_KEYS))
    created = count(first(attributes, c.CACHE_CREATION_KEYS))
    reasoning = count(first(attributes, c.REASONING_KEYS))
    total = count(first(attributes, c.TOTAL_TOKENS_KEYS))  # all input and output, either way
    if all(n is None for n in (prompt, completion, read, created, reasoning)):
        return None
    if provider in PROMPT_EXCLUDES_CACHE:
        cached = (read or 0) + (created or 0)
        own = prompt - cached if prompt is not None and prompt >= cached else prompt
        native = {
            "input_tokens": own,
            "output_tokens": completion,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": created,
        }
        usage = anthropic_usage(native) or TokenUsage(None, None, None)
        reported = usage.total_tokens if total is None else total  # a reported one, as OpenAI's
        return attrs.evolve(usage, total_tokens=reported, reasoning_tokens=reasoning or None)
    return openai_usage(
        {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": total,
            "prompt_tokens_details": {"cached_tokens": read, "cache_write_tokens": created},
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        }
    )


def _definition(value: Any) -> JSON | None:
    """One tool definition (GenAI, OpenAI's ``{"function": …}``, OpenLLMetry) → agent init's."""
    value = json_value(value)
    if not isinstance(value, dict):
        return None
    function = nested(value, "function")
    tool_name = name(function.get("name"))
    if tool_name is None:
        return None
    tool: JSON = {"name": tool_name}
    description = function.get("description")
    if isinstance(description, str) and description:
        tool["description"] = description
    schema = json_value(function.get("parameters", function.get("input_schema")))
    if isinstance(schema, (dict, list)):
        tool["inputSchema"] = schema
    return tool


def tool_definitions(attributes: Attrs) -> list[JSON]:
    """The tools a model or agent was given: ``gen_ai.tool.definitions``, else
    OpenInference's ``llm.tools.N.tool.json_schema``, else ``llm.request.functions.N.*``."""
    listed = json_value(attributes.get(c.TOOL_DEFINITIONS))
    candidates: list[Any] = listed if isinstance(listed, list) else []
    if not candidates:
        candidates = [t.get(c.OI_TOOL_JSON_SCHEMA) for t in indexed(attributes, c.LLM_TOOLS)]
    if not candidates:
        candidates = indexed(attributes, c.FUNCTIONS_PREFIX)
    return [tool for tool in map(_definition, candidates) if tool is not None]


def request_params(attributes: Attrs) -> JSON:
    """Request parameters: ``gen_ai.request.*`` and OpenInference's invocation parameters."""
    params = json_value(attributes.get(c.LLM_INVOCATION_PARAMETERS))
    found: JSON = dict(params) if isinstance(params, dict) else {}
    for param, key in c.REQUEST_PARAMETERS.items():
        if attributes.get(key) is not None:
            found[param] = clean(attributes[key])
    return found


# -- each kind ---------------------------------------------------------------------------


def _model_call(
    attributes: Attrs, events: list[SpanEvent], kind: SpanKind, span_name: str
) -> Described:
    found = name(first(attributes, c.PROVIDER_KEYS))
    provider = found.lower() if found else None  # the registries' values: OpenLLMetry's "Anthropic"
    said: Conversation = conversation(attributes, events)
    opening: JSON = {}
    if said.system:
        opening["systemPrompt"] = said.system
    tools = tool_definitions(attributes)
    if tools:
        opening["tools"] = tools
    params = request_params(attributes)
    if params:
        opening["params"] = params
    if kind is SpanKind.EMBEDDING:
        inputs: JSON = _embedding_input(attributes)
    else:
        inputs = {"messages": said.messages or []}
    return Described(
        kind,
        name(span_name, MAX_SPAN_NAME) or kind.value,
        inputs=inputs,
        usage=usage_of(attributes, provider),
        model=name(first(attributes, c.MODEL_KEYS)),
        provider=provider,
        thinking=said.answer.thinking if said.answer else (),
        opening_meta=opening,
        answer=said.answer.content if said.answer and kind is SpanKind.LLM else None,
    )


def _embedding_input(attributes: Attrs) -> JSON:
    """What was embedded: ``input.value``, else OpenInference's ``embedding.embeddings`` texts."""
    value = json_value(attributes.get(c.INPUT_VALUE))
    if value is None:
        listed = indexed(attributes, c.EMBEDDING_EMBEDDINGS)
        texts = [item.get(c.EMBEDDING_TEXT) for item in listed]
        value = [t for t in texts if t is not None] or None
    return {} if value is None else {"input": value}


def _as_inputs(value: Any) -> Mapping[str, Any] | None:
    """Arguments as a span's inputs: an object as is, anything else under ``input``."""
    if value is None:
        return None
    return value if isinstance(value, dict) else {"input": value}


def _agent(attributes: Attrs, agent_name: str) -> AgentDefinition | None:
    system = system_text(attributes.get(c.SYSTEM_INSTRUCTIONS))
    description = attributes.get(c.AGENT_DESCRIPTION)
    tools = tool_definitions(attributes)
    if not (system or tools or (isinstance(description, str) and description)):
        return None
    metadata: JSON = {"systemPrompt": system or NO_INSTRUCTIONS, "tools": tools}
    if isinstance(description, str) and description:
        metadata["description"] = description
    return AgentDefinition(agent_name, metadata)


def _agent_io(attributes: Attrs, events: list[SpanEvent]) -> tuple[Any, Any]:
    """An agent's inputs and output: its own attributes, else the conversation it had."""
    inputs = json_value(first(attributes, (c.WHYOPS_INPUTS, c.INPUT_VALUE), empty=True))
    outputs = (c.WHYOPS_OUTPUT, c.OUTPUT_VALUE, c.PYDANTIC_FINAL_RESULT)
    output = json_value(first(attributes, outputs, empty=True))
    if inputs is None and attributes.get(c.INPUT_MESSAGES) is not None:
        inputs = {"messages": conversation(attributes, []).messages}
    if output is None and attributes.get(c.OUTPUT_MESSAGES) is not None:
        answer = conversation(attributes, events).answer
        output = answer.content.get("content") if answer else None
    return inputs, output


def _step(attributes: Attrs, events: list[SpanEvent], kind: SpanKind, span_name: str) -> Described:
    """A tool call, an agent run or a plain span: name, arguments, result."""
    if kind is SpanKind.TOOL:
        own = name(first(attributes, c.TOOL_NAME_KEYS))
        inputs = json_value(first(attributes, c.TOOL_ARGUMENTS_KEYS, empty=True))
        output = json_value(first(attributes, c.TOOL_RESULT_KEYS, empty=True))
    elif kind is SpanKind.AGENT:
        own = name(first(attributes, (c.AGENT_NAME, c.OI_AGENT_NAME, c.PYDANTIC_AGENT_NAME)))
        inputs, output = _agent_io(attributes, events)
    else:
        own = None
        inputs = json_value(first(attributes, (c.WHYOPS_INPUTS, c.INPUT_VALUE), empty=True))
        output = json_value(first(attributes, (c.WHYOPS_OUTPUT, c.OUTPUT_VALUE), empty=True))
    step_name = own or _bare_name(span_name, kind) or kind.value
    call_id = name(first(attributes, c.TOOL_CALL_ID_KEYS)) if kind is SpanKind.TOOL else None
    agent = _agent(attributes, step_name) if kind is SpanKind.AGENT else None
    return Described(
        kind,
        step_name,
        inputs=_as_inputs(inputs),
        output=output,
        has_output=output is not None,
        call_id=call_id,
        agent=agent,
    )


def describe(attributes: Attrs, events: list[SpanEvent], span_name: str) -> Described:
    """What the span with these attributes and events stands for."""
    kind = kind_of(attributes)
    if kind in (SpanKind.LLM, SpanKind.EMBEDDING):
        return _model_call(attributes, events, kind, span_name)
    return _step(attributes, events, kind, span_name)
