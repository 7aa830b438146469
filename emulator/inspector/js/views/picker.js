// The first screen: every account (for the admin), or open one with its API key.

import { Client, keepOpen } from "../api.js";
import { clear, h, matches, when } from "../dom.js";

function keyHint(key) {
  const prefix = key.startsWith("sk_live_") ? "sk_live_" : "sk_test_";
  return `${prefix}…${key.slice(-4)}`;
}

export function renderPicker(app, root) {
  const status = h("p.form-error", { role: "alert" });
  const table = h("div.accounts", { "aria-live": "polite" }, h("p.muted", {}, "Loading accounts…"));
  const search = h("input.search", { type: "search", placeholder: "Search accounts", "aria-label": "Search accounts" });
  let rows = [];

  const keyInput = h("input", { id: "open-key", name: "key", autocomplete: "off", spellcheck: "false",
    placeholder: "sk_test_…", required: true, pattern: "sk_(live|test)_[A-Za-z0-9_\\-]+" });
  const tokenInput = h("input", { id: "admin-token", name: "token", type: "password", autocomplete: "off",
    value: app.saved.token || "" });

  const byKey = h("form.card", {
    onsubmit: async (event) => {
      event.preventDefault();
      const key = keyInput.value.trim();
      try {
        const account = await new Client({ key }).control(`/_emulator/accounts/${encodeURIComponent(key)}`);
        app.choose({ id: account.id, key, keyHint: keyHint(key), plan: account.plan, parentId: null });
      } catch (error) {
        status.textContent = error.message;
      }
    },
  }, h("h2", {}, "Open with an API key"),
  h("p.muted", {}, "A key sees its own account (and its sub-accounts) only. Any request with a new key creates "
    + "its account; this list follows along."),
  h("label", { for: "open-key" }, "API key"), keyInput, h("button.primary", { type: "submit" }, "Open account"));

  const byToken = h("form.card", {
    onsubmit: (event) => {
      event.preventDefault();
      app.save({ token: tokenInput.value.trim() || null });
      app.client = new Client({ token: app.saved.token });
      app.showPicker(); // again, with the token: the list and its live stream
    },
  }, h("h2", {}, "Admin token"),
  h("p.muted", {}, "This emulator runs with --admin-token: enter it to see every account."),
  h("label", { for: "admin-token" }, "Admin token"), tokenInput, h("button", { type: "submit" }, "Use token"));

  const render = () => {
    const shown = rows.filter((row) => matches(row, search.value));
    if (!rows.length) {
      clear(table, h("p.empty", {}, "No accounts yet. Any request with a key like sk_test_… creates one; or load a fixture."));
      return;
    }
    clear(table, h("table", {},
      h("caption.visually-hidden", {}, "Accounts"),
      h("thead", {}, h("tr", {}, ["Account", "Plan", "Agents", "Numbers", "Calls", "Conversations", "Deliveries", "Created"]
        .map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, shown.map((row) => {
        const parent = rows.find((r) => r.id === row.parentId);
        const key = row.key || parent?.key;
        const open = () => app.choose({ id: row.id, key, keyHint: row.keyHint || parent?.keyHint, name: row.name,
          plan: row.plan, parentId: row.parentId });
        return h("tr", { class: row.parentId ? "sub" : "" },
          h("th", { scope: "row" }, h("button.link", { type: "button", onclick: open, disabled: !key },
            h("span.mono", {}, row.parentId ? `↳ ${row.name || row.id}` : row.keyHint || row.id),
            row.name && !row.parentId ? h("span.muted", {}, ` ${row.name}`) : null),
          h("span.account-id.mono", {}, row.id),
          row.liveCalls ? h("span.pill", { dataset: { kind: "in-progress" } }, `${row.liveCalls} live`) : null),
          h("td", {}, row.plan), h("td", {}, row.agents), h("td", {}, row.numbers), h("td", {}, row.calls),
          h("td", {}, row.conversations), h("td", {}, row.deliveries), h("td", {}, when(row.createdAt)));
      }))));
  };
  search.addEventListener("input", render);

  const load = async () => {
    status.textContent = "";
    try {
      const data = await app.client.admin("/_emulator/accounts");
      app.save({ adminOk: true });
      rows = data.data;
      byToken.hidden = true;
      render();
    } catch (error) {
      app.save({ adminOk: false });
      if (error.status === 401) {
        byToken.hidden = false;
        clear(table, h("p.muted", {}, "Listing every account needs the admin token. Or open one account with its key."));
        if (app.saved.token) status.textContent = error.message;
      } else {
        clear(table, h("p.form-error", {}, error.message));
      }
    }
  };

  clear(root,
    h("header.top", {}, h("a.brand", { href: "#/" }, h("span.logo", { "aria-hidden": "true" }), "AgentPhone",
      h("span.brand-sub", {}, "emulator inspector"))),
    h("main#main.picker", {},
      h("section.card.wide", { "aria-labelledby": "accounts-title" },
        h("div.list-head", {}, h("h1#accounts-title", {}, "Accounts"), search), table),
      h("div.side-cards", {}, byKey, byToken, status)));
  byToken.hidden = true;
  load();
  // New accounts and what they hold show up by themselves: the admin's stream of happenings drives reloads.
  let pending = null;
  return keepOpen((signal) => app.client.stream("/_emulator/events", (name, data) => {
    if (name !== "happening" || pending) return;
    if (data.kind === "request" && rows.some((row) => data.accounts.includes(row.id))) return; // a known account
    pending = setTimeout(() => { pending = null; load(); }, 300);
  }, { signal, as: "admin" }), () => {});
}
