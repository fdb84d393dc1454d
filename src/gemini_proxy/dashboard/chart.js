// Small bar charts of one series per minute over the last hour, drawn in inline SVG.
// A chart is built once and its bars are moved on each update, so a refresh never flickers.

import { el, setAttr, setText, svgEl } from "./dom.js";
import { clockTime, count } from "./format.js";

const WIDTH = 300;
const HEIGHT = 64;
const BARS = 60;
const STEP = WIDTH / BARS;
const GAP = 1;

export const SERIES = [
  { field: "requests", title: "Requests", unit: "requests", kind: "requests" },
  { field: "errors", title: "Errors", unit: "errors", kind: "errors" },
  { field: "rate_limited", title: "429s", unit: "rate limited", kind: "limited" },
];

export class BarChart {
  /** `series`: one of SERIES. */
  constructor(series) {
    this.series = series;
    this.total = el("span", { class: "chart-total", text: "–" });
    this.peak = el("span", { class: "chart-peak", attrs: { "aria-hidden": "true" } });
    this.svg = svgEl("svg", {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      preserveAspectRatio: "none",
      role: "img",
      class: `chart-svg chart-${series.kind}`,
      focusable: "false",
    });
    this.svg.append(svgEl("line", { x1: 0, x2: WIDTH, y1: HEIGHT - 0.5, y2: HEIGHT - 0.5, class: "chart-base" }));
    this.bars = [];
    for (let i = 0; i < BARS; i += 1) {
      const bar = svgEl("rect", { x: i * STEP + GAP / 2, y: HEIGHT, width: STEP - GAP, height: 0, class: "chart-bar" });
      const tip = svgEl("title");
      bar.append(tip);
      this.svg.append(bar);
      this.bars.push({ bar, tip });
    }
    this.node = el(
      "figure",
      { class: "chart" },
      el("figcaption", {}, el("span", { class: "chart-title", text: series.title }), this.total),
      el("div", { class: "chart-plot" }, this.svg, this.peak),
      el(
        "div",
        { class: "chart-axis", attrs: { "aria-hidden": "true" } },
        el("span", { text: "−60 min" }),
        el("span", { text: "now" }),
      ),
    );
  }

  /** `buckets`: the timeline's 60 buckets, oldest first. */
  update(buckets) {
    const field = this.series.field;
    const values = buckets.map((bucket) => bucket[field]);
    const max = Math.max(1, ...values);
    const total = values.reduce((sum, value) => sum + value, 0);
    buckets.forEach((bucket, i) => {
      const slot = this.bars[i + BARS - buckets.length];
      if (!slot) return;
      const value = values[i];
      const height = value === 0 ? 0 : Math.max(2, (value / max) * (HEIGHT - 4));
      setAttr(slot.bar, "y", (HEIGHT - height).toFixed(2));
      setAttr(slot.bar, "height", height.toFixed(2));
      setText(slot.tip, `${clockTime(Date.parse(bucket.start))}: ${count(value)} ${this.series.unit}`);
    });
    const peak = Math.max(0, ...values);
    setText(this.total, `${count(total)} in the hour`);
    setText(this.peak, peak > 0 ? `max ${count(peak)}/min` : "");
    setAttr(
      this.svg,
      "aria-label",
      `${this.series.title} per minute over the last hour: ${count(total)} in all, at most ${count(peak)} in one minute, ${count(values.at(-1) ?? 0)} this minute.`,
    );
  }
}

/** The three charts of a timeline side by side; `node` goes into the page. */
export class TimelineCharts {
  constructor(label) {
    this.charts = SERIES.map((series) => new BarChart(series));
    this.node = el("div", { class: "chart-row", attrs: { role: "group", "aria-label": label } });
    this.node.append(...this.charts.map((chart) => chart.node));
  }

  update(timeline) {
    for (const chart of this.charts) chart.update(timeline.buckets);
  }
}
