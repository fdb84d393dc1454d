// The parts of a key shown in the table and in its detail view, built from one Key object
// of the admin API. Times that move (countdowns, "3m ago") carry data-until / data-since
// and are kept current by tickLiveTimes() between refreshes.

import { el, setText } from "./dom.js";
import { STATE_LABELS, ago, count, countdown, localTime, parseTime, percent } from "./format.js";

/** A countdown to an ISO time, updated every second. */
export function liveUntil(iso, now, prefix = "") {
  const until = parseTime(iso);
  if (until === null) return el("span", { text: "—" });
  return el("time", {
    class: "live",
    text: prefix + countdown(until, now),
    attrs: { datetime: iso, title: localTime(until) },
    dataset: { until, prefix },
  });
}

/** "3m 04s ago" for an ISO time, updated every second. */
export function liveSince(iso, now) {
  const at = parseTime(iso);
  if (at === null) return el("span", { text: "—" });
  return el("time", {
    class: "live",
    text: ago(at, now),
    attrs: { datetime: iso, title: localTime(at) },
    dataset: { since: at },
  });
}

/** Refresh every live time in `root` to `now`. */
export function tickLiveTimes(root, now) {
  for (const node of root.querySelectorAll("time.live")) {
    if (node.dataset.until) setText(node, (node.dataset.prefix ?? "") + countdown(Number(node.dataset.until), now));
    else if (node.dataset.since) setText(node, ago(Number(node.dataset.since), now));
  }
}

/** Text that may wrap after "_", ".", ":" or "/" (error codes like API_KEY_INVALID). */
export function breakable(text) {
  const node = el("span");
  String(text)
    .split(/(?<=[_.:/])/)
    .forEach((part, i) => {
      if (i > 0) node.append(el("wbr"));
      node.append(part);
    });
  return node;
}

export function stateBadge(state) {
  return el("span", { class: `badge badge-${state}`, text: STATE_LABELS[state] ?? state, dataset: { state } });
}

/** The badge and, for a disabled key, why and when it is tried again. */
export function stateCell(key, now) {
  const parts = [stateBadge(key.state)];
  if (key.disabled) {
    const why = key.disabled.reason ?? "disabled";
    const note = el("div", { class: "sub" }, breakable(why));
    if (key.disabled.next_probe_at) note.append(" · re-test ", liveUntil(key.disabled.next_probe_at, now));
    else note.append(" · until enabled");
    parts.push(note);
  }
  return parts;
}

export function stateSignature(key) {
  return JSON.stringify([key.state, key.disabled]);
}

/** A bar for a value in [0, 1]: `level` colours it (ok, warn, bad). */
export function bar(ratio, label, level) {
  const fill = el("span", { class: `bar-fill bar-${level}` });
  fill.style.width = `${Math.min(100, Math.max(0, ratio * 100)).toFixed(1)}%`;
  return el("span", { class: "bar", attrs: { role: "img", "aria-label": label } }, fill);
}

export function healthCell(key) {
  const level = key.health >= 0.8 ? "ok" : key.health >= 0.5 ? "warn" : "bad";
  const value = key.health.toFixed(2);
  return [el("span", { class: "health" }, bar(key.health, `health ${value}`, level), el("span", { class: "num", text: value }))];
}

export function breakerCell(key, now) {
  const breaker = key.breaker;
  const parts = [el("span", { class: `breaker breaker-${breaker.state}`, text: breaker.state.replace("_", "-") })];
  const details = [];
  if (breaker.level > 0) details.push(`level ${breaker.level}`);
  if (breaker.consecutive_failures > 0) {
    details.push(`${breaker.consecutive_failures} failure${breaker.consecutive_failures === 1 ? "" : "s"}`);
  }
  const sub = el("div", { class: "sub" }, details.join(" · "));
  if (breaker.open_until) {
    if (details.length) sub.append(" · ");
    sub.append("trial ", liveUntil(breaker.open_until, now));
  }
  if (details.length || breaker.open_until) parts.push(sub);
  return parts;
}

export function breakerSignature(key) {
  return JSON.stringify(key.breaker);
}

export function cooldownsCell(key, now) {
  if (key.cooldowns.length === 0) return [el("span", { class: "muted", text: "—" })];
  const list = el("ul", { class: "cooldowns" });
  for (const cooldown of key.cooldowns) {
    list.append(
      el(
        "li",
        { attrs: { title: cooldown.reason } },
        el("span", { class: "model", text: cooldown.model }),
        " ",
        liveUntil(cooldown.until, now),
        cooldown.per_day ? el("span", { class: "tag", text: "daily quota" }) : null,
      ),
    );
  }
  return [list];
}

export function cooldownsSignature(key) {
  return JSON.stringify(key.cooldowns);
}

function usageBar(name, used, limit) {
  const ratio = used / limit;
  const level = ratio >= 1 ? "bad" : ratio >= 0.8 ? "warn" : "ok";
  return el(
    "div",
    { class: "usage-line" },
    el("span", { class: "usage-name", text: name }),
    bar(ratio, `${name} ${used} of ${limit}`, level),
    el("span", { class: "num", text: `${count(used)}/${count(limit)}` }),
  );
}

/** rpm, rpd and tpm bars of each model with limits. */
export function usageCell(key) {
  const withLimits = key.usage.filter((u) => u.rpm !== null || u.rpd !== null || u.tpm !== null);
  if (withLimits.length === 0) return [el("span", { class: "muted", text: "no limits" })];
  return withLimits.map((u) =>
    el(
      "div",
      { class: "usage" },
      el("div", { class: "usage-model", text: u.model }),
      u.rpm !== null ? usageBar("rpm", u.requests_last_minute, u.rpm) : null,
      u.rpd !== null ? usageBar("rpd", u.requests_today, u.rpd) : null,
      u.tpm !== null ? usageBar("tpm", u.tokens_last_minute, u.tpm) : null,
    ),
  );
}

export function usageSignature(key) {
  return JSON.stringify(key.usage);
}

export function requestsCell(key) {
  const parts = [el("span", { class: "num", text: count(key.counters.requests) })];
  if (key.counters.in_flight > 0) parts.push(el("div", { class: "sub", text: `${key.counters.in_flight} in flight` }));
  return parts;
}

export function errorsCell(key) {
  const { requests, failures, outcomes } = key.counters;
  const breakdown = Object.entries(outcomes)
    .filter(([kind, n]) => kind !== "success" && n > 0)
    .map(([kind, n]) => `${kind.replace("_", " ")} ${n}`)
    .join(", ");
  const node = el("span", { class: "num", text: count(failures) });
  if (breakdown) node.title = breakdown;
  const parts = [node];
  if (requests > 0 && failures > 0) parts.push(el("div", { class: "sub", text: percent(failures / requests) }));
  return parts;
}

export function lastErrorCell(key, now) {
  if (!key.last_error) return [el("span", { class: "muted", text: "—" })];
  return [
    el("div", { class: "error-reason" }, breakable(key.last_error.reason)),
    el("div", { class: "sub" }, liveSince(key.last_error.at, now)),
  ];
}
