// The admin API (contracts/admin-api.yaml), called with the admin token as a Bearer header.

// This module is served at .../admin/ui/api.js; the API lives one level up, at .../admin/.
const API_BASE = new URL("../", import.meta.url);

/** The token was refused (401); the page signs out. */
export class Unauthorized extends Error {}

/** Any other failed call: `status` 0 means the proxy could not be reached. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** "Refused (409 no_config_file): configuration reload is not available" */
  describe() {
    if (this.status === 0) return this.message;
    return `${this.message} (HTTP ${this.status}, ${this.code})`;
  }
}

export class AdminApi {
  #token;

  constructor(token) {
    this.#token = token;
    // Server clock minus ours, from the Date header: countdowns follow the proxy's time.
    this.clockOffsetMs = 0;
  }

  /** Our clock, corrected to the proxy's. */
  now() {
    return Date.now() + this.clockOffsetMs;
  }

  async call(method, path, body) {
    const headers = { Authorization: `Bearer ${this.#token}`, Accept: "application/json" };
    const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const sent = Date.now();
    let response;
    try {
      response = await fetch(new URL(path, API_BASE), init);
    } catch {
      throw new ApiError(0, "unreachable", "The proxy cannot be reached.");
    }
    this.#learnClock(response, sent);
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (response.status === 401) throw new Unauthorized("The admin token was not accepted.");
    if (!response.ok) {
      const error = data?.error ?? {};
      throw new ApiError(response.status, error.code ?? "error", error.message ?? response.statusText);
    }
    return data;
  }

  get(path) {
    return this.call("GET", path);
  }

  post(path, body) {
    return this.call("POST", path, body);
  }

  delete(path) {
    return this.call("DELETE", path);
  }

  #learnClock(response, sent) {
    const header = response.headers.get("Date");
    const server = header ? Date.parse(header) : NaN;
    if (Number.isNaN(server)) return;
    // The header has whole seconds: only trust a difference larger than that.
    const offset = server + 500 - (sent + Date.now()) / 2;
    this.clockOffsetMs = Math.abs(offset) > 1500 ? offset : 0;
  }
}

/** A key id in a path: ids are 12 hex digits, anything else is refused here already. */
export function keyPath(id, suffix = "") {
  if (!/^[0-9a-f]{12}$/.test(id)) throw new Error(`not a key id: ${id}`);
  return `keys/${id}${suffix}`;
}
