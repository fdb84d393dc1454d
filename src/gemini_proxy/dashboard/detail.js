// The detail view of one key: everything the admin API knows about it, its charts and its
// recent errors, in a modal dialog that follows the live refresh.

import { keyPath } from "./api.js";
import {
  breakable,
  breakerCell,
  cooldownsCell,
  healthCell,
  lastErrorCell,
  liveSince,
  liveUntil,
  stateCell,
  usageCell,
} from "./cells.js";
import { TimelineCharts } from "./chart.js";
import { byId, el, renderIfChanged, setText } from "./dom.js";
import { count, perSecond, percent } from "./format.js";

const OUTCOME_LABELS = {
  success: "Succeeded",
  rate_limited: "Rate limited",
  key_rejected: "Rejected",
  transient: "Transient errors",
  client_error: "Client errors",
};

function fact(label, ...value) {
  return [el("dt", { text: label }), el("dd", {}, ...value)];
}

export class KeyDetail {
  /** onAction(action, ids) runs a key action (with its confirmation). */
  constructor({ onAction }) {
    this.dialog = byId("key-dialog");
    this.title = byId("key-dialog-title");
    this.facts = byId("key-facts");
    this.counters = byId("key-counters");
    this.rate = byId("key-rate");
    this.errors = byId("key-errors");
    this.toggle = byId("key-toggle");
    this.charts = new TimelineCharts("Calls of this key per minute, last hour");
    byId("key-charts").append(this.charts.node);
    this.id = null;
    byId("key-dialog-close").addEventListener("click", () => this.close());
    this.dialog.addEventListener("close", () => {
      this.id = null;
    });
    for (const button of this.dialog.querySelectorAll("[data-action]")) {
      button.addEventListener("click", () => {
        if (this.id) onAction(button.dataset.action, [this.id]);
      });
    }
  }

  get isOpen() {
    return this.id !== null;
  }

  /** Open for `key` (a Key object we already have); details follow from `refresh`. */
  open(key, now) {
    this.id = key.id;
    this.facts.dataset.sig = "";
    this.errors.dataset.sig = "";
    this.show(key, now);
    if (!this.dialog.open) this.dialog.showModal();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
    this.id = null;
  }

  /** Fetch the key, its timeline and errors, and show them (a removed key closes the view). */
  async refresh(api) {
    const id = this.id;
    if (!id) return;
    const [key, timeline, errors] = await Promise.all([
      api.get(keyPath(id)),
      api.get(keyPath(id, "/timeline")),
      api.get(keyPath(id, "/errors")),
    ]);
    if (this.id !== id) return;
    const now = api.now();
    this.show(key, now);
    this.charts.update(timeline);
    setText(
      this.rate,
      `${perSecond(timeline.requests_per_s)} calls/s now` +
        (timeline.error_ratio === null ? "" : ` · ${percent(timeline.error_ratio)} failed in the last 5 min`),
    );
    renderIfChanged(this.errors, JSON.stringify(errors.errors), () => this.#errorRows(errors.errors, now));
  }

  show(key, now) {
    setText(this.title, key.name);
    const disabled = key.state === "disabled";
    this.toggle.dataset.action = disabled ? "enable" : "disable";
    setText(this.toggle, disabled ? "Enable" : "Disable");
    const sig = JSON.stringify({ ...key, counters: null });
    renderIfChanged(this.facts, sig, () => [
      el(
        "dl",
        { class: "facts" },
        ...fact("Key", el("span", { class: "mono", text: key.masked })),
        ...fact("Id", el("span", { class: "mono", text: key.id })),
        ...fact("Project", key.project ?? "—"),
        ...fact("Source", key.source === "admin" ? "added here " : "configuration", key.added_at ? liveSince(key.added_at, now) : null),
        ...fact("Weight", String(key.weight)),
        ...fact("State", ...stateCell(key, now)),
        ...fact("Health", ...healthCell(key)),
        ...fact("Breaker", ...breakerCell(key, now)),
        ...fact("Cooldowns", ...cooldownsCell(key, now)),
        ...fact("Limits", ...usageCell(key)),
        ...fact("Last error", ...lastErrorCell(key, now)),
        ...(key.disabled?.at ? fact("Disabled", liveSince(key.disabled.at, now)) : []),
        ...(key.breaker.open_until ? fact("Breaker trial", liveUntil(key.breaker.open_until, now)) : []),
      ),
    ]);
    renderIfChanged(this.counters, JSON.stringify(key.counters), () => {
      const { requests, failures, in_flight: inFlight, outcomes } = key.counters;
      const items = [
        ["Requests", requests],
        ["Errors", failures],
        ["In flight", inFlight],
        ...Object.entries(outcomes)
          .filter(([, n]) => n > 0)
          .map(([kind, n]) => [OUTCOME_LABELS[kind] ?? kind, n]),
      ];
      return [
        el(
          "ul",
          { class: "counters" },
          ...items.map(([label, n]) =>
            el(
              "li",
              {},
              el("span", { class: "counter-label", text: label }),
              el("span", { class: "counter-value", text: count(n) }),
            ),
          ),
        ),
      ];
    });
  }

  #errorRows(errors, now) {
    if (errors.length === 0) return [el("p", { class: "muted", text: "No recent errors." })];
    const body = el("tbody");
    for (const error of errors) {
      body.append(
        el(
          "tr",
          {},
          el("td", {}, liveSince(error.at, now)),
          el("td", { text: error.source }),
          el("td", { text: error.kind ? error.kind.replace("_", " ") : "—" }),
          el("td", { text: error.model ?? "—" }),
          el("td", { class: "error-reason" }, breakable(error.reason)),
          el("td", { class: "num", text: error.duration_ms === null ? "—" : `${Math.round(error.duration_ms)} ms` }),
        ),
      );
    }
    const head = el(
      "tr",
      {},
      ...["When", "Source", "Kind", "Model", "Reason", "Duration"].map((label) =>
        el("th", { text: label, attrs: { scope: "col" } }),
      ),
    );
    return [
      el(
        "div",
        { class: "table-wrap" },
        el("table", { class: "errors" }, el("caption", { class: "visually-hidden", text: "Recent errors" }), el("thead", {}, head), body),
      ),
    ];
  }
}
