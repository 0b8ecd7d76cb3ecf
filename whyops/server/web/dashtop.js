// The dashboard's top-N tables (GET /api/stats/top), each row linking to the trace behind it.

import { fmt } from "./charts.js";
import { formatTime, h, link, message, routeTo, shortId } from "./dom.js";

const traceLink = (id) =>
  id ? link(routeTo("trace", id), h("code", {}, shortId(id))) : h("span", { className: "muted" }, "—");
const userLink = (user) => link(`${routeTo("traces")}?user=${encodeURIComponent(user)}`, user);

// The top-N tables: columns as data; `trace` names the row's trace a click opens.
export const TOP_TABLES = [
  {
    kind: "costliest_traces",
    title: "Costliest traces",
    trace: (r) => r.traceId,
    columns: [
      ["Trace", (r) => traceLink(r.traceId)],
      ["Agent", (r) => r.agentName ?? "—"],
      ["User", (r) => (r.userId ? userLink(r.userId) : "—")],
      ["Started", (r) => formatTime(r.startedAt), "when"],
      ["Cost", (r) => fmt.callsCost(r), "num"],
      ["Tokens", (r) => fmt.count(r.tokens), "num"],
      ["LLM calls", (r) => fmt.count(r.llmCalls), "num"],
    ],
  },
  {
    kind: "slowest_tools",
    title: "Slowest tools",
    trace: (r) => r.slowestTraceId,
    columns: [
      ["Tool", (r) => r.tool],
      ["Calls", (r) => fmt.count(r.calls), "num"],
      ["p95", (r) => fmt.ms(r.p95Ms), "num"],
      ["Slowest", (r) => fmt.ms(r.maxMs), "num"],
      ["Its trace", (r) => traceLink(r.slowestTraceId)],
    ],
  },
  {
    kind: "failing_tools",
    title: "Most failing tools",
    trace: (r) => r.lastFailedTraceId,
    columns: [
      ["Tool", (r) => r.tool],
      ["Calls", (r) => fmt.count(r.calls), "num"],
      ["Failures", (r) => fmt.count(r.failures), "num"],
      ["Failure rate", (r) => fmt.percent(r.failureRate), "num"],
      ["Last failure", (r) => traceLink(r.lastFailedTraceId)],
    ],
  },
  {
    kind: "heaviest_users",
    title: "Heaviest users",
    trace: (r) => r.lastTraceId,
    columns: [
      ["User", (r) => (r.userId ? userLink(r.userId) : "—")],
      ["Traces", (r) => fmt.count(r.traces), "num"],
      ["Tokens", (r) => fmt.count(r.tokens), "num"],
      ["Cost", (r) => fmt.usd(r.costUsd), "num"],
      ["Last trace", (r) => traceLink(r.lastTraceId)],
    ],
  },
];

/** A top-N card: "Loading…" until its answer fills it (or says why it could not). */
export function topCard(table) {
  const slot = message("Loading…", "muted");
  const card = h(
    "section",
    { className: `card top-table top-${table.kind}`, dataset: { kind: table.kind } },
    h("h2", {}, table.title),
    slot,
  );
  const fill = (rows) =>
    slot.replaceWith(rows.length ? topRows(table, rows) : message("Nothing in this range."));
  const fail = (error) =>
    slot.replaceWith(h("div", { className: "error-box" }, `Could not load: ${error.message}`));
  return { card, fill, fail };
}

function topRows(table, rows) {
  const head = h("tr", {}, table.columns.map(([title, , cls]) => h("th", { className: cls ?? "" }, title)));
  const body = rows.map((row) => {
    const trace = table.trace(row);
    return h(
      "tr",
      {
        className: trace ? "clickable" : "",
        dataset: trace ? { traceId: trace } : {},
        onclick: (event) => {
          if (trace && !event.target.closest("a")) window.location.hash = `#${routeTo("trace", trace)}`;
        },
      },
      table.columns.map(([, cell, cls]) => h("td", { className: cls ?? "" }, cell(row))),
    );
  });
  return h("table", { className: "grid compact" }, h("thead", {}, head), h("tbody", {}, body));
}
