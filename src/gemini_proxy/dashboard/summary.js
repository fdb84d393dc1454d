// The pool summary at the top: keys by state, rates, recovery, store, models and charts.

import { liveUntil } from "./cells.js";
import { TimelineCharts } from "./chart.js";
import { byId, el, renderIfChanged, setAttr, setText } from "./dom.js";
import { STATES, STATE_LABELS, count, perSecond, percent } from "./format.js";

export class PoolSummary {
  /** onStateFilter(state or "") when a state count is pressed. */
  constructor({ onStateFilter }) {
    this.total = byId("stat-total");
    this.rps = byId("stat-rps");
    this.errorRate = byId("stat-error-rate");
    this.errorNote = byId("stat-error-note");
    this.recovery = byId("stat-recovery");
    this.inFlight = byId("stat-inflight");
    this.store = byId("stat-store");
    this.storeNote = byId("stat-store-note");
    this.storeCard = byId("stat-store-card");
    this.unusable = byId("pool-unusable");
    this.models = byId("models-body");
    this.charts = new TimelineCharts("Calls of the pool per minute, last hour");
    byId("pool-charts").append(this.charts.node);
    this.stateButtons = new Map();
    const counts = byId("state-counts");
    for (const state of [...STATES].reverse()) {
      const value = el("span", { class: "num", text: "–" });
      const button = el(
        "button",
        {
          class: `state-count state-${state}`,
          attrs: { type: "button", "aria-pressed": "false" },
          on: { click: () => onStateFilter(button.getAttribute("aria-pressed") === "true" ? "" : state) },
        },
        el("span", { class: "dot", attrs: { "aria-hidden": "true" } }),
        el("span", { text: STATE_LABELS[state] }),
        value,
      );
      this.stateButtons.set(state, { button, value });
      counts.append(button);
    }
  }

  /** Which state the table is filtered by ("" for none). */
  showFilter(state) {
    for (const [name, { button }] of this.stateButtons) setAttr(button, "aria-pressed", String(name === state));
  }

  update(pool, timeline, now) {
    setText(this.total, count(pool.keys.total));
    for (const [state, { button, value }] of this.stateButtons) {
      const n = pool.keys[state];
      setText(value, count(n));
      button.classList.toggle("is-zero", n === 0);
      setAttr(button, "aria-label", `${STATE_LABELS[state]}: ${n} key${n === 1 ? "" : "s"}. Show only these`);
    }
    this.unusable.hidden = pool.usable;
    setText(this.rps, perSecond(timeline.requests_per_s));
    setText(this.errorRate, timeline.error_ratio === null ? "—" : percent(timeline.error_ratio));
    this.errorRate.classList.toggle("is-bad", (timeline.error_ratio ?? 0) >= 0.2);
    setText(this.errorNote, timeline.error_ratio === null ? "no calls in the last 5 min" : "errors and 429s, last 5 min");
    renderIfChanged(this.recovery, String(pool.earliest_recovery), () =>
      pool.earliest_recovery ? [liveUntil(pool.earliest_recovery, now)] : [el("span", { text: "nothing waits" })],
    );
    setText(this.inFlight, count(pool.in_flight));
    setText(this.store, pool.store.backend);
    const fallback = pool.store.name === "resilient" && pool.store.backend === "json";
    setText(this.storeNote, fallback ? "SQLite failed: writing the JSON fallback" : `${pool.store.name} store`);
    this.storeCard.classList.toggle("is-warning", fallback);
    renderIfChanged(this.models, JSON.stringify(pool.models), () => this.#modelRows(pool, now));
    this.charts.update(timeline);
  }

  #modelRows(pool, now) {
    if (pool.models.length === 0) {
      return [el("tr", {}, el("td", { attrs: { colspan: 4 }, class: "muted", text: "No model in use yet." }))];
    }
    return pool.models.map((model) => {
      let recovery;
      if (model.available > 0) recovery = el("span", { class: "ok", text: "now" });
      else if (model.earliest_recovery) recovery = liveUntil(model.earliest_recovery, now);
      else recovery = el("span", { class: "bad", text: "not by itself" });
      return el(
        "tr",
        { class: model.available === 0 ? "is-unavailable" : "" },
        el("th", { attrs: { scope: "row" }, class: "mono", text: model.model }),
        el("td", { class: "num", text: `${count(model.available)} of ${count(pool.keys.total)}` }),
        el("td", { class: "num", text: count(model.cooling) }),
        el("td", {}, recovery),
      );
    });
  }
}
