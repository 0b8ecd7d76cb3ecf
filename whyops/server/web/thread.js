// A thread: the traces of one conversation, oldest first, each with what went in and came out.

import { getSpans, listThreads, traceIdOf } from "./api.js";
import { append, clear, formatTime, h, link, message, pre, routeTo, shortId, toText } from "./dom.js";
import { summaryChips } from "./summary.js";
import { buildTree } from "./tree.js";

const MAX_TRACES = 50;
const SNIPPET_CHARS = 600;

export async function renderThread(root, threadId) {
  append(root, h("div", { className: "page-head" }, h("h1", {}, "Thread ", h("code", {}, threadId))));
  const data = await listThreads({ threadId, count: MAX_TRACES });
  const traces = (data.threads ?? []).sort(
    (a, b) => Date.parse(a.firstEventTimestamp ?? 0) - Date.parse(b.firstEventTimestamp ?? 0),
  );
  if (!traces.length) {
    root.appendChild(message("No traces in this thread."));
    return;
  }
  const list = h("ol", { className: "thread" });
  root.appendChild(list);
  traces.forEach((summary, index) => list.appendChild(traceCard(summary, index + 1)));
}

function traceCard(summary, number) {
  const traceId = traceIdOf(summary);
  const body = h("div", { className: "turn-body" }, h("span", { className: "muted" }, "Loading…"));
  fillTurn(body, traceId);
  return h(
    "li",
    { className: "card turn", dataset: { traceId } },
    h(
      "div",
      { className: "card-head" },
      h("h2", {}, `${number}. `, link(routeTo("trace", traceId), h("code", {}, shortId(traceId)))),
      h("span", { className: "muted" }, formatTime(summary.firstEventTimestamp)),
      h("span", {}, summary.agentName ?? summary.entityName ?? ""),
    ),
    h("div", { className: "chips" }, summaryChips(summary)),
    body,
  );
}

async function fillTurn(body, traceId) {
  try {
    const data = await getSpans(traceId);
    const { roots } = buildTree(data.spans ?? data);
    clear(body);
    for (const span of roots) {
      append(
        body,
        h(
          "div",
          { className: "turn-span" },
          h("strong", {}, span.name),
          " ",
          h("span", { className: "muted" }, span.kind),
        ),
        span.raw.inputs !== undefined && span.raw.inputs !== null ? labelled("in", span.raw.inputs) : null,
        span.raw.output !== undefined && span.raw.output !== null ? labelled("out", span.raw.output) : null,
        span.raw.error
          ? h("div", { className: "error-box" }, toText(span.raw.error.message ?? span.raw.error))
          : null,
      );
    }
  } catch (error) {
    clear(body).appendChild(h("span", { className: "error-text" }, error.message));
  }
}

/** Flat objects read as "key: value" lines; anything nested stays JSON. */
function compactText(value) {
  if (!value || typeof value !== "object" || Array.isArray(value)) return toText(value);
  const entries = Object.entries(value);
  if (entries.some(([, v]) => v && typeof v === "object")) return toText(value);
  return entries.map(([k, v]) => `${k}: ${v}`).join("\n");
}

function labelled(label, value) {
  let text = compactText(value);
  if (text.length > SNIPPET_CHARS) text = `${text.slice(0, SNIPPET_CHARS)}…`;
  return h(
    "div",
    { className: "turn-io" },
    h("span", { className: "chip-label" }, label),
    pre(text, "msg-text"),
  );
}
