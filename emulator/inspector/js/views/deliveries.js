// Webhook deliveries: every attempt as sent (headers with the signature, never the secret; the body) and as
// answered, and sending one again, as stored or edited (signed afresh either way).

import { append, clear, code, field, h, ms, pill, pretty, when } from "../dom.js";
import { exchange } from "./calls.js";

const KINDS = { first: "first attempt", retry: "automatic retry", redeliver: "redelivered by hand",
  edited: "edited and redelivered" };

function attemptCard(attempt, delivery) {
  const outcome = attempt.httpStatus ? `HTTP ${attempt.httpStatus}` : "failed";
  return h("li.attempt", { dataset: { number: attempt.number } },
    h("div.attempt-head", {},
      h("h3", {}, `Attempt ${attempt.number}`), pill(outcome, attempt.errorMessage ? "failed" : "success"),
      h("span.muted", {}, `${KINDS[attempt.kind] || attempt.kind} · ${when(attempt.attemptedAt)} · ${ms(attempt.latencyMs)}`),
      attempt.nextRetryAt ? h("span.retry", {}, `next retry ${when(attempt.nextRetryAt)}`) : null),
    exchange(attempt, delivery));
}

function editor(app, delivery, done) {
  const area = h("textarea.code", { id: "edit-body", rows: "14", spellcheck: "false" }, pretty(delivery.payload));
  const status = h("span.form-error", { role: "alert" });
  return h("form.editor", {
    onsubmit: async (event) => {
      event.preventDefault();
      status.textContent = "";
      try {
        const made = await app.client.control(`/_emulator/deliveries/${encodeURIComponent(delivery.id)}/redeliver`,
          { method: "POST", body: { body: area.value } });
        app.toast(`Edited redelivery: ${made.attempt.httpStatus ? `HTTP ${made.attempt.httpStatus}` : made.attempt.errorMessage}`);
        done(made.delivery);
      } catch (error) { status.textContent = error.message; }
    },
  }, h("label", { for: "edit-body" }, "Body to send (signed afresh with the webhook's secret)"), area,
  h("div.compose-row", {}, h("button.primary", { type: "submit" }, "Send edited"),
    h("button", { type: "button", onclick: () => done(null) }, "Cancel")), status);
}

function deliveryView(app, delivery, container) {
  const tools = h("div.tools");
  const attempts = [...delivery.attempts].reverse();
  const redeliver = async (button) => {
    button.disabled = true;
    try {
      const made = await app.client.control(`/_emulator/deliveries/${encodeURIComponent(delivery.id)}/redeliver`,
        { method: "POST" });
      app.toast(`Redelivered: ${made.attempt.httpStatus ? `HTTP ${made.attempt.httpStatus}` : made.attempt.errorMessage}`);
      deliveryView(app, made.delivery, container);
    } catch (error) {
      app.toast(error.message, "error");
      button.disabled = false;
    }
  };
  append(tools,
    h("button.primary", { type: "button", onclick: (e) => redeliver(e.currentTarget) }, "Redeliver"),
    h("button", { type: "button", onclick: () => {
      clear(tools, editor(app, delivery, (updated) => deliveryView(app, updated || delivery, container)));
      tools.querySelector("textarea").focus();
    } }, "Redeliver edited…"));
  clear(container,
    h("div.detail-head", {},
      h("div.title-row", {}, h("h1", {}, delivery.eventType), pill(delivery.status),
        delivery.test ? pill("test", "test") : null),
      h("dl.facts", {},
        field("Delivery", h("span.mono", {}, delivery.id)), field("Channel", delivery.channel),
        field("Target", h("span.mono", {}, delivery.url || "no webhook")), field("Attempts", delivery.attemptCount),
        field("Last status", delivery.httpStatus ? `HTTP ${delivery.httpStatus}` : delivery.errorMessage ? "failed" : "–"),
        field("Latency", ms(delivery.latencyMs)), field("Next retry", delivery.nextRetryAt ? when(delivery.nextRetryAt) : "–"),
        field("Created", when(delivery.createdAt))),
      delivery.errorMessage ? h("p.error-row", {}, delivery.errorMessage) : null,
      tools),
    h("details.meta-json", {}, h("summary", {}, "Stored payload"), code(delivery.payload, "Stored payload")),
    attempts.length ? h("ol.attempts", { "aria-label": "Attempts, newest first" }, attempts.map((a) => attemptCard(a, delivery)))
      : h("p.muted", {}, delivery.errorMessage || "Not attempted yet."));
}

export const deliveries = {
  name: "deliveries",
  title: "Deliveries",
  counted: true,
  hint: "Pick a delivery to see every attempt, and redeliver it.",
  empty: "No webhook deliveries yet.",
  id: (d) => d.id,
  async load(app) {
    const page = await app.client.v1("/v1/webhooks/deliveries?limit=100");
    return { items: page.data, total: page.total };
  },
  refreshOn: (item) => item.kind === "delivery.attempt" || item.kind.startsWith("sms.") || item.kind === "call.ended"
    || item.kind === "call.turn" || item.kind === "fixtures.loaded" || item.kind === "reset",
  row: (app, d) => [
    h("span.row-top", {}, h("span.strong", {}, d.eventType), pill(d.status)),
    h("span.row-sub", {}, [when(d.createdAt), `${d.attemptCount} attempt${d.attemptCount === 1 ? "" : "s"}`,
      d.httpStatus ? `HTTP ${d.httpStatus}` : null, d.channel].filter(Boolean).join(" · ")),
    h("span.row-snippet.mono", {}, d.url || d.errorMessage || ""),
  ],
  detail(app, id, _item, container) {
    const load = async () => {
      try {
        deliveryView(app, await app.client.control(`/_emulator/deliveries/${encodeURIComponent(id)}`), container);
      } catch (error) { clear(container, h("p.form-error", {}, error.message)); }
    };
    load();
    return app.watch((item) => {
      if (item.kind === "delivery.attempt" && item.data.deliveryId === id && !container.querySelector("form.editor")) load();
    });
  },
};
