// Numbers that describe a trace: duration, tokens (cache tokens apart), events, errors.

import { formatCount, formatDuration, h } from "./dom.js";

export function tokenParts(source) {
  const s = source || {};
  return {
    prompt: s.promptTokens ?? s.inputTokens ?? null,
    completion: s.completionTokens ?? s.outputTokens ?? null,
    total: s.totalTokens ?? null,
    cacheRead: s.cacheReadTokens ?? null,
    cacheWrite: s.cacheCreationTokens ?? s.cacheWriteTokens ?? null,
  };
}

/** "1.2k in · 340 out" plus a separate cache line when any cache tokens were used. */
export function tokenCell(source) {
  const t = tokenParts(source);
  if (t.prompt === null && t.completion === null && t.total === null)
    return h("span", { className: "muted" }, "—");
  const main =
    t.prompt !== null || t.completion !== null
      ? `${formatCount(t.prompt ?? 0)} in · ${formatCount(t.completion ?? 0)} out`
      : `${formatCount(t.total)} total`;
  const cache =
    t.cacheRead || t.cacheWrite
      ? h(
          "span",
          { className: "cache" },
          `cache ${formatCount(t.cacheRead ?? 0)} read · ${formatCount(t.cacheWrite ?? 0)} write`,
        )
      : null;
  return h("span", { className: "tokens" }, h("span", {}, main), cache);
}

export function durationOf(summary) {
  const value = summary.duration ?? summary.durationMs;
  if (typeof value === "number") return value;
  const first = Date.parse(summary.firstEventTimestamp ?? "");
  const last = Date.parse(summary.lastEventTimestamp ?? "");
  return Number.isNaN(first) || Number.isNaN(last) ? null : last - first;
}

export function summaryChips(summary) {
  const errors = summary.errorCount ?? 0;
  return [
    chip("duration", formatDuration(durationOf(summary))),
    chip("tokens", tokenCell(summary)),
    chip("events", formatCount(summary.eventCount)),
    chip("errors", h("span", { className: errors ? "error-text" : "" }, String(errors))),
  ];
}

export function chip(label, value) {
  return h("span", { className: "chip" }, h("span", { className: "chip-label" }, label), value);
}
