// One trace: summary, span tree with a waterfall timeline, and the selected span's details.

import { ApiError, getSpans, getThread, threadIdOf } from "./api.js";
import { append, badge, clear, formatDuration, formatTime, h, link, message, routeTo } from "./dom.js";
import { renderSpanDetail } from "./spandetail.js";
import { chip, summaryChips } from "./summary.js";
import { VirtualList, buildTree, initialCollapsed, visibleRows, withAncestors } from "./tree.js";

const ROW_HEIGHT = 28;
const REFRESH_MS = 2000;

export async function renderTrace(root, traceId, lifecycle) {
  const head = h("div", { className: "page-head" }, h("h1", {}, "Trace ", h("code", {}, traceId)));
  const chips = h("div", { className: "chips" });
  const body = h("div", { className: "trace-body" }, message("Loading…"));
  append(root, head, chips, body);
  const view = new TraceView(body, traceId);
  let seen = null;
  const refresh = async () => {
    const summary = await loadSummary(traceId);
    // The spans are fetched again only when the trace got new events.
    const stamp = summary ? `${summary.eventCount}:${summary.updatedAt ?? summary.lastEventTimestamp}` : null;
    if (seen !== null && stamp === seen) return;
    const spans = await getSpans(traceId);
    if (summary) fillSummary(chips, summary);
    view.update(spans.spans ?? spans, spans.truncated ? spans : null);
    seen = stamp;
  };
  try {
    await refresh();
  } catch (error) {
    clear(body).appendChild(message(describe(error), "error-box"));
    return;
  }
  lifecycle.every(REFRESH_MS, refresh);
}

async function loadSummary(traceId) {
  try {
    return await getThread(traceId, { eventLimit: 1, eventInclude: "" });
  } catch {
    return null;
  }
}

function describe(error) {
  if (error instanceof ApiError && error.status === 404) return "No such trace on this server.";
  return `Could not load the trace: ${error.message}`;
}

function fillSummary(chips, summary) {
  clear(chips);
  const agent = summary.agentName ?? summary.entityName;
  const thread = threadIdOf(summary);
  append(
    chips,
    agent ? chip("agent", link(routeTo("traces") + `?agent=${encodeURIComponent(agent)}`, agent)) : null,
    summary.externalUserId ? chip("user", summary.externalUserId) : null,
    thread ? chip("thread", link(routeTo("thread", thread), thread)) : null,
    chip("started", formatTime(summary.firstEventTimestamp)),
    ...summaryChips(summary),
  );
}

class TraceView {
  constructor(body, traceId) {
    this.body = body;
    this.traceId = traceId;
    this.signature = "";
    this.selectedId = null;
    this.collapsed = null;
  }

  /** `cut`: the response when the server loaded only the trace's first events (`truncated`). */
  update(rawSpans, cut = null) {
    const spansSignature = rawSpans.map((s) => `${s.id}:${s.end ?? ""}:${s.status ?? ""}`).join(",");
    const signature = `${spansSignature}|${cut ? cut.totalEvents : ""}`;
    if (signature === this.signature) return;
    this.signature = signature;
    this.tree = buildTree(rawSpans);
    if (this.collapsed === null) this.collapsed = initialCollapsed(this.tree.spans);
    if (!this.list) this.layout();
    if (!this.tree.spans.length) {
      clear(this.detail).appendChild(message("This trace has no spans yet."));
    }
    this.count.textContent = `${this.tree.spans.length} spans` + cutNote(cut);
    this.axis.replaceWith((this.axis = timeAxis(this.tree.bounds)));
    this.refreshRows();
    if (!this.selectedId && this.tree.roots.length) this.select(this.tree.roots[0].id);
    else if (this.selectedId) this.showDetail();
  }

  layout() {
    clear(this.body);
    const scroll = h("div", { className: "tree-scroll", role: "tree", tabindex: "0" });
    scroll.addEventListener("keydown", (event) => this.onKey(event));
    this.count = h("span", { className: "muted" });
    this.axis = h("div");
    const toolbar = h(
      "div",
      { className: "tree-toolbar" },
      h("button", { type: "button", onclick: () => this.setAll(false) }, "Expand all"),
      h("button", { type: "button", onclick: () => this.setAll(true) }, "Collapse all"),
      h("button", { type: "button", className: "next-error", onclick: () => this.nextError() }, "Next error"),
      this.findInput(),
      this.count,
    );
    const header = h(
      "div",
      { className: "span-row tree-header" },
      h("div", { className: "span-label" }, "Span"),
      h("div", { className: "span-dur" }, "Duration"),
      h("div", { className: "span-track" }, this.axis),
    );
    this.detail = h("aside", { className: "detail-pane" });
    const pane = h("div", { className: "tree-pane" }, toolbar, header, scroll);
    append(this.body, pane, this.detail);
    this.list = new VirtualList(scroll, ROW_HEIGHT, (row) => this.renderRow(row));
  }

  setAll(collapse) {
    this.collapsed = new Set(
      collapse ? this.tree.spans.filter((s) => s.children.length).map((s) => s.id) : [],
    );
    this.refreshRows();
  }

  refreshRows() {
    this.rows = visibleRows(this.tree.roots, this.collapsed, this.matches(this.query));
    this.list.setRows(this.rows);
  }

  findInput() {
    const input = h("input", { type: "search", placeholder: "find spans", "aria-label": "find spans" });
    input.addEventListener("input", () => {
      this.query = input.value.trim().toLowerCase();
      this.refreshRows();
    });
    return input;
  }

  /** The spans whose name, kind or model holds the query, with their ancestors (null: all). */
  matches(query) {
    if (!query) return null;
    const hit = (s) => `${s.name} ${s.kind} ${s.raw.model ?? ""}`.toLowerCase().includes(query);
    return withAncestors(this.tree.spans.filter(hit), this.tree.byId);
  }

  /** Select the next failed span after the selected one (wrapping), unfolding its ancestors. */
  nextError() {
    const failed = this.tree.spans.filter((s) => s.status === "error").sort((a, b) => a.startMs - b.startMs);
    if (!failed.length) return;
    const current = this.tree.byId.get(this.selectedId);
    const next = failed.find((s) => current && s.startMs > current.startMs) ?? failed[0];
    for (let p = next.parentId; p && this.tree.byId.has(p); p = this.tree.byId.get(p).parentId)
      this.collapsed.delete(p);
    this.refreshRows();
    this.select(next.id);
  }

  toggle(spanId) {
    if (this.collapsed.has(spanId)) this.collapsed.delete(spanId);
    else this.collapsed.add(spanId);
    this.refreshRows();
  }

  select(spanId) {
    this.selectedId = spanId;
    this.list.render();
    const index = this.rows.findIndex((row) => row.span.id === spanId);
    if (index >= 0) this.list.scrollToIndex(index);
    this.showDetail();
  }

  showDetail() {
    const span = this.tree.byId.get(this.selectedId);
    if (span) renderSpanDetail(this.detail, span, this.tree.bounds);
  }

  renderRow({ span, depth }) {
    const open = span.children.length > 0 && !this.collapsed.has(span.id);
    const classes = [
      "span-row",
      span.status === "error" ? "is-error" : "",
      span.id === this.selectedId ? "is-selected" : "",
    ];
    return h(
      "div",
      {
        className: classes.join(" ").trim(),
        role: "treeitem",
        "aria-expanded": span.children.length ? String(open) : null,
        "aria-selected": String(span.id === this.selectedId),
        dataset: { spanId: span.id },
        onclick: () => this.select(span.id),
      },
      h(
        "div",
        { className: "span-label", style: { paddingLeft: `${depth * 16 + 4}px` } },
        this.toggleButton(span, open),
        badge(span.kind, span.kind),
        h("span", { className: "span-name", title: span.name }, span.name),
        span.raw.model && !span.name.includes(span.raw.model)
          ? h("span", { className: "muted span-model" }, span.raw.model)
          : null,
        span.status === "error" ? h("span", { className: "error-mark", title: "error" }, "✕") : null,
        span.children.length && !open
          ? h("span", { className: "muted child-count" }, `+${span.children.length}`)
          : null,
      ),
      h("div", { className: "span-dur" }, formatDuration(span.durationMs)),
      h("div", { className: "span-track" }, waterfallBar(span, this.tree.bounds)),
    );
  }

  toggleButton(span, open) {
    if (!span.children.length) return h("span", { className: "toggle" });
    const onclick = (event) => {
      event.stopPropagation();
      this.toggle(span.id);
    };
    return h(
      "button",
      { type: "button", className: "toggle", "aria-label": open ? "collapse" : "expand", onclick },
      open ? "▾" : "▸",
    );
  }

  /** Arrow keys walk the tree: up/down move, left folds (or goes to the parent), right unfolds. */
  onKey(event) {
    const index = this.rows.findIndex((row) => row.span.id === this.selectedId);
    const span = index >= 0 ? this.rows[index].span : null;
    if (!span) return;
    const moves = {
      ArrowDown: () => this.rows[index + 1] && this.select(this.rows[index + 1].span.id),
      ArrowUp: () => this.rows[index - 1] && this.select(this.rows[index - 1].span.id),
      ArrowRight: () => this.collapsed.has(span.id) && this.toggle(span.id),
      ArrowLeft: () =>
        span.children.length && !this.collapsed.has(span.id)
          ? this.toggle(span.id)
          : span.parentId && this.tree.byId.has(span.parentId) && this.select(span.parentId),
    };
    if (!moves[event.key]) return;
    event.preventDefault();
    moves[event.key]();
  }
}

function waterfallBar(span, bounds) {
  if (span.startMs === null) return null;
  const open = span.endMs === null; // no end event (yet): mark where it started, claim no length
  const duration = open ? 0 : (span.durationMs ?? 0);
  const left = ((span.startMs - bounds.start) / bounds.total) * 100;
  const width = Math.max((duration / bounds.total) * 100, 0.4);
  return h("div", {
    className: `bar bar-${span.kind}${span.status === "error" ? " bar-error" : ""}${open ? " bar-open" : ""}`,
    style: { left: `${Math.min(left, 99.6)}%`, width: `${Math.min(width, 100 - Math.min(left, 99.6))}%` },
  });
}

function timeAxis(bounds) {
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) =>
    h(
      "span",
      { className: "tick", style: { left: `${f * 100}%` } },
      f ? formatDuration(bounds.total * f) : "0",
    ),
  );
  return h("div", { className: "axis" }, ticks);
}

/** Says the tree stops early: the server loads at most --max-trace-events events of a trace. */
function cutNote(cut) {
  if (!cut) return "";
  const loaded = Number(cut.loadedEvents ?? 0).toLocaleString("en-US");
  const total = Number(cut.totalEvents ?? 0).toLocaleString("en-US");
  return ` · only the first ${loaded} of ${total} events`;
}
