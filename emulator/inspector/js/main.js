// The inspector: pick an account, then watch its calls, conversations, deliveries and requests live.
//
// Routes live in the URL hash (#/<account id>/<section>/<item id>), so reloading, the back button and links
// work. One stream of happenings per account keeps every list current; a call's timeline has its own stream.

import { Client, keepOpen } from "./api.js";
import { clear, h, matches } from "./dom.js";
import { actions } from "./views/act.js";
import { basics } from "./views/basics.js";
import { calls } from "./views/calls.js";
import { deliveries } from "./views/deliveries.js";
import { renderPicker } from "./views/picker.js";
import { conversations } from "./views/threads.js";

const SECTIONS = [calls, conversations, deliveries, basics.requests, basics.agents, basics.numbers,
  basics.webhooks, basics.activity];
const STORE = "agentphone-inspector";

class App {
  constructor(root) {
    this.root = root;
    this.saved = JSON.parse(sessionStorage.getItem(STORE) || "{}");
    this.client = new Client({ token: this.saved.token || null });
    this.account = null;
    this.lists = {};
    this.totals = {};
    this.happenings = [];
    this.listeners = new Set();
    this.stopStream = null;
    this.stopDetail = null;
    this.search = "";
    this.pending = new Set();
    window.addEventListener("hashchange", () => this.route());
    document.addEventListener("keydown", (event) => this.keys(event));
  }

  save(changes) {
    Object.assign(this.saved, changes);
    sessionStorage.setItem(STORE, JSON.stringify(this.saved));
  }

  // --- routing ------------------------------------------------------------------------------------------

  parse() {
    const [accountId, section, ...rest] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    return { accountId: accountId || null, section: section || "calls", id: rest.join("/") || null };
  }

  go(section, id = null) {
    const target = `#/${encodeURIComponent(this.account.id)}/${section}${id ? `/${encodeURIComponent(id)}` : ""}`;
    if (location.hash !== target) location.hash = target;
    else this.route();
  }

  async route() {
    const { accountId, section, id } = this.parse();
    if (!accountId || !this.saved.accounts?.[accountId]) return this.showPicker();
    if (!this.account || this.account.id !== accountId) await this.open(this.saved.accounts[accountId]);
    const next = SECTIONS.find((s) => s.name === section) || calls;
    const changed = next !== this.section;
    this.section = next;
    this.selected = id;
    if (changed) {
      this.search = "";
      this.searchBox.value = "";
      await this.load(next);
    }
    this.renderNav();
    this.renderList();
    this.renderDetail();
  }

  // --- accounts -----------------------------------------------------------------------------------------

  showPicker() {
    this.close();
    clear(this.root);
    this.stopPicker = renderPicker(this, this.root);
  }

  // Remember how to reach an account (its key, or its parent's key and its ID) and open it.
  choose(account) {
    const accounts = { ...(this.saved.accounts || {}), [account.id]: account };
    this.save({ accounts });
    location.hash = `#/${encodeURIComponent(account.id)}/calls`;
  }

  async open(account) {
    this.close();
    this.account = account;
    this.client = new Client({ key: account.key, token: this.saved.token || null,
      subAccountId: account.parentId ? account.id : null });
    this.lists = {};
    this.totals = {};
    this.happenings = [];
    this.section = null;
    this.buildShell();
    this.listen();
    this.refreshClock();
    await Promise.all(SECTIONS.filter((s) => s.counted).map((s) => this.load(s)));
  }

  // The account was reset or replaced by a fixture: its key now leads to a new account; follow it there.
  async reopen(item) {
    const account = this.account;
    if (!account.key || account.parentId) return this.showPicker();
    try {
      const found = await new Client({ key: account.key }).control(`/_emulator/accounts/${encodeURIComponent(account.key)}`);
      const accounts = { ...(this.saved.accounts || {}) };
      delete accounts[account.id];
      accounts[found.id] = { ...account, id: found.id, plan: found.plan };
      this.save({ accounts });
      const section = this.section?.name || "calls";
      this.account = null;
      this.section = null;
      location.hash = `#/${encodeURIComponent(found.id)}/${section}`;
      if (found.id === account.id) await this.route();
      this.toast(item.kind === "reset" ? "The account was reset." : "A fixture replaced this account.");
    } catch (error) {
      this.toast(error.message, "error");
    }
  }

  close() {
    if (this.stopPicker) this.stopPicker();
    this.stopPicker = null;
    if (this.stopStream) this.stopStream();
    if (this.stopDetail) this.stopDetail();
    this.stopStream = this.stopDetail = null;
    this.account = null;
  }

  get adminReachable() { return this.saved.adminOk === true; }

  // --- the live stream ------------------------------------------------------------------------------------

  // Happenings from before the stream opened fill the activity feed; live ones also refresh what they touch.
  listen() {
    let last = 0;
    let first = true;
    this.stopStream = keepOpen(async (signal) => {
      let live = false;
      await this.client.stream(`/_emulator/events?since=${last}`, (name, data) => {
        if (name === "live") {
          live = true;
          if (!first) SECTIONS.filter((s) => s.counted || s === this.section).forEach((s) => this.soon(s));
          first = false;
        } else if (name === "happening") {
          last = data.seq;
          this.happened(data, live);
        }
      }, { signal });
    }, (status) => this.setLive(status));
  }

  happened(item, live = true) {
    if (!item.everyone && !item.accounts.includes(this.account.id)) return; // a sub-account's, or another's
    if (!live) {
      if (item.kind !== "request") this.happenings.unshift(item);
      return;
    }
    if (item.kind === "reset" || (item.kind === "fixtures.loaded" && item.accounts.includes(this.account.id))) {
      this.reopen(item);
      return;
    }
    if (item.kind !== "request") {
      this.happenings.unshift(item);
      this.happenings.length = Math.min(this.happenings.length, 500);
    }
    for (const section of SECTIONS) {
      if (section.refreshOn?.(item)) this.soon(section);
    }
    if (item.kind === "clock.moved" || item.kind === "reset") this.refreshClock();
    for (const listener of this.listeners) listener(item);
  }

  // Reload a section shortly (several happenings in a burst cause one reload).
  soon(section) {
    if (this.pending.has(section)) return;
    this.pending.add(section);
    setTimeout(async () => {
      this.pending.delete(section);
      if (!this.account) return;
      await this.load(section);
      if (section === this.section) this.renderList();
      this.renderNav();
    }, 120);
  }

  async load(section) {
    try {
      const { items, total } = await section.load(this);
      this.lists[section.name] = items;
      this.totals[section.name] = total ?? items.length;
      this.loadError = null;
    } catch (error) {
      this.lists[section.name] = this.lists[section.name] || [];
      if (section === this.section) this.loadError = error.message;
    }
  }

  setLive(status) {
    if (!this.liveBadge) return;
    const text = { live: "Live", reconnecting: "Reconnecting…", offline: "Offline", refused: "Refused" }[status];
    this.liveBadge.dataset.state = status;
    this.liveBadge.textContent = text || status;
  }

  async refreshClock() {
    try {
      const clock = await this.client.control("/_emulator/clock");
      this.clockText.textContent = new Date(clock.now).toLocaleString([], { dateStyle: "medium", timeStyle: "medium" });
      this.clockText.title = clock.offsetSeconds ? `moved ${clock.offsetSeconds.toFixed(0)} s ahead of wall time`
        : "wall time";
    } catch { /* shown on the next happening */ }
  }

  // --- the shell ------------------------------------------------------------------------------------------

  buildShell() {
    const account = this.account;
    this.liveBadge = h("span.live", { role: "status", "aria-live": "polite" }, "Connecting…");
    this.clockText = h("span.clock-time", {}, "–");
    this.nav = h("ul.sections");
    this.searchBox = h("input.search", { type: "search", placeholder: "Search", "aria-label": "Search this list",
      oninput: (e) => { this.search = e.target.value; this.renderList(); } });
    this.listTitle = h("h2", {});
    this.list = h("ul.items", { role: "list" });
    this.detail = h("section.detail", { "aria-label": "Details", tabindex: "-1" });
    this.toastArea = h("div.toasts", { role: "status", "aria-live": "polite" });
    const label = account.name ? `${account.name} · ${account.keyHint || account.id}` : account.keyHint || account.id;
    clear(this.root,
      h("header.top", {},
        h("a.brand", { href: "#/", title: "All accounts" }, h("span.logo", { "aria-hidden": "true" }), "AgentPhone",
          h("span.brand-sub", {}, "emulator inspector")),
        h("a.account-chip", { href: "#/", title: "Switch account" },
          h("span.chip-label", {}, "Account"), h("span.mono", {}, label), account.plan ? h("span.pill", {}, account.plan) : null),
        h("div.spacer"),
        h("div.clock", { title: "Emulator clock" }, h("span.chip-label", {}, "Clock"), this.clockText),
        this.liveBadge,
        actions.buttons(this)),
      h("div.shell", {},
        h("nav.side", { "aria-label": "Sections" }, this.nav),
        h("section.list-pane", { "aria-label": "List" },
          h("div.list-head", {}, this.listTitle, this.searchBox), this.list),
        h("main#main.detail-pane", {}, this.detail)),
      this.toastArea);
  }

  renderNav() {
    clear(this.nav, SECTIONS.map((section) => {
      const total = this.totals[section.name];
      return h("li", {}, h("a", {
        href: `#/${encodeURIComponent(this.account.id)}/${section.name}`,
        "aria-current": section === this.section ? "page" : null,
      }, h("span", {}, section.title), total !== undefined && section.counted ? h("span.count", {}, total) : null));
    }));
  }

  renderList() {
    const section = this.section;
    const items = (this.lists[section.name] || []).filter((item) => matches(item, this.search));
    const focused = document.activeElement?.dataset?.id;
    this.listTitle.textContent = section.title;
    const rows = items.map((item) => {
      const id = section.id(item);
      return h("li", {}, h("button.item", {
        type: "button", dataset: { id }, "aria-current": id === this.selected ? "true" : null,
        onclick: () => this.go(section.name, id),
      }, section.row(this, item)));
    });
    const total = this.totals[section.name] ?? 0;
    const more = total > (this.lists[section.name] || []).length
      ? h("li.note", {}, `Showing the newest ${(this.lists[section.name] || []).length} of ${total}.`) : null;
    const empty = rows.length ? null : h("li.empty", {}, this.loadError || (this.search ? "Nothing matches."
      : section.empty || "Nothing yet."));
    clear(this.list, rows, more, empty);
    if (focused) this.list.querySelector(`[data-id="${CSS.escape(focused)}"]`)?.focus();
  }

  renderDetail() {
    if (this.stopDetail) this.stopDetail();
    this.stopDetail = null;
    const section = this.section;
    const item = (this.lists[section.name] || []).find((x) => section.id(x) === this.selected);
    if (!this.selected) {
      clear(this.detail, h("div.placeholder", {}, section.hint || `Pick an item on the left.`));
      return;
    }
    clear(this.detail);
    const stop = section.detail(this, this.selected, item, this.detail);
    this.stopDetail = typeof stop === "function" ? stop : null;
  }

  // Detail views that follow happenings register here while they are shown.
  watch(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  toast(text, kind = "info") {
    const note = h("div.toast", { dataset: { kind } }, text);
    this.toastArea.append(note);
    setTimeout(() => note.remove(), 5000);
  }

  keys(event) {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName);
    if (event.key === "/" && !typing && this.searchBox) {
      event.preventDefault();
      this.searchBox.focus();
    } else if ((event.key === "ArrowDown" || event.key === "ArrowUp") && document.activeElement?.matches?.(".item")) {
      event.preventDefault();
      const buttons = [...this.list.querySelectorAll(".item")];
      const at = buttons.indexOf(document.activeElement);
      buttons[Math.max(0, Math.min(buttons.length - 1, at + (event.key === "ArrowDown" ? 1 : -1)))]?.focus();
    }
  }
}

const app = new App(document.getElementById("app"));
window.inspector = app;
app.route();
