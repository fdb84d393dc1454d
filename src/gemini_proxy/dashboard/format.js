// Formatting of times, durations, rates and key states for display.

export const STATES = ["disabled", "open", "half_open", "cooling", "active"]; // most severe first

export const STATE_LABELS = {
  active: "Active",
  cooling: "Cooling",
  half_open: "Half-open",
  open: "Open",
  disabled: "Disabled",
};

/** Milliseconds since the epoch of an ISO time from the API; null stays null. */
export function parseTime(iso) {
  if (iso === null || iso === undefined) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
}

/** "45s", "4m 05s", "2h 10m", "3d 4h". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** "in 4m 05s", or "now" once the time has come. */
export function countdown(untilMs, nowMs) {
  const left = (untilMs - nowMs) / 1000;
  return left <= 0.5 ? "now" : `in ${duration(left)}`;
}

/** "12s ago", "3m 04s ago". */
export function ago(atMs, nowMs) {
  const past = (nowMs - atMs) / 1000;
  return past < 1.5 ? "just now" : `${duration(past)} ago`;
}

/** A local date and time for titles and tooltips. */
export function localTime(ms) {
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** "14:05" in local time. */
export function clockTime(ms) {
  return new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** "12.5%" (one decimal below 10%, none above). */
export function percent(ratio) {
  const value = ratio * 100;
  return `${value < 10 ? value.toFixed(1) : Math.round(value)}%`;
}

/** Requests per second: two significant decimals for small rates. */
export function perSecond(value) {
  if (value === 0) return "0";
  if (value < 10) return value.toFixed(2);
  return value.toFixed(1);
}

/** 12345 -> "12,345" (the reader's locale). */
export function count(value) {
  return Number(value).toLocaleString();
}

/** The words for a result of POST /admin/keys/{id}/probe. */
export const PROBE_RESULTS = {
  valid: "valid",
  invalid: "rejected by Google",
  quota_exhausted: "valid, but out of quota",
  unreachable: "unreachable",
  error: "error",
};
