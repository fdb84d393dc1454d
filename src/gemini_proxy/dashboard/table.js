// The key table: one row per key, updated in place on every refresh (a cell is rebuilt
// only when what it shows changed), sorted and filtered on the client.

import {
  breakerCell,
  breakerSignature,
  cooldownsCell,
  cooldownsSignature,
  errorsCell,
  healthCell,
  lastErrorCell,
  requestsCell,
  stateCell,
  stateSignature,
  usageCell,
  usageSignature,
} from "./cells.js";
import { el, renderIfChanged, setAttr, setText } from "./dom.js";
import { STATES, parseTime } from "./format.js";

/** Rows shown at most; a larger pool asks for a narrower filter. */
export const MAX_ROWS = 500;

const RANK = Object.fromEntries(STATES.map((state, i) => [state, i]));

/** Sort keys: a value to compare for each key (`index` is its place in pool order). */
export const SORTS = {
  pool: { label: "Pool order", value: (key, index) => index },
  name: { label: "Name", value: (key) => key.name.toLowerCase() },
  state: { label: "State", value: (key) => RANK[key.state] ?? 99 },
  health: { label: "Health", value: (key) => key.health },
  breaker: { label: "Breaker level", value: (key) => key.breaker.level },
  cooldown: {
    label: "Next recovery",
    value: (key) => Math.min(Infinity, ...key.cooldowns.map((c) => parseTime(c.until) ?? Infinity)),
  },
  requests: { label: "Requests", value: (key) => key.counters.requests },
  errors: { label: "Errors", value: (key) => key.counters.failures },
  last_error: { label: "Last error", value: (key) => parseTime(key.last_error?.at) ?? 0 },
};

/** Each row's actions: `toggle` becomes Enable or Disable with the key's state. */
export const ROW_ACTIONS = ["toggle", "probe", "reset", "delete"];

function matches(key, text, state) {
  if (state && key.state !== state) return false;
  if (!text) return true;
  const haystack = [key.name, key.masked, key.id, key.project ?? "", key.state, key.last_error?.reason ?? ""]
    .join(" ")
    .toLowerCase();
  return text
    .toLowerCase()
    .split(/\s+/)
    .every((word) => haystack.includes(word));
}

class KeyRow {
  constructor(key, table) {
    this.id = key.id;
    this.select = el("input", {
      attrs: { type: "checkbox" },
      on: { change: () => table.toggleSelected(this.id, this.select.checked) },
    });
    this.nameButton = el("button", {
      class: "link key-name",
      attrs: { type: "button", "aria-haspopup": "dialog" },
      on: { click: () => table.onOpen(this.id) },
    });
    this.masked = el("div", { class: "mono masked" });
    this.project = el("div", { class: "sub" });
    this.toggle = el("button", { class: "btn btn-small", attrs: { type: "button" } });
    this.toggle.addEventListener("click", () => table.onAction(this.toggle.dataset.action, [this.id]));
    const actionButton = (action, label, extra = "") =>
      el("button", {
        class: `btn btn-small ${extra}`,
        text: label,
        attrs: { type: "button" },
        dataset: { action },
        on: { click: () => table.onAction(action, [this.id]) },
      });
    this.actionButtons = [
      this.toggle,
      actionButton("probe", "Probe"),
      actionButton("reset", "Reset"),
      actionButton("delete", "Delete", "btn-danger-quiet"),
    ];
    // Each cell holds one container (a phone shows the label beside it, see app.css).
    const tds = [];
    const cell = (label, cls, content = el("div", { class: "cell" })) => {
      tds.push(el("td", { class: cls, dataset: { label } }, content));
      return content;
    };
    this.cells = {
      state: cell("State", "col-state"),
      health: cell("Health", "col-health"),
      breaker: cell("Breaker", "col-breaker"),
      cooldowns: cell("Cooldowns", "col-cooldowns"),
      usage: cell("Limits", "col-usage"),
      requests: cell("Requests", "col-num"),
      errors: cell("Errors", "col-num"),
      lastError: cell("Last error", "col-error"),
    };
    cell("Actions", "col-actions", el("div", { class: "row-actions" }, ...this.actionButtons));
    this.tr = el(
      "tr",
      { dataset: { keyId: key.id } },
      el("td", { class: "col-select" }, this.select),
      el("th", { class: "col-key", attrs: { scope: "row" } }, this.nameButton, this.masked, this.project),
      ...tds,
    );
  }

  update(key, now) {
    this.key = key;
    setText(this.nameButton, key.name);
    setAttr(this.nameButton, "aria-label", `Details of ${key.name}`);
    setText(this.masked, key.masked);
    setAttr(this.masked, "title", `id ${key.id}`);
    setText(this.project, key.project ? `project ${key.project}` : "");
    this.project.hidden = !key.project;
    setAttr(this.select, "aria-label", `Select ${key.name}`);
    setAttr(this.tr, "data-state", key.state);
    const disabled = key.state === "disabled";
    this.toggle.dataset.action = disabled ? "enable" : "disable";
    setText(this.toggle, disabled ? "Enable" : "Disable");
    for (const button of this.actionButtons) {
      setAttr(button, "aria-label", `${button.textContent} ${key.name}`);
    }
    const c = this.cells;
    renderIfChanged(c.state, stateSignature(key), () => stateCell(key, now));
    renderIfChanged(c.health, String(key.health), () => healthCell(key));
    renderIfChanged(c.breaker, breakerSignature(key), () => breakerCell(key, now));
    renderIfChanged(c.cooldowns, cooldownsSignature(key), () => cooldownsCell(key, now));
    renderIfChanged(c.usage, usageSignature(key), () => usageCell(key));
    renderIfChanged(c.requests, JSON.stringify([key.counters.requests, key.counters.in_flight]), () =>
      requestsCell(key),
    );
    renderIfChanged(c.errors, JSON.stringify(key.counters), () => errorsCell(key));
    renderIfChanged(c.lastError, JSON.stringify(key.last_error), () => lastErrorCell(key, now));
  }
}

export class KeyTable {
  /**
   * tbody, selectAll (checkbox), footer: elements of the page.
   * onAction(action, ids), onOpen(id), onChange(): callbacks into the app.
   */
  constructor({ tbody, selectAll, footer, onAction, onOpen, onChange }) {
    this.tbody = tbody;
    this.selectAll = selectAll;
    this.footer = footer;
    this.onAction = onAction;
    this.onOpen = onOpen;
    this.onChange = onChange;
    this.rows = new Map();
    this.keys = [];
    this.visible = [];
    this.selected = new Set();
    this.filter = { text: "", state: "" };
    this.sort = { by: "pool", descending: false };
    this.empty = el("tr", { class: "empty-row" }, el("td", { attrs: { colspan: 11 } }));
    selectAll.addEventListener("change", () => this.selectVisible(selectAll.checked));
  }

  /** New data from GET /admin/keys. */
  setKeys(keys, now) {
    this.keys = keys;
    const present = new Set();
    for (const key of keys) {
      present.add(key.id);
      let row = this.rows.get(key.id);
      if (!row) {
        row = new KeyRow(key, this);
        this.rows.set(key.id, row);
      }
      row.update(key, now);
    }
    for (const id of [...this.rows.keys()]) {
      if (!present.has(id)) {
        this.rows.get(id).tr.remove();
        this.rows.delete(id);
        this.selected.delete(id);
      }
    }
    this.render();
  }

  setFilter(filter) {
    this.filter = { ...this.filter, ...filter };
    this.render();
  }

  setSort(by, descending) {
    this.sort = { by, descending };
    this.render();
  }

  key(id) {
    return this.rows.get(id)?.key ?? null;
  }

  /** Put the visible rows in order; rows already in place are not touched. */
  render() {
    const { text, state } = this.filter;
    const sort = SORTS[this.sort.by] ?? SORTS.pool;
    const direction = this.sort.descending ? -1 : 1;
    const matching = this.keys
      .map((key, index) => ({ key, value: sort.value(key, index), index }))
      .filter(({ key }) => matches(key, text.trim(), state));
    matching.sort((a, b) => {
      if (a.value < b.value) return -direction;
      if (a.value > b.value) return direction;
      return a.index - b.index;
    });
    const shown = matching.slice(0, MAX_ROWS).map(({ key }) => this.rows.get(key.id).tr);
    this.visible = matching.slice(0, MAX_ROWS).map(({ key }) => key.id);
    if (shown.length === 0) {
      const message = this.keys.length === 0 ? "The pool has no keys." : "No key matches the filter.";
      setText(this.empty.firstChild, message);
      shown.push(this.empty);
    }
    const current = [...this.tbody.children];
    if (current.length !== shown.length || current.some((row, i) => row !== shown[i])) {
      // Move only what is out of place: appending a row already at its spot would
      // still detach it (losing focus), so compare first.
      shown.forEach((row, i) => {
        if (this.tbody.children[i] !== row) this.tbody.insertBefore(row, this.tbody.children[i] ?? null);
      });
      while (this.tbody.children.length > shown.length) this.tbody.lastElementChild.remove();
    }
    const hiddenCount = matching.length - this.visible.length;
    setText(
      this.footer,
      `${matching.length} of ${this.keys.length} keys shown` +
        (hiddenCount > 0 ? ` (the first ${MAX_ROWS}; narrow the filter to see the others)` : ""),
    );
    this.#syncSelection();
  }

  toggleSelected(id, on) {
    if (on) this.selected.add(id);
    else this.selected.delete(id);
    this.#syncSelection();
  }

  selectVisible(on) {
    for (const id of this.visible) {
      if (on) this.selected.add(id);
      else this.selected.delete(id);
    }
    this.#syncSelection();
  }

  clearSelection() {
    this.selected.clear();
    this.#syncSelection();
  }

  /** Selected keys that are shown (a filter hides the others from bulk actions too). */
  selectedIds() {
    return this.visible.filter((id) => this.selected.has(id));
  }

  clear() {
    this.keys = [];
    this.rows.clear();
    this.selected.clear();
    this.tbody.replaceChildren();
    setText(this.footer, "");
  }

  #syncSelection() {
    for (const [id, row] of this.rows) {
      const on = this.selected.has(id);
      if (row.select.checked !== on) row.select.checked = on;
      row.tr.classList.toggle("is-selected", on);
    }
    const chosen = this.selectedIds().length;
    this.selectAll.checked = chosen > 0 && chosen === this.visible.length;
    this.selectAll.indeterminate = chosen > 0 && chosen < this.visible.length;
    this.onChange();
  }
}
