// Small SVG charts for the dashboard: lines and (stacked) bars over time buckets, with axes,
// ticks, hover values and a table of the same numbers as the text alternative; and the number
// formats the dashboard shows them in.
//
// Every label is set with textContent; colours come from classes in style.css (the page's
// Content-Security-Policy allows no inline style attributes, and needs none here).

import { formatDuration, h } from "./dom.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 200;
const MARGIN = { left: 58, right: 10, top: 10, bottom: 24 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
const RIGHT = WIDTH - MARGIN.right;
const X_TICKS = 6;

/** An SVG element; attribute values are numbers or our own strings, never server text. */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {}))
    if (value !== undefined && value !== null) el.setAttribute(name, String(value));
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A round step for about `count` ticks up to `max`: 1, 2, 2.5 or 5 times a power of ten. */
export function niceTicks(max, count = 4) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * power).find((s) => s >= raw);
  const ticks = [];
  for (let i = 0; i <= Math.ceil(max / step - 1e-9); i += 1) ticks.push(+(i * step).toPrecision(12));
  return ticks;
}

/**
 * Start of a bucket as a short label in the browser's time zone; days only when buckets are a
 * day or longer, and then the UTC date: they start at midnight UTC, which west of UTC is the
 * evening before.
 */
export function bucketLabel(iso, bucketSeconds, withDate) {
  const date = new Date(iso);
  const dayOf = (timeZone) => date.toLocaleDateString([], { month: "short", day: "numeric", timeZone });
  if (bucketSeconds >= 86400) return dayOf("UTC");
  const day = dayOf(undefined);
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  return withDate ? `${day} ${time}` : time;
}

/**
 * A chart figure. spec = {id, title, kind: "bars"|"stacked"|"lines", buckets: [ISO start],
 * bucketSeconds, series: [{key, label, values: [number|null]}], format(v), tick(v) for the
 * axis (else format), missing: text for null}. Returns <figure> with the SVG, a hover read-out
 * and the values as a table.
 */
export function chart(spec) {
  const top = scaleTop(spec);
  const geometry = { n: spec.buckets.length, top };
  const plot = svg("g", { class: "plot" });
  if (spec.kind === "lines") drawLines(plot, spec, geometry);
  else drawBars(plot, spec, geometry);
  const guide = svg("line", { class: "guide", y1: MARGIN.top, y2: MARGIN.top + PLOT_H });
  guide.setAttribute("visibility", "hidden");
  const picture = svg(
    "svg",
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": describe(spec) },
    yAxis(spec, top),
    xAxis(spec),
    plot,
    guide,
    hitAreas(spec.buckets.length),
  );
  const readout = h("div", { className: "chart-readout", hidden: true, "aria-hidden": "true" });
  const frame = h("div", { className: "chart-frame" }, picture, readout);
  hover(picture, guide, readout, spec);
  return h(
    "figure",
    { className: `chart chart-${spec.id}`, dataset: { chart: spec.id } },
    h("figcaption", {}, h("span", { className: "chart-title" }, spec.title), legend(spec)),
    frame,
    dataTable(spec),
  );
}

function scaleTop(spec) {
  let max = 0;
  for (let i = 0; i < spec.buckets.length; i += 1) {
    const stacked = spec.kind === "stacked";
    let sum = 0;
    for (const series of spec.series) {
      const value = series.values[i] ?? 0;
      if (stacked) sum += value;
      else max = Math.max(max, value);
    }
    max = Math.max(max, sum);
  }
  const ticks = niceTicks(max);
  return ticks[ticks.length - 1];
}

const xOf = (i, n) => MARGIN.left + ((i + 0.5) * PLOT_W) / n;
const yOf = (value, top) => MARGIN.top + PLOT_H - (value / top) * PLOT_H;

/** One rect per non-empty value (stacked bottom-up in series order); null draws nothing. */
function drawBars(plot, spec, { n, top }) {
  const band = PLOT_W / n;
  const width = Math.max(band * 0.8, 0.5);
  for (let i = 0; i < n; i += 1) {
    let base = 0;
    spec.series.forEach((series, s) => {
      const value = series.values[i];
      if (value === null || value === undefined || value <= 0) return;
      const y = yOf(base + value, top);
      const attrs = { class: `col s${s}`, x: xOf(i, n) - width / 2, y, width, "data-i": i };
      plot.appendChild(svg("rect", { ...attrs, height: Math.max(yOf(base, top) - y, 0.5) }));
      base += value;
    });
  }
}

/** One path per series, broken where a value is null, and a point per value. */
function drawLines(plot, spec, { n, top }) {
  const radius = n > 60 ? 1.3 : 2.2; // dense ranges: the line carries the shape, dots stay small
  spec.series.forEach((series, s) => {
    let d = "";
    let open = false;
    const points = svg("g", { class: `points s${s}` });
    series.values.forEach((value, i) => {
      if (value === null || value === undefined) {
        open = false;
        return;
      }
      const [x, y] = [xOf(i, n).toFixed(1), yOf(value, top).toFixed(1)];
      d += `${open ? "L" : "M"}${x} ${y}`;
      open = true;
      points.appendChild(svg("circle", { class: "point", cx: x, cy: y, r: radius, "data-i": i }));
    });
    plot.appendChild(svg("path", { class: `line s${s}`, d: d || "M0 0", "data-series": series.key }));
    plot.appendChild(points);
  });
}

function yAxis(spec, top) {
  const axis = svg("g", { class: "axis axis-y" });
  for (const tick of niceTicks(top)) {
    const y = yOf(tick, top);
    axis.appendChild(svg("line", { class: "grid-line", x1: MARGIN.left, x2: RIGHT, y1: y, y2: y }));
    const text = (spec.tick ?? spec.format)(tick);
    const label = svg("text", { x: MARGIN.left - 6, y: y + 3.5, "text-anchor": "end" }, text);
    axis.appendChild(label);
  }
  return axis;
}

function xAxis(spec) {
  const n = spec.buckets.length;
  const axis = svg("g", { class: "axis axis-x" });
  const bottom = MARGIN.top + PLOT_H;
  axis.appendChild(svg("line", { class: "base-line", x1: MARGIN.left, x2: RIGHT, y1: bottom, y2: bottom }));
  const spansDays = n * spec.bucketSeconds > 86400;
  const every = Math.max(1, Math.ceil(n / X_TICKS));
  for (let i = 0; i < n; i += every) {
    const x = xOf(i, n);
    axis.appendChild(svg("line", { class: "tick-mark", x1: x, x2: x, y1: bottom, y2: bottom + 4 }));
    const text = bucketLabel(spec.buckets[i], spec.bucketSeconds, spansDays);
    axis.appendChild(svg("text", { class: "x-tick", x, y: bottom + 16, "text-anchor": "middle" }, text));
  }
  return axis;
}

/** Invisible full-height columns, one per bucket, that the pointer reads values from. */
function hitAreas(n) {
  const layer = svg("g", { class: "hits" });
  const band = PLOT_W / n;
  for (let i = 0; i < n; i += 1) {
    const column = { x: MARGIN.left + i * band, y: MARGIN.top, width: band, height: PLOT_H };
    layer.appendChild(svg("rect", { class: "hit", ...column, "data-i": i }));
  }
  return layer;
}

function hover(picture, guide, readout, spec) {
  picture.addEventListener("mouseover", (event) => {
    const index = event.target.dataset?.i;
    if (index === undefined) return;
    const i = Number(index);
    const x = xOf(i, spec.buckets.length);
    guide.setAttribute("x1", x);
    guide.setAttribute("x2", x);
    guide.setAttribute("visibility", "visible");
    fillReadout(readout, spec, i);
    readout.hidden = false;
    // CSSOM (not a style attribute), which the page's CSP allows.
    readout.style.left = `${(x / WIDTH) * 100}%`;
    readout.classList.toggle("flip", x > WIDTH * 0.6);
  });
  picture.addEventListener("mouseleave", () => {
    guide.setAttribute("visibility", "hidden");
    readout.hidden = true;
  });
}

function fillReadout(readout, spec, i) {
  readout.replaceChildren(
    h("div", { className: "readout-time" }, bucketLabel(spec.buckets[i], spec.bucketSeconds, true)),
    ...spec.series.map((series, s) =>
      h(
        "div",
        { className: "readout-row" },
        h("span", { className: `swatch s${s}` }),
        `${series.label}: `,
        h("b", {}, valueText(spec, series.values[i], i)),
      ),
    ),
  );
}

/** A value as text; null reads as `spec.missing` (a text, or a function of the bucket index). */
export function valueText(spec, value, i) {
  if (value !== null && value !== undefined) return spec.format(value);
  return typeof spec.missing === "function" ? spec.missing(i) : spec.missing;
}

function legend(spec) {
  if (spec.series.length < 2) return null;
  return h(
    "span",
    { className: "legend" },
    spec.series.map((series, s) =>
      h("span", { className: "legend-item" }, h("span", { className: `swatch s${s}` }), series.label),
    ),
  );
}

/** A sentence for screen readers: what the chart shows, its range and its peak. */
function describe(spec) {
  const n = spec.buckets.length;
  const first = spec.buckets[0];
  const last = spec.buckets[n - 1];
  const peaks = spec.series.map((series) => {
    const values = series.values.filter((v) => v !== null && v !== undefined);
    const peak = values.length ? spec.format(Math.max(...values)) : "none";
    return `${series.label} peak ${peak}`;
  });
  const peaksText = peaks.join(", ");
  return `${spec.title}, ${n} buckets from ${first} to ${last}: ${peaksText}. Values in the table below.`;
}

/**
 * The chart's numbers, one row per bucket: the text alternative and a way to copy them.
 * Built when first opened, so a long range costs nothing until someone reads it.
 */
function dataTable(spec) {
  const summary = h("summary", {}, `${spec.title}: values as a table`);
  const details = h("details", { className: "chart-data" }, summary);
  details.addEventListener("toggle", () => {
    if (details.open && !details.querySelector("table")) details.appendChild(valuesTable(spec));
  });
  return details;
}

function valuesTable(spec) {
  const titles = spec.series.map((s) => h("th", { className: "num" }, s.label));
  const head = h("tr", {}, h("th", {}, "Bucket start"), titles);
  const rows = spec.buckets.map((start, i) =>
    h(
      "tr",
      {},
      h("td", {}, h("time", { dateTime: start }, bucketLabel(start, spec.bucketSeconds, true))),
      spec.series.map((series) => h("td", { className: "num" }, valueText(spec, series.values[i], i))),
    ),
  );
  return h("table", { className: "grid compact" }, h("thead", {}, head), h("tbody", {}, rows));
}

// Numbers as shown: counts in full, cost "no price" when nothing was priced (never $0).
export const fmt = {
  count: (n) => Math.round(n).toLocaleString("en-US"),
  percent: (r) => `${(r * 100).toFixed(1)}%`,
  ms: (v) => formatDuration(v),
  usd: (v) => (v === null || v === undefined ? "no price" : usdText(v)),
  // The cost of what made `llmCalls` calls: with calls but none priced, "no price"; without
  // any, nothing to price ("—").
  callsCost: (stats) => (stats.llmCalls ? fmt.usd(stats.costUsd) : "—"),
};

/** Dollars: cents from $1 up, two significant digits below (a cent's fraction is common). */
function usdText(v) {
  if (v === 0 || Math.abs(v) >= 1) return `$${v.toFixed(2)}`;
  if (Math.abs(v) < 0.0001) return "<$0.0001";
  return `$${v.toPrecision(2)}`;
}
