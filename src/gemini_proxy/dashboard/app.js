// The admin dashboard: sign-in, the live refresh, and the wiring of every control.
// All data comes from the admin API with the token the user typed; the token lives in
// this tab's sessionStorage only and is forgotten at sign-out.

import { ACTIONS, confirmTitle, needsConfirmation, runOnKeys, summarize } from "./actions.js";
import { AdminApi, ApiError, Unauthorized } from "./api.js";
import { tickLiveTimes } from "./cells.js";
import { ConfirmDialog } from "./confirm.js";
import { KeyDetail } from "./detail.js";
import { byId, el, setAttr, setText } from "./dom.js";
import { clockTime } from "./format.js";
import { PoolSummary } from "./summary.js";
import { KeyTable, SORTS } from "./table.js";

const TOKEN_KEY = "gemini-proxy.admin-token";
const SIGNED_OUT_KEY = "gemini-proxy.signed-out-because";
// Every few seconds; `?refresh=N` (1 to 60 seconds) picks another pace.
const REFRESH_MS = refreshInterval(new URLSearchParams(window.location.search).get("refresh"));
// First click on a column sorts the way one usually wants to read it.
const DESCENDING_FIRST = new Set(["breaker", "requests", "errors", "last_error"]);

function refreshInterval(asked) {
  const seconds = Number(asked);
  return asked !== null && Number.isFinite(seconds) && seconds >= 1 && seconds <= 60 ? seconds * 1000 : 5000;
}

/** Show a result (an action's, an add's, a reload's) in one of the page's result areas. */
function showResult(node, { headline, lines = [], ok }) {
  node.hidden = false;
  node.classList.toggle("is-error", !ok);
  node.classList.toggle("is-ok", ok);
  const items = lines.map((line) => el("li", { text: line }));
  node.replaceChildren(el("p", { class: "result-headline", text: headline }), items.length ? el("ul", {}, ...items) : "");
}

function errorText(error) {
  if (error instanceof ApiError) return error.describe();
  return error instanceof Error ? error.message : String(error);
}

class Dashboard {
  constructor() {
    this.api = null;
    this.timer = null;
    this.refreshing = null;
    this.again = false;

    this.signinSection = byId("signin");
    this.signinForm = byId("signin-form");
    this.tokenInput = byId("token");
    this.signinError = byId("signin-error");
    this.signinButton = byId("signin-submit");
    this.dashboard = byId("dashboard");
    this.liveStatus = byId("live-status");
    this.notice = byId("notice");

    this.confirm = new ConfirmDialog();
    this.summary = new PoolSummary({ onStateFilter: (state) => this.setStateFilter(state) });
    this.detail = new KeyDetail({ onAction: (action, ids) => this.runAction(action, ids) });
    this.table = new KeyTable({
      tbody: byId("keys-body"),
      selectAll: byId("select-all"),
      footer: byId("keys-footer"),
      onAction: (action, ids) => this.runAction(action, ids),
      onOpen: (id) => this.openDetail(id),
      onChange: () => this.#updateBulkBar(),
    });
    this.#bind();
  }

  // -- session ---------------------------------------------------------------------------

  start() {
    const reason = sessionStorage.getItem(SIGNED_OUT_KEY);
    sessionStorage.removeItem(SIGNED_OUT_KEY);
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) {
      this.signinSection.hidden = true; // no sign-in form flashing while the saved token is checked
      this.signIn(token, { restoring: true });
      return;
    }
    this.#showSignIn(reason);
  }

  async signIn(token, { restoring = false } = {}) {
    const api = new AdminApi(token);
    this.signinButton.disabled = true;
    setAttr(this.signinForm, "aria-busy", "true");
    try {
      await api.get("pool");
    } catch (error) {
      if (error instanceof Unauthorized) {
        sessionStorage.removeItem(TOKEN_KEY);
        this.#showSignIn(
          restoring
            ? "The saved admin token is no longer accepted. Sign in again."
            : "That admin token was not accepted. Check the proxy's auth.admin_token and try again.",
        );
      } else {
        this.#showSignIn(`Cannot sign in: ${errorText(error)}`);
      }
      return;
    } finally {
      this.signinButton.disabled = false;
      setAttr(this.signinForm, "aria-busy", null);
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    this.api = api;
    this.tokenInput.value = "";
    this.signinSection.hidden = true;
    this.dashboard.hidden = false;
    document.body.dataset.session = "signed-in";
    for (const node of document.querySelectorAll("[data-signed-in]")) node.hidden = false;
    await this.refresh();
    byId("pool-title").focus();
    this.timer = setInterval(() => this.tick(), 1000);
  }

  /** Forget the token and everything shown: the page starts again from a clean slate. */
  signOut(reason = null) {
    sessionStorage.removeItem(TOKEN_KEY);
    if (reason) sessionStorage.setItem(SIGNED_OUT_KEY, reason);
    this.api = null;
    clearInterval(this.timer);
    window.location.reload();
  }

  #showSignIn(message) {
    document.body.dataset.session = "signed-out";
    this.dashboard.hidden = true;
    this.signinSection.hidden = false;
    for (const node of document.querySelectorAll("[data-signed-in]")) node.hidden = true;
    this.signinError.hidden = !message;
    setText(this.signinError, message ?? "");
    setAttr(this.tokenInput, "aria-invalid", message ? "true" : null);
    this.tokenInput.focus();
    if (message) this.tokenInput.select();
  }

  // -- live refresh ------------------------------------------------------------------------

  /** Once a second: countdowns move; every REFRESH_MS: new data (not while the tab is hidden). */
  tick() {
    if (!this.api) return;
    tickLiveTimes(document.body, this.api.now());
    const due = !this.lastRefresh || Date.now() - this.lastRefresh >= REFRESH_MS;
    if (due && document.visibilityState === "visible") this.refresh();
  }

  /** Fetch and show everything; calls made while one runs are folded into one more run. */
  async refresh() {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = this.#load();
    try {
      await this.refreshing;
    } finally {
      this.refreshing = null;
    }
    if (this.again) {
      this.again = false;
      await this.refresh();
    }
  }

  async #load() {
    const api = this.api;
    if (!api) return;
    this.lastRefresh = Date.now();
    try {
      const [pool, keys, timeline] = await Promise.all([api.get("pool"), api.get("keys"), api.get("timeline")]);
      const now = api.now();
      this.summary.update(pool, timeline, now);
      this.table.setKeys(keys.keys, now);
      if (this.detail.isOpen) {
        if (this.table.key(this.detail.id)) await this.detail.refresh(api);
        else this.detail.close();
      }
      this.liveStatus.classList.remove("is-error");
      setText(this.liveStatus, `Live · updated ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      if (error instanceof Unauthorized) {
        this.signOut("The admin token is no longer accepted (was it changed by a reload?). Sign in again.");
        return;
      }
      this.liveStatus.classList.add("is-error");
      setText(this.liveStatus, `Not updated since ${clockTime(this.lastSuccess ?? Date.now())}: ${errorText(error)}`);
      return;
    }
    this.lastSuccess = Date.now();
  }

  // -- keys --------------------------------------------------------------------------------

  openDetail(id) {
    const key = this.table.key(id);
    if (!key || !this.api) return;
    this.detail.open(key, this.api.now());
    this.detail.refresh(this.api).catch((error) => this.#actionFailed(error));
  }

  setStateFilter(state) {
    byId("filter-state").value = state;
    this.table.setFilter({ state });
    this.summary.showFilter(state);
  }

  /** Confirm if needed, run `action` on `ids`, show the result inline, refresh. */
  async runAction(action, ids) {
    const spec = ACTIONS[action];
    if (!spec || !this.api || ids.length === 0) return;
    const targets = ids.map((id) => ({ id, name: this.table.key(id)?.name ?? id }));
    const names = targets.map((t) => t.name);
    let reason = "";
    if (needsConfirmation(action, ids.length)) {
      const answer = await this.confirm.ask({
        title: confirmTitle(action, names),
        text: spec.text,
        names,
        confirmLabel: ids.length === 1 ? spec.verb : `${spec.verb} ${ids.length} keys`,
        danger: Boolean(spec.danger),
        withReason: Boolean(spec.withReason),
      });
      if (!answer.confirmed) return;
      reason = answer.reason;
    }
    const area = byId("action-result");
    area.hidden = false;
    area.classList.remove("is-error", "is-ok");
    area.replaceChildren(el("p", { text: `${spec.verb}: working on ${names.length === 1 ? names[0] : `${names.length} keys`}…` }));
    let results;
    try {
      results = await runOnKeys(this.api, action, targets, reason);
    } catch (error) {
      this.#actionFailed(error);
      return;
    }
    if (results.some((r) => !r.ok && r.error instanceof Unauthorized)) {
      this.signOut("The admin token is no longer accepted. Sign in again.");
      return;
    }
    showResult(area, summarize(action, results));
    if (action === "delete") this.table.clearSelection();
    await this.refresh();
  }

  async addKeys(text) {
    const area = byId("add-result");
    const entries = [];
    const problems = [];
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith("#")) return;
      const [key, ...name] = line.split(/\s+/);
      if (key.length < 8) problems.push(`Line ${i + 1} is too short to be a key.`);
      entries.push(name.length ? { key, name: name.join(" ") } : key);
    });
    if (entries.length === 0 || problems.length) {
      showResult(area, { headline: problems.length ? "Nothing was added." : "Paste at least one key.", lines: problems, ok: false });
      return;
    }
    try {
      const answer = await this.api.post("keys", { keys: entries });
      byId("add-input").value = "";
      const n = answer.added.length;
      showResult(area, {
        headline: `Added ${n} key${n === 1 ? "" : "s"}.`,
        lines: answer.added.map((key) => `${key.name} (${key.masked}), ${key.state}`),
        ok: true,
      });
      await this.refresh();
    } catch (error) {
      if (error instanceof Unauthorized) {
        this.signOut("The admin token is no longer accepted. Sign in again.");
        return;
      }
      showResult(area, { headline: "Nothing was added.", lines: [errorText(error)], ok: false });
    }
  }

  async reloadConfig() {
    const button = byId("reload-config");
    button.disabled = true;
    try {
      const result = await this.api.post("reload");
      const lines = [
        `${result.added.length} added, ${result.removed.length} removed, ${result.changed.length} changed; ${result.keys} keys in the pool.`,
      ];
      if (result.restart_required.length) lines.push(`A restart is needed to apply: ${result.restart_required.join(", ")}.`);
      this.#notify({ headline: `Configuration reloaded from ${result.source}.`, lines, ok: true });
      await this.refresh();
    } catch (error) {
      if (error instanceof Unauthorized) {
        this.signOut("The admin token is no longer accepted. Sign in again.");
        return;
      }
      this.#notify({ headline: "The proxy refused to reload its configuration.", lines: [errorText(error)], ok: false });
    } finally {
      button.disabled = false;
    }
  }

  #notify(result) {
    showResult(byId("notice-body"), result);
    this.notice.classList.toggle("is-error", !result.ok);
    this.notice.hidden = false;
  }

  #actionFailed(error) {
    if (error instanceof Unauthorized) {
      this.signOut("The admin token is no longer accepted. Sign in again.");
      return;
    }
    showResult(byId("action-result"), { headline: "The action failed.", lines: [errorText(error)], ok: false });
  }

  #updateBulkBar() {
    const n = this.table.selectedIds().length;
    setText(byId("selection-count"), n === 0 ? "No key selected" : `${n} key${n === 1 ? "" : "s"} selected`);
    for (const button of document.querySelectorAll("#bulkbar [data-bulk]")) button.disabled = n === 0;
  }

  // -- controls ----------------------------------------------------------------------------

  #bind() {
    this.signinForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const token = this.tokenInput.value.trim();
      if (!token) {
        this.#showSignIn("Enter the admin token.");
        return;
      }
      this.signIn(token);
    });
    byId("logout").addEventListener("click", () => this.signOut());
    byId("reload-config").addEventListener("click", () => this.reloadConfig());
    byId("notice-close").addEventListener("click", () => {
      this.notice.hidden = true;
    });
    byId("add-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.addKeys(byId("add-input").value);
    });
    byId("filter-text").addEventListener("input", (event) => this.table.setFilter({ text: event.target.value }));
    byId("filter-state").addEventListener("change", (event) => this.setStateFilter(event.target.value));
    for (const button of document.querySelectorAll("#bulkbar [data-bulk]")) {
      button.addEventListener("click", () => this.runAction(button.dataset.bulk, this.table.selectedIds()));
    }
    this.#bindSorting();
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.api) this.refresh();
    });
    this.#updateBulkBar();
  }

  #bindSorting() {
    const select = byId("sort-by");
    const direction = byId("sort-direction");
    for (const [name, sort] of Object.entries(SORTS)) select.append(el("option", { text: sort.label, attrs: { value: name } }));
    const apply = (by, descending) => {
      this.table.setSort(by, descending);
      select.value = by;
      setText(direction, descending ? "Descending" : "Ascending");
      setAttr(direction, "aria-pressed", String(descending));
      for (const th of document.querySelectorAll("#keys-table th[data-sort]")) {
        const active = th.dataset.sort === by;
        setAttr(th, "aria-sort", active ? (descending ? "descending" : "ascending") : null);
      }
    };
    select.addEventListener("change", () => apply(select.value, DESCENDING_FIRST.has(select.value)));
    direction.addEventListener("click", () => apply(this.table.sort.by, !this.table.sort.descending));
    for (const th of document.querySelectorAll("#keys-table th[data-sort]")) {
      th.querySelector("button").addEventListener("click", () => {
        const by = th.dataset.sort;
        const same = this.table.sort.by === by;
        apply(by, same ? !this.table.sort.descending : DESCENDING_FIRST.has(by));
      });
    }
    apply("pool", false);
  }
}

new Dashboard().start();
