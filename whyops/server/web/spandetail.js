// The panel for one span: timing, usage, error, inputs, output, tool calls, thinking, raw events.

import { getEvent } from "./api.js";
import { append, badge, clear, formatCount, formatDuration, formatTime, h, pre, toText } from "./dom.js";
import { tokenParts } from "./summary.js";

const MAX_RAW_EVENTS = 25;
const eventCache = new Map();

export function renderSpanDetail(panel, span, bounds) {
  const raw = span.raw;
  clear(panel);
  append(
    panel,
    h(
      "div",
      { className: "detail-head" },
      h("h2", {}, span.name),
      h(
        "div",
        { className: "detail-badges" },
        badge(span.kind, span.kind),
        badge(span.status, { error: "error", ok: "ok" }[span.status] ?? "plain"),
      ),
    ),
    facts(span, bounds),
    usageSection(raw.usage),
    errorSection(raw.error),
    inputsSection(raw.inputs),
    outputSection(raw.output),
    thinkingSection(raw.thinking),
    section("Attributes", raw.attributes && Object.keys(raw.attributes).length ? pre(raw.attributes) : null),
    rawEventsSection(raw.eventIds ?? []),
  );
}

function section(title, ...content) {
  if (!content.some(Boolean)) return null;
  return h("section", { className: "detail-section" }, h("h3", {}, title), content);
}

function facts(span, bounds) {
  const raw = span.raw;
  const offset = span.startMs !== null ? span.startMs - bounds.start : null;
  const rows = [
    ["Span id", h("code", {}, span.id)],
    ["Started", `${formatTime(raw.start ?? raw.startTime)}  (+${formatDuration(offset)})`],
    ["Duration", formatDuration(span.durationMs)],
    raw.agentName ? ["Agent", agentLabel(raw)] : null,
    raw.model ? ["Model", `${raw.model}${raw.provider ? ` (${raw.provider})` : ""}`] : null,
  ].filter(Boolean);
  return h(
    "dl",
    { className: "facts" },
    rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
  );
}

// A proxied call that sent no X-Agent-Name is recorded under the server's default agent.
function agentLabel(raw) {
  if (raw.agentNameSource !== "default") return String(raw.agentName);
  return [String(raw.agentName), " ", h("span", { className: "muted" }, "(unnamed call: no X-Agent-Name)")];
}

function usageSection(usage) {
  if (!usage) return null;
  const t = tokenParts(usage);
  const cells = [
    ["Prompt", t.prompt],
    ["Completion", t.completion],
    ["Total", t.total],
    ["Cache read", t.cacheRead],
    ["Cache write", t.cacheWrite],
  ].filter(([, v]) => v !== null && v !== undefined);
  if (!cells.length) return null;
  return section(
    "Token usage",
    h(
      "div",
      { className: "usage" },
      cells.map(([k, v]) =>
        h(
          "div",
          { className: "usage-cell" },
          h("span", { className: "usage-n" }, formatCount(v)),
          h("span", { className: "muted" }, k),
        ),
      ),
    ),
  );
}

function errorSection(error) {
  if (!error) return null;
  if (typeof error !== "object") return section("Error", h("div", { className: "error-box" }, String(error)));
  const text = error.message ?? error.error ?? toText(error);
  return section(
    "Error",
    h(
      "div",
      { className: "error-box" },
      error.type && !String(text).startsWith(error.type) ? `${error.type}: ${text}` : String(text),
    ),
    error.stack || error.traceback ? pre(error.stack ?? error.traceback, "code stack") : null,
  );
}

const isMessageList = (value) =>
  Array.isArray(value) && value.length > 0 && value.every((m) => m && typeof m === "object" && "role" in m);

function inputsSection(inputs) {
  if (inputs === undefined || inputs === null) return null;
  if (isMessageList(inputs)) return section("Inputs", messages(inputs));
  if (Array.isArray(inputs.messages)) {
    const rest = Object.fromEntries(Object.entries(inputs).filter(([k]) => k !== "messages"));
    return section("Inputs", messages(inputs.messages), Object.keys(rest).length ? pre(rest) : null);
  }
  return section("Inputs", pre(inputs));
}

function messages(list) {
  return h(
    "ol",
    { className: "messages" },
    list.map((m) =>
      h(
        "li",
        { className: `msg msg-${m?.role ?? "other"}` },
        h("span", { className: "msg-role" }, String(m?.role ?? "?")),
        m?.tool_call_id ? h("span", { className: "muted small" }, ` ${m.tool_call_id}`) : null,
        m?.content === null || m?.content === undefined ? null : pre(messageText(m.content), "msg-text"),
        m?.tool_calls || m?.toolCalls ? toolCalls(m.tool_calls ?? m.toolCalls) : null,
      ),
    ),
  );
}

function messageText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part) => (typeof part === "string" ? part : (part?.text ?? toText(part)))).join("\n");
  }
  return toText(content);
}

function outputSection(output) {
  if (output === undefined || output === null) return null;
  const llmShaped =
    typeof output === "object" && !Array.isArray(output) && ("content" in output || "toolCalls" in output);
  if (!llmShaped) return section("Output", pre(output));
  return section(
    "Output",
    output.content !== null && output.content !== undefined
      ? pre(messageText(output.content), "msg-text")
      : null,
    output.toolCalls?.length ? [h("h4", {}, "Tool calls"), toolCalls(output.toolCalls)] : null,
    output.finishReason ? h("div", { className: "muted" }, `finish reason: ${output.finishReason}`) : null,
  );
}

function toolCalls(calls) {
  return h(
    "ul",
    { className: "tool-calls" },
    calls.map((call) => {
      const fn = call.function ?? call;
      let args = fn.arguments ?? fn.input ?? call.arguments;
      if (typeof args === "string") {
        try {
          args = JSON.parse(args);
        } catch {
          /* shown as the text it is */
        }
      }
      return h(
        "li",
        {},
        h("code", { className: "tool-name" }, String(fn.name ?? call.name ?? "?")),
        call.id ? h("span", { className: "muted" }, ` ${call.id}`) : null,
        pre(args ?? {}),
      );
    }),
  );
}

function thinkingSection(blocks) {
  if (!blocks || !blocks.length) return null;
  return section(
    "Thinking",
    blocks.map((b) => {
      const redacted = b.redacted || b.type === "redacted_thinking" || b.redactedData || b.data;
      return h(
        "div",
        { className: "thinking" },
        redacted
          ? h("em", { className: "muted" }, "redacted thinking")
          : pre(b.thinking ?? b.text ?? "", "msg-text"),
        b.signature
          ? h(
              "div",
              { className: "muted sig", title: b.signature },
              `signature ${String(b.signature).slice(0, 24)}…`,
            )
          : null,
      );
    }),
  );
}

function rawEventsSection(eventIds) {
  if (!eventIds.length) return null;
  const list = h("div", { className: "raw-events" });
  const shown = eventIds.slice(0, MAX_RAW_EVENTS);
  for (const id of shown) list.appendChild(rawEvent(id));
  const more =
    eventIds.length > shown.length
      ? h("div", { className: "muted" }, `${eventIds.length - shown.length} more events`)
      : null;
  return section(`Raw events (${eventIds.length})`, list, more);
}

function rawEvent(eventId) {
  const body = h("div", {}, "…");
  const summary = h("summary", {}, h("code", {}, String(eventId)));
  cachedEvent(eventId).then(
    (event) => {
      append(
        clear(summary),
        h("strong", {}, String(event.eventType ?? "event")),
        " ",
        h("span", { className: "muted" }, formatTime(event.timestamp)),
      );
      clear(body).appendChild(pre(event));
    },
    (error) => clear(body).appendChild(h("div", { className: "error-text" }, error.message)),
  );
  return h("details", { className: "raw-event" }, summary, body);
}

async function cachedEvent(eventId) {
  if (!eventCache.has(eventId))
    eventCache.set(
      eventId,
      getEvent(eventId).then((e) => e.event ?? e),
    );
  return eventCache.get(eventId);
}
