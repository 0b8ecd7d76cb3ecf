"""The attribute and event names WhyOps reads and writes on OpenTelemetry spans, as data.

Three vocabularies, each checked against its registry:

- the GenAI semantic conventions, current release (``semantic-conventions-genai``,
  ``model/gen-ai/registry.yaml``; Development status): ``gen_ai.provider.name``,
  ``gen_ai.input.messages`` …;
- their older forms, still emitted by instrumentations built on semantic conventions 1.2x to 1.36
  and by OpenLLMetry: ``gen_ai.system``, ``gen_ai.usage.prompt_tokens``, the message span events
  (``gen_ai.user.message`` … ``gen_ai.choice``) and flattened ``gen_ai.prompt.N.*`` /
  ``gen_ai.completion.N.*`` attributes;
- OpenInference (Arize; ``spec/semantic_conventions.md``): ``openinference.span.kind``,
  ``llm.*``, ``input.value`` …, with lists flattened as ``llm.input_messages.N.message.role``.

The ``*_KEYS`` tuples list the names one WhyOps field may be read from, preferred first.
Inbound (:mod:`whyops.otlp.inbound`) reads all of them; outbound writes the current names.
"""

from __future__ import annotations

# -- GenAI, current release (semantic-conventions-genai) ---------------------------------

OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
OUTPUT_TYPE = "gen_ai.output.type"

REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_TOP_K = "gen_ai.request.top_k"
REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
REQUEST_SEED = "gen_ai.request.seed"
REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
REQUEST_STREAM = "gen_ai.request.stream"
#: Request parameter (the provider API's name) → its GenAI attribute.
REQUEST_PARAMETERS = {
    "max_tokens": REQUEST_MAX_TOKENS,
    "temperature": REQUEST_TEMPERATURE,
    "top_p": REQUEST_TOP_P,
    "top_k": REQUEST_TOP_K,
    "stop": REQUEST_STOP_SEQUENCES,
    "frequency_penalty": REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": REQUEST_PRESENCE_PENALTY,
    "seed": REQUEST_SEED,
    "n": REQUEST_CHOICE_COUNT,
    "stream": REQUEST_STREAM,
}

USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"  # includes cached input tokens
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"  # includes reasoning tokens
USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"

SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"

TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_CALL_RESULT = "gen_ai.tool.call.result"
TOOL_DESCRIPTION = "gen_ai.tool.description"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_DEFINITIONS = "gen_ai.tool.definitions"

AGENT_NAME = "gen_ai.agent.name"
AGENT_ID = "gen_ai.agent.id"
AGENT_DESCRIPTION = "gen_ai.agent.description"
AGENT_VERSION = "gen_ai.agent.version"
CONVERSATION_ID = "gen_ai.conversation.id"

#: ``gen_ai.operation.name`` values.
OP_CHAT = "chat"
OP_TEXT_COMPLETION = "text_completion"
OP_GENERATE_CONTENT = "generate_content"
OP_EMBEDDINGS = "embeddings"
OP_EXECUTE_TOOL = "execute_tool"
OP_INVOKE_AGENT = "invoke_agent"
OP_CREATE_AGENT = "create_agent"
OP_INVOKE_WORKFLOW = "invoke_workflow"
LLM_OPERATIONS = frozenset({OP_CHAT, OP_TEXT_COMPLETION, OP_GENERATE_CONTENT})
EMBEDDING_OPERATIONS = frozenset({OP_EMBEDDINGS})
TOOL_OPERATIONS = frozenset({OP_EXECUTE_TOOL})
AGENT_OPERATIONS = frozenset({OP_INVOKE_AGENT, OP_CREATE_AGENT})

#: Message part ``type`` values of ``gen_ai.input.messages`` / ``gen_ai.output.messages``.
PART_TEXT = "text"
PART_TOOL_CALL = "tool_call"
PART_TOOL_CALL_RESPONSE = "tool_call_response"
PART_REASONING = "reasoning"

# -- GenAI, older forms ------------------------------------------------------------------

SYSTEM = "gen_ai.system"  # replaced by gen_ai.provider.name
USAGE_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"  # replaced by gen_ai.usage.input_tokens
USAGE_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"  # … by output_tokens
# OpenLLMetry's spellings of the cache counts, before the registry had them.
USAGE_CACHE_READ_INPUT_TOKENS_OLD = "gen_ai.usage.cache_read_input_tokens"
USAGE_CACHE_CREATION_INPUT_TOKENS_OLD = "gen_ai.usage.cache_creation_input_tokens"
USAGE_TOTAL_TOKENS_OLD = "llm.usage.total_tokens"
USAGE_REASONING_TOKENS_OLD = "gen_ai.usage.reasoning_tokens"  # OpenLLMetry's
LLM_REQUEST_TYPE = "llm.request.type"  # OpenLLMetry: chat, completion, embedding
#: The whole prompt and completion as JSON text (semantic conventions 1.26: attributes of the
#: ``gen_ai.content.*`` events, which some instrumentations set on the span itself) …
PROMPT = "gen_ai.prompt"
COMPLETION = "gen_ai.completion"
#: … and flattened under the same names (OpenLLMetry): ``gen_ai.prompt.0.role``,
#: ``gen_ai.prompt.0.content``, ``gen_ai.prompt.0.tool_call_id``,
#: ``gen_ai.completion.0.finish_reason``, ``gen_ai.completion.0.tool_calls.0.{id,name,arguments}``.
PROMPT_PREFIX = PROMPT
COMPLETION_PREFIX = COMPLETION
#: Tool definitions flattened the same way: ``llm.request.functions.0.{name,description,
#: parameters}``.
FUNCTIONS_PREFIX = "llm.request.functions"

#: Message events (span events) and the role each stands for; ``gen_ai.choice`` is an answer.
EVENT_SYSTEM_MESSAGE = "gen_ai.system.message"
EVENT_USER_MESSAGE = "gen_ai.user.message"
EVENT_ASSISTANT_MESSAGE = "gen_ai.assistant.message"
EVENT_TOOL_MESSAGE = "gen_ai.tool.message"
EVENT_CHOICE = "gen_ai.choice"
MESSAGE_EVENT_ROLES = {
    EVENT_SYSTEM_MESSAGE: "system",
    EVENT_USER_MESSAGE: "user",
    EVENT_ASSISTANT_MESSAGE: "assistant",
    EVENT_TOOL_MESSAGE: "tool",
}
#: The whole event body as JSON text, where an exporter could not attach a structured body.
EVENT_BODY = "gen_ai.event.content"
#: Older still (semantic conventions 1.26): one event per side with the text as an attribute.
EVENT_CONTENT_PROMPT = "gen_ai.content.prompt"
EVENT_CONTENT_COMPLETION = "gen_ai.content.completion"

# -- OpenInference -----------------------------------------------------------------------

OI_SPAN_KIND = "openinference.span.kind"
OI_KIND_LLM = "LLM"
OI_KIND_EMBEDDING = "EMBEDDING"
OI_KIND_TOOL = "TOOL"
OI_KIND_AGENT = "AGENT"
OI_KIND_CHAIN = "CHAIN"
OI_KIND_RETRIEVER = "RETRIEVER"
OI_KIND_RERANKER = "RERANKER"
OI_KIND_GUARDRAIL = "GUARDRAIL"
OI_KIND_EVALUATOR = "EVALUATOR"
OI_KIND_PROMPT = "PROMPT"

INPUT_VALUE = "input.value"
INPUT_MIME_TYPE = "input.mime_type"
OUTPUT_VALUE = "output.value"
OUTPUT_MIME_TYPE = "output.mime_type"
MIME_JSON = "application/json"

LLM_MODEL_NAME = "llm.model_name"
LLM_REQUEST_MODEL_NAME = "llm.request.model_name"
LLM_RESPONSE_MODEL_NAME = "llm.response.model_name"
LLM_PROVIDER = "llm.provider"
LLM_SYSTEM = "llm.system"
LLM_INVOCATION_PARAMETERS = "llm.invocation_parameters"
LLM_FINISH_REASON = "llm.finish_reason"
LLM_TOKEN_PROMPT = "llm.token_count.prompt"
LLM_TOKEN_COMPLETION = "llm.token_count.completion"
LLM_TOKEN_TOTAL = "llm.token_count.total"
LLM_TOKEN_CACHE_READ = "llm.token_count.prompt_details.cache_read"
LLM_TOKEN_CACHE_WRITE = "llm.token_count.prompt_details.cache_write"
LLM_TOKEN_REASONING = "llm.token_count.completion_details.reasoning"
#: Flattened lists: ``llm.input_messages.0.message.role`` …
LLM_INPUT_MESSAGES = "llm.input_messages"
LLM_OUTPUT_MESSAGES = "llm.output_messages"
LLM_TOOLS = "llm.tools"  # ``llm.tools.0.tool.json_schema``
EMBEDDING_MODEL_NAME = "embedding.model_name"
EMBEDDING_EMBEDDINGS = "embedding.embeddings"  # ``embedding.embeddings.0.embedding.text`` …
EMBEDDING_TEXT = "embedding.text"
LLM_PROMPTS = "llm.prompts"  # text completions: ``llm.prompts.0.prompt.text``
PROMPT_TEXT = "prompt.text"
LLM_CHOICES = "llm.choices"  # ``llm.choices.0.completion.text``
COMPLETION_TEXT = "completion.text"

# Keys inside one flattened message (after ``llm.input_messages.N.``).
MESSAGE_ROLE = "message.role"
MESSAGE_CONTENT = "message.content"
MESSAGE_CONTENTS = "message.contents"  # ``message.contents.0.message_content.{type,text}``
MESSAGE_NAME = "message.name"
MESSAGE_TOOL_CALL_ID = "message.tool_call_id"
MESSAGE_TOOL_CALLS = "message.tool_calls"  # ``message.tool_calls.0.tool_call.id`` …
MESSAGE_CONTENT_TYPE = "message_content.type"
MESSAGE_CONTENT_TEXT = "message_content.text"
OI_TOOL_CALL_ID = "tool_call.id"
OI_TOOL_CALL_FUNCTION_NAME = "tool_call.function.name"
OI_TOOL_CALL_FUNCTION_ARGUMENTS = "tool_call.function.arguments"

OI_TOOL_NAME = "tool.name"
OI_TOOL_ID = "tool.id"  # the tool call this TOOL span answers
OI_TOOL_DESCRIPTION = "tool.description"
OI_TOOL_PARAMETERS = "tool.parameters"
OI_TOOL_JSON_SCHEMA = "tool.json_schema"
OI_AGENT_NAME = "agent.name"
OI_METADATA = "metadata"

# -- pydantic-ai's own names (its default instrumentation version 2; version 3 writes GenAI) --

PYDANTIC_AGENT_NAME = "agent_name"  # on its "agent run" span
PYDANTIC_FINAL_RESULT = "final_result"  # the run's output
PYDANTIC_TOOL_ARGUMENTS = "tool_arguments"  # on its "running tool" span
PYDANTIC_TOOL_RESPONSE = "tool_response"

# -- general OpenTelemetry ---------------------------------------------------------------

SERVICE_NAME = "service.name"
SESSION_ID = "session.id"  # OpenInference and the OTel registry
USER_ID = "user.id"  # OpenInference and the OTel registry
ENDUSER_ID = "enduser.id"  # older OTel name
ERROR_TYPE = "error.type"
EXCEPTION_EVENT = "exception"
EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"
EXCEPTION_STACKTRACE = "exception.stacktrace"

#: ``Span.status.code`` values.
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
#: ``Span.kind`` values.
SPAN_KIND_INTERNAL, SPAN_KIND_SERVER, SPAN_KIND_CLIENT = 1, 2, 3
SPAN_KIND_PRODUCER, SPAN_KIND_CONSUMER = 4, 5

# -- WhyOps fields that no convention has (written by outbound, read back by inbound) ------

WHYOPS_SPAN_KIND = "whyops.span.kind"  # agent, tool, llm, embedding, span
WHYOPS_AGENT_NAME = "whyops.agent.name"  # the trace's agentName
WHYOPS_INPUTS = "whyops.inputs"  # a tool or plain span's inputs (JSON text)
WHYOPS_OUTPUT = "whyops.output"  # its output (JSON text)
WHYOPS_METADATA = "whyops.metadata"  # event metadata without a convention (JSON text)
WHYOPS_TRACE_ID = "whyops.trace.id"  # a WhyOps trace id that is not 32 hex (kept as is)
WHYOPS_SPAN_ID = "whyops.span.id"  # a WhyOps span id that is not 16 hex (kept as is)

# -- where each WhyOps field is read from, preferred first -------------------------------

PROVIDER_KEYS = (PROVIDER_NAME, SYSTEM, LLM_PROVIDER, LLM_SYSTEM)
MODEL_KEYS = (
    RESPONSE_MODEL,
    REQUEST_MODEL,
    LLM_RESPONSE_MODEL_NAME,
    LLM_MODEL_NAME,
    LLM_REQUEST_MODEL_NAME,
    EMBEDDING_MODEL_NAME,
)
INPUT_TOKENS_KEYS = (USAGE_INPUT_TOKENS, USAGE_PROMPT_TOKENS, LLM_TOKEN_PROMPT)
OUTPUT_TOKENS_KEYS = (USAGE_OUTPUT_TOKENS, USAGE_COMPLETION_TOKENS, LLM_TOKEN_COMPLETION)
TOTAL_TOKENS_KEYS = (LLM_TOKEN_TOTAL, USAGE_TOTAL_TOKENS_OLD)
CACHE_READ_KEYS = (
    USAGE_CACHE_READ_INPUT_TOKENS,
    USAGE_CACHE_READ_INPUT_TOKENS_OLD,
    LLM_TOKEN_CACHE_READ,
)
CACHE_CREATION_KEYS = (
    USAGE_CACHE_CREATION_INPUT_TOKENS,
    USAGE_CACHE_CREATION_INPUT_TOKENS_OLD,
    LLM_TOKEN_CACHE_WRITE,
)
REASONING_KEYS = (USAGE_REASONING_OUTPUT_TOKENS, USAGE_REASONING_TOKENS_OLD, LLM_TOKEN_REASONING)
THREAD_KEYS = (CONVERSATION_ID, SESSION_ID)
USER_KEYS = (USER_ID, ENDUSER_ID)
AGENT_NAME_KEYS = (WHYOPS_AGENT_NAME, AGENT_NAME, OI_AGENT_NAME, PYDANTIC_AGENT_NAME)
TOOL_NAME_KEYS = (TOOL_NAME, OI_TOOL_NAME)
TOOL_CALL_ID_KEYS = (TOOL_CALL_ID, OI_TOOL_ID, OI_TOOL_CALL_ID)
TOOL_ARGUMENTS_KEYS = (TOOL_CALL_ARGUMENTS, INPUT_VALUE, WHYOPS_INPUTS, PYDANTIC_TOOL_ARGUMENTS)
TOOL_RESULT_KEYS = (TOOL_CALL_RESULT, OUTPUT_VALUE, WHYOPS_OUTPUT, PYDANTIC_TOOL_RESPONSE)
