// What each key action calls, how it is confirmed and how its result reads.

import { keyPath } from "./api.js";
import { PROBE_RESULTS, STATE_LABELS } from "./format.js";

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * confirm: "always" (one key or many) or "bulk" (only for several keys).
 * run(api, id, reason) returns the API's answer; describe(answer) a line for the result.
 */
export const ACTIONS = {
  enable: {
    verb: "Enable",
    past: "Enabled",
    confirm: "bulk",
    text: "They go back into rotation.",
    run: (api, id) => api.post(keyPath(id, "/enable")),
  },
  disable: {
    verb: "Disable",
    past: "Disabled",
    confirm: "always",
    withReason: true,
    text: "Disabled keys leave the rotation and are not re-tested until an admin enables them.",
    run: (api, id, reason) => api.post(keyPath(id, "/disable"), reason ? { reason } : undefined),
  },
  reset: {
    verb: "Reset",
    past: "Reset",
    confirm: "always",
    text: "Clears the disable, the cooldowns, the circuit breaker and the health score. Counters are kept.",
    run: (api, id) => api.post(keyPath(id, "/reset")),
  },
  probe: {
    verb: "Probe",
    past: "Probed",
    confirm: "bulk",
    text: "Each probe lists the models with the key (it costs no generation quota).",
    run: (api, id) => api.post(keyPath(id, "/probe")),
    describe: (answer) =>
      `${answer.name}: ${PROBE_RESULTS[answer.result] ?? answer.result} (${answer.reason}), now ${(
        STATE_LABELS[answer.state] ?? answer.state
      ).toLowerCase()}`,
  },
  delete: {
    verb: "Delete",
    past: "Deleted",
    confirm: "always",
    danger: true,
    text: "Removes the keys from the pool and from the stored added keys. A key from the configuration file comes back at the next start or reload.",
    run: (api, id) => api.delete(keyPath(id)),
  },
};

export function confirmTitle(action, names) {
  const spec = ACTIONS[action];
  return names.length === 1 ? `${spec.verb} ${names[0]}?` : `${spec.verb} ${plural(names.length, "key")}?`;
}

export function needsConfirmation(action, count) {
  const spec = ACTIONS[action];
  return spec.confirm === "always" || count > 1;
}

/** Run `action` on every id, a few at a time; resolves to [{id, name, ok, answer, error}]. */
export async function runOnKeys(api, action, targets, reason, concurrency = 4) {
  const spec = ACTIONS[action];
  const results = new Array(targets.length);
  let next = 0;
  async function worker() {
    while (next < targets.length) {
      const i = next;
      next += 1;
      const { id, name } = targets[i];
      try {
        results[i] = { id, name, ok: true, answer: await spec.run(api, id, reason) };
      } catch (error) {
        results[i] = { id, name, ok: false, error };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
  return results;
}

/** A headline and one line per key worth reading (failures, probe results). */
export function summarize(action, results) {
  const spec = ACTIONS[action];
  const done = results.filter((r) => r.ok);
  const failed = results.filter((r) => !r.ok);
  const lines = [];
  if (spec.describe) for (const r of done) lines.push(spec.describe(r.answer));
  for (const r of failed) lines.push(`${r.name}: ${r.error.describe ? r.error.describe() : r.error.message}`);
  let headline = `${spec.past} ${plural(done.length, "key")}.`;
  if (failed.length) headline += ` ${plural(failed.length, "key")} failed.`;
  return { headline, lines, ok: failed.length === 0 };
}
