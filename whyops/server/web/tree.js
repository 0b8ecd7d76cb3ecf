// Span trees: normalising the spans API, flattening the visible rows, and a
// virtualised list so a trace with thousands of spans stays responsive.

import { h, clear } from "./dom.js";

/** ISO timestamp (microseconds kept) or epoch number -> epoch milliseconds. */
export function toMs(value) {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value === "number") {
    if (value > 1e17) return value / 1e6; // nanoseconds
    if (value > 1e14) return value / 1e3; // microseconds
    return value;
  }
  const text = String(value);
  const match = text.match(/^(.*?)(\.(\d+))?(Z|[+-]\d\d:?\d\d)$/);
  if (!match) return Date.parse(text);
  const whole = Date.parse(`${match[1]}${match[4]}`);
  const fraction = match[3] ? Number(`0.${match[3]}`) * 1000 : 0;
  return whole + fraction;
}

export function normalizeSpan(raw) {
  const kind = raw.kind ?? raw.spanKind ?? "span";
  const startMs = toMs(raw.start ?? raw.startTime ?? raw.timestamp);
  let endMs = toMs(raw.end ?? raw.endTime);
  let durationMs = raw.durationMs ?? raw.duration ?? null;
  if (endMs === null && startMs !== null && durationMs !== null) endMs = startMs + durationMs;
  if (durationMs === null && startMs !== null && endMs !== null) durationMs = endMs - startMs;
  const status = raw.status ?? (raw.error ? "error" : "ok");
  return {
    id: String(raw.id ?? raw.spanId),
    parentId: raw.parentSpanId ? String(raw.parentSpanId) : null,
    kind,
    name: String(raw.name ?? raw.spanName ?? kind),
    startMs,
    endMs,
    durationMs,
    status,
    raw,
    children: [],
  };
}

const byStart = (a, b) => (a.startMs ?? 0) - (b.startMs ?? 0);

/** Link spans to their parents; spans whose parent is unknown become roots. */
export function buildTree(rawSpans) {
  const spans = rawSpans.map(normalizeSpan);
  const byId = new Map(spans.map((s) => [s.id, s]));
  const roots = [];
  for (const span of spans) {
    const parent = span.parentId && span.parentId !== span.id ? byId.get(span.parentId) : null;
    if (parent) parent.children.push(span);
    else roots.push(span);
  }
  for (const span of spans) span.children.sort(byStart);
  adoptUnreachable(spans, roots, byId);
  roots.sort(byStart);
  return { roots, spans, byId, bounds: bounds(spans) };
}

/** Spans in a parent cycle are reachable from no root: make them roots, so none is lost. */
function adoptUnreachable(spans, roots, byId) {
  const seen = new Set();
  const stack = [...roots];
  while (stack.length) {
    const span = stack.pop();
    seen.add(span.id);
    stack.push(...span.children);
  }
  for (const span of spans) {
    if (seen.has(span.id)) continue;
    const parent = byId.get(span.parentId);
    parent.children = parent.children.filter((c) => c !== span);
    span.parentId = null;
    roots.push(span);
    const below = [span];
    while (below.length) {
      const s = below.pop();
      seen.add(s.id);
      below.push(...s.children);
    }
  }
}

function bounds(spans) {
  let start = Infinity;
  let end = -Infinity;
  for (const span of spans) {
    if (span.startMs !== null) start = Math.min(start, span.startMs);
    if (span.endMs !== null) end = Math.max(end, span.endMs);
  }
  if (start === Infinity) return { start: 0, end: 1, total: 1 };
  if (end < start) end = start;
  return { start, end, total: Math.max(end - start, 0.001) };
}

/**
 * Depth-first list of the rows to show, skipping the children of collapsed spans.
 * With `keep` (a set of span ids, closed under ancestors), only those spans are shown,
 * unfolded, so every match stays visible in its place in the tree.
 */
export function visibleRows(roots, collapsed, keep = null) {
  const rows = [];
  const stack = roots.map((span) => [span, 0]).reverse();
  while (stack.length) {
    const [span, depth] = stack.pop();
    if (keep && !keep.has(span.id)) continue;
    rows.push({ span, depth });
    if (!keep && collapsed.has(span.id)) continue;
    for (let i = span.children.length - 1; i >= 0; i -= 1) stack.push([span.children[i], depth + 1]);
  }
  return rows;
}

/** The ids of the given spans and of all their ancestors. */
export function withAncestors(spans, byId) {
  const keep = new Set();
  for (const span of spans) {
    for (let s = span; s && !keep.has(s.id); s = s.parentId ? byId.get(s.parentId) : null) keep.add(s.id);
  }
  return keep;
}

/** Spans collapsed at first: the children of very wide spans, so long loops stay folded. */
export function initialCollapsed(spans, maxChildren = 2000) {
  return new Set(spans.filter((s) => s.children.length > maxChildren).map((s) => s.id));
}

/**
 * A list that only keeps the rows in view (plus a margin) in the DOM.
 * renderRow(row, index) returns an element; rows share one fixed height.
 */
export class VirtualList {
  constructor(container, rowHeight, renderRow) {
    this.container = container;
    this.rowHeight = rowHeight;
    this.renderRow = renderRow;
    this.rows = [];
    this.spacer = h("div", { className: "vlist-spacer" });
    this.layer = h("div", { className: "vlist-layer" });
    container.appendChild(this.spacer);
    container.appendChild(this.layer);
    this.pending = false;
    container.addEventListener("scroll", () => this.schedule());
  }

  setRows(rows) {
    this.rows = rows;
    this.spacer.style.height = `${rows.length * this.rowHeight}px`;
    this.container.style.height = `${rows.length * this.rowHeight + 1}px`;
    this.render();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  render() {
    const margin = 20;
    const height = this.container.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.container.scrollTop / this.rowHeight) - margin);
    const last = Math.min(this.rows.length, first + Math.ceil(height / this.rowHeight) + 2 * margin);
    clear(this.layer);
    this.layer.style.transform = `translateY(${first * this.rowHeight}px)`;
    for (let i = first; i < last; i += 1) this.layer.appendChild(this.renderRow(this.rows[i], i));
  }

  scrollToIndex(index) {
    const top = index * this.rowHeight;
    const view = this.container.clientHeight;
    if (top < this.container.scrollTop || top > this.container.scrollTop + view - this.rowHeight) {
      this.container.scrollTop = Math.max(0, top - view / 3);
    }
  }
}
