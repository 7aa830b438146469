// The simpler sections: the request journal, agents, numbers, webhooks, and the activity feed.

import { append, clear, code, field, h, maskSecret, ms, pill, when } from "../dom.js";

const changed = (prefix) => (item) => item.kind === "fixtures.loaded" || item.kind === "reset"
  || (item.kind === "request" && item.data.method !== "GET" && item.data.path.startsWith(prefix));

function facts(pairs) {
  return h("dl.facts", {}, pairs.map(([label, value]) => field(label, value)));
}

function plainDetail(title, badge, pairs, json) {
  return [h("div.detail-head", {}, h("div.title-row", {}, h("h1", {}, title), badge), facts(pairs)),
    h("h2.sub", {}, "As the API returns it"), code(json, "JSON")];
}

const requests = {
  name: "requests",
  title: "Requests",
  hint: "Every /v1 request this account made (the inspector's own reads are left out). "
    + "Tests read the same journal: GET /_emulator/requests.",
  empty: "No /v1 requests yet.",
  id: (r) => String(r.seq),
  async load(app) {
    const page = await app.client.control("/_emulator/requests?order=newest&limit=500");
    return { items: page.data, total: page.total };
  },
  refreshOn: (item) => item.kind === "request" || item.kind === "reset",
  row: (app, r) => [
    h("span.row-top", {}, h("span.method", { dataset: { method: r.method } }, r.method), h("span.strong.mono.path", {}, r.path),
      pill(String(r.status ?? "–"), r.status >= 400 ? "failed" : "success")),
    h("span.row-sub", {}, `${when(r.time)} · ${ms(r.durationMs)}`),
  ],
  detail(app, id, r, container) {
    if (!r) return clear(container, h("p.muted", {}, "This request is no longer in the journal."));
    clear(container, h("div.detail-head", {}, h("div.title-row", {}, h("h1.mono", {}, `${r.method} ${r.path}`),
      pill(String(r.status ?? "–"), r.status >= 400 ? "failed" : "success")),
    facts([["When", when(r.time)], ["Took", ms(r.durationMs)], ["Key", h("span.mono", {}, r.keyHint || "none")],
      ["Sub-account", r.subAccountId], ["Journal #", r.seq]])),
    h("h2.sub", {}, "Query"), code(r.query, "Query parameters"),
    h("h2.sub", {}, r.bodyTruncated ? "Body (first 64 KiB)" : "Body"),
    r.body === null ? h("p.muted", {}, "No body.") : code(r.body, "Request body"));
  },
};

const agents = {
  name: "agents",
  title: "Agents",
  empty: "No agents yet.",
  id: (a) => a.id,
  async load(app) {
    const page = await app.client.v1("/v1/agents?limit=100");
    return { items: [...page.data].reverse(), total: page.total };
  },
  refreshOn: changed("/v1/agents"),
  row: (app, a) => [h("span.row-top", {}, h("span.strong", {}, a.name), pill(a.voiceMode)),
    h("span.row-sub.mono", {}, a.id)],
  detail(app, id, a, container) {
    if (!a) return clear(container, h("p.muted", {}, "This agent is gone."));
    clear(container, plainDetail(a.name, pill(a.voiceMode), [["Agent", h("span.mono", {}, a.id)], ["Voice", a.voice],
      ["Numbers", (a.phoneNumbers || []).map((n) => n.phoneNumber).join(", ") || "none"],
      ["Transfer to", a.transferNumber], ["Created", when(a.createdAt)]], a));
  },
};

const numbers = {
  name: "numbers",
  title: "Numbers",
  empty: "No numbers yet.",
  id: (n) => n.id,
  async load(app) {
    const page = await app.client.v1("/v1/numbers?limit=100");
    return { items: [...page.data].reverse(), total: page.total };
  },
  refreshOn: (item) => changed("/v1/numbers")(item) || changed("/v1/agents")(item),
  row: (app, n) => [h("span.row-top", {}, h("span.strong.mono", {}, n.phoneNumber), pill(n.type)),
    h("span.row-sub", {}, n.agentId ? `agent ${n.agentId}` : "no agent")],
  detail(app, id, n, container) {
    if (!n) return clear(container, h("p.muted", {}, "This number is gone."));
    clear(container, plainDetail(n.phoneNumber, pill(n.status), [["Number", h("span.mono", {}, n.id)], ["Type", n.type],
      ["Agent", n.agentId], ["Country", n.country], ["Expires", n.expiresAt ? when(n.expiresAt) : "never"],
      ["Purchased", when(n.purchasedAt)]], n));
  },
};

// The secret is never shown: only its first and last characters, to tell secrets apart.
function hidden(hook) {
  const { secret, ...rest } = hook;
  return { ...rest, secret: maskSecret(secret) };
}

const webhooks = {
  name: "webhooks",
  title: "Webhooks",
  empty: "No webhooks yet: deliveries are recorded as undeliverable.",
  id: (w) => w.id,
  async load(app) {
    const project = await app.client.v1("/v1/webhooks");
    const agentsPage = await app.client.v1("/v1/agents?limit=100");
    const perAgent = await Promise.all(agentsPage.data.map(async (agent) => {
      const hook = await app.client.v1(`/v1/agents/${encodeURIComponent(agent.id)}/webhook`);
      return hook ? { ...hidden(hook), scope: `agent ${agent.name}` } : null;
    }));
    const items = [project ? { ...hidden(project), scope: "project" } : null, ...perAgent].filter(Boolean);
    return { items, total: items.length };
  },
  refreshOn: (item) => changed("/v1/webhooks")(item) || changed("/v1/agents")(item),
  row: (app, w) => [h("span.row-top", {}, h("span.strong", {}, w.scope), pill(w.status)),
    h("span.row-snippet.mono", {}, w.url)],
  detail(app, id, w, container) {
    if (!w) return clear(container, h("p.muted", {}, "This webhook is gone."));
    const result = h("div", { role: "status", "aria-live": "polite" });
    const path = w.agentId ? `/v1/agents/${encodeURIComponent(w.agentId)}/webhook/test` : "/v1/webhooks/test";
    const { scope, ...asReturned } = w;
    clear(container, plainDetail(scope, pill(w.status), [["Webhook", h("span.mono", {}, w.id)],
      ["URL", h("span.mono", {}, w.url)], ["Secret", h("span.mono", {}, `${w.secret} (hidden)`)],
      ["Timeout", `${w.timeout} s`], ["Context limit", w.contextLimit], ["Updated", when(w.updatedAt)]], asReturned),
    h("div.tools", {}, h("button", { type: "button", onclick: async () => {
      try {
        const sent = await app.client.v1(path, { method: "POST", body: {} });
        clear(result, h("p", {}, `Test event ${sent.deliveryId}: `, sent.delivered ? `HTTP ${sent.httpStatus}` : sent.error));
      } catch (error) { clear(result, h("p.form-error", {}, error.message)); }
    } }, "Send a test event")), result);
  },
};

const activity = {
  name: "activity",
  title: "Activity",
  hint: "Everything that happened to this account, newest first, as the activity log tells it.",
  empty: "Nothing has happened yet.",
  id: (a) => String(a.seq),
  async load(app) { return { items: app.happenings, total: app.happenings.length }; },
  refreshOn: (item) => item.kind !== "request",
  row: (app, a) => [h("span.row-top", {}, h("span.pill.lead", { dataset: { kind: a.kind.split(".")[0] } }, a.kind),
    h("span.when", {}, when(a.at))),
    h("span.row-text", {}, a.text)],
  detail(app, id, a, container) {
    if (!a) return clear(container, h("p.muted", {}, "Gone from the backlog."));
    const link = a.data.callId ? ["calls", a.data.callId] : a.data.conversationId ? ["conversations", a.data.conversationId]
      : a.data.deliveryId ? ["deliveries", a.data.deliveryId] : null;
    append(container, h("div.detail-head", {}, h("div.title-row", {}, h("h1", {}, a.kind)), h("p", {}, a.text),
      link ? h("button.link", { type: "button", onclick: () => app.go(...link) }, `Open ${link[0].slice(0, -1)} →`) : null),
    code(a.data, "Figures"));
  },
};

export const basics = { requests, agents, numbers, webhooks, activity };
