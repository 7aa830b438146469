// Talking to the emulator: the /v1 API as the chosen account, the control API as that account or as the
// admin, and Server-Sent Events read over fetch (EventSource cannot send an Authorization header).

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

const QUIET = { "X-Emulator-Inspector": "1" }; // the request journal leaves the inspector's own reads out

export class Client {
  constructor({ key = null, token = null, subAccountId = null } = {}) {
    this.key = key;
    this.token = token;
    this.subAccountId = subAccountId;
  }

  headers(as) {
    const headers = { ...QUIET };
    if (as === "admin") {
      if (this.token) headers["X-Emulator-Admin-Token"] = this.token;
    } else if (this.key) {
      headers.Authorization = `Bearer ${this.key}`;
      if (as === "v1" && this.subAccountId) headers["X-Sub-Account-Id"] = this.subAccountId;
    }
    return headers;
  }

  async request(method, path, { as = "account", body, signal } = {}) {
    const headers = this.headers(as);
    const init = { method, headers, signal };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = text; }
    if (!response.ok) {
      const detail = data && typeof data === "object" && data.detail ? data.detail : `HTTP ${response.status}`;
      throw new ApiError(response.status, detail);
    }
    return data;
  }

  v1(path, options = {}) { return this.request(options.method || "GET", path, { ...options, as: "v1" }); }
  control(path, options = {}) { return this.request(options.method || "GET", path, { ...options }); }
  admin(path, options = {}) { return this.request(options.method || "GET", path, { ...options, as: "admin" }); }

  // Read an SSE stream until it ends or `signal` aborts; `onEvent(name, data)` for each event.
  async stream(path, onEvent, { signal, as = "account" } = {}) {
    const response = await fetch(path, { headers: { ...this.headers(as), Accept: "text/event-stream" }, signal });
    if (!response.ok) {
      let detail = `HTTP ${response.status}`;
      try { detail = (await response.json()).detail || detail; } catch { /* not JSON */ }
      throw new ApiError(response.status, detail);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        if (data.length) onEvent(name, JSON.parse(data.join("\n")));
      }
    }
  }
}

// Keep a stream open: reconnect after it ends or fails (with a growing pause), until stopped.
export function keepOpen(open, onState) {
  const controller = new AbortController();
  let pause = 500;
  (async () => {
    while (!controller.signal.aborted) {
      try {
        onState("live");
        await open(controller.signal);
        pause = 500;
      } catch (error) {
        if (controller.signal.aborted) return;
        onState(error.status === 401 || error.status === 403 ? "refused" : "offline", error);
        if (error.status === 401 || error.status === 403 || error.status === 404) return;
      }
      if (controller.signal.aborted) return;
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 10_000);
    }
  })();
  return () => controller.abort();
}
