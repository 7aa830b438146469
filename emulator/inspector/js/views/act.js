// Acting as the outside world, through the same control API the tests use: a text arrives, a phone dials in,
// time passes, the account starts over.

import { clear, h } from "../dom.js";

const SCRIPTS = {
  "A question and a goodbye": [{ say: "Hi, I'd like to book a table for two tonight." }, { say: "Great, thanks!" },
    { hangup: true }],
  "IVR menu": [{ say: "Press 1 for sales or 2 for support." }, { on_digits: { 1: [{ say: "Sales here." }],
    2: [{ say: "Support here, what's wrong?" }], default: [{ say: "Sorry, I didn't get that." }] } }, { hangup: true }],
  "Barge-in": [{ say: "Tell me about your opening hours." }, { say: "Sorry, actually, are you open Sunday?", interrupt: true },
    { hangup: true }],
  "Keypad and silence": [{ press: "1" }, { silence: 3 }, { say: "Hello? Anyone there?" }, { hangup: true }],
};

function dialog(app, title, body, onSubmit) {
  const status = h("p.form-error", { role: "alert" });
  const box = h("dialog.act", { "aria-labelledby": "dialog-title" });
  const close = () => { box.close(); box.remove(); };
  const form = h("form", {
    onsubmit: async (event) => {
      event.preventDefault();
      status.textContent = "";
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await onSubmit(close);
      } catch (error) {
        status.textContent = error.message;
      } finally { button.disabled = false; }
    },
  }, h("h2#dialog-title", {}, title), body, status,
  h("div.compose-row", {}, h("button.primary", { type: "submit" }, title),
    h("button", { type: "button", onclick: close }, "Cancel")));
  box.append(form);
  box.addEventListener("close", () => box.remove());
  document.body.append(box);
  box.showModal();
  box.querySelector("input, select, textarea")?.focus();
}

async function numberSelect(app, id) {
  const select = h("select", { id, required: true });
  try {
    const page = await app.client.v1("/v1/numbers?limit=100");
    clear(select, page.data.map((n) => h("option", { value: n.phoneNumber }, `${n.phoneNumber} (${n.type})`)));
    if (!page.data.length) clear(select, h("option", { value: "" }, "This account has no numbers"));
  } catch (error) {
    clear(select, h("option", { value: "" }, error.message));
  }
  return select;
}

async function inboundSms(app) {
  const from = h("input", { id: "sms-from", type: "tel", value: "+14155550100", required: true });
  const to = await numberSelect(app, "sms-to");
  const body = h("textarea", { id: "sms-body", rows: "3", required: true }, "Hi! Is this still available?");
  const media = h("input", { id: "sms-media", type: "url", placeholder: "https://… (optional: an MMS)" });
  dialog(app, "Send an inbound text", [
    h("label", { for: "sms-from" }, "From (the other phone)"), from,
    h("label", { for: "sms-to" }, "To (one of this account's numbers)"), to,
    h("label", { for: "sms-body" }, "Text"), body,
    h("label", { for: "sms-media" }, "Media URL"), media,
  ], async (close) => {
    const sent = await app.client.control("/_emulator/sms", { method: "POST", body: {
      from: from.value, to: to.value, body: body.value, ...(media.value ? { mediaUrls: [media.value] } : {}) } });
    close();
    app.go("conversations", sent.conversation.id);
  });
}

async function dialIn(app) {
  const from = h("input", { id: "dial-from", type: "tel", value: "+14155550100", required: true });
  const to = await numberSelect(app, "dial-to");
  const script = h("textarea.code", { id: "dial-script", rows: "9", spellcheck: "false" });
  const preset = h("select", { id: "dial-preset", onchange: () => {
    script.value = JSON.stringify(SCRIPTS[preset.value], null, 2);
  } }, Object.keys(SCRIPTS).map((name) => h("option", { value: name }, name)));
  script.value = JSON.stringify(SCRIPTS[preset.value], null, 2);
  dialog(app, "Dial in", [
    h("label", { for: "dial-from" }, "From (the caller)"), from,
    h("label", { for: "dial-to" }, "To (one of this account's numbers)"), to,
    h("label", { for: "dial-preset" }, "Start from"), preset,
    h("label", { for: "dial-script" }, "Caller script (say, press, silence, hangup, on_digits)"), script,
  ], async (close) => {
    let turns;
    try { turns = JSON.parse(script.value); } catch (error) { throw new Error(`The script is not JSON: ${error.message}`); }
    const call = await app.client.control("/_emulator/calls/inbound", { method: "POST",
      body: { from: from.value, to: to.value, turns } });
    close();
    app.go("calls", call.id);
  });
}

function advanceClock(app) {
  const amount = h("input", { id: "clock-seconds", type: "number", min: "0", step: "1", value: "60", required: true });
  const quick = [["10 s", 10], ["1 min", 60], ["5 min", 300], ["1 h", 3600], ["1 day", 86400]].map(([label, value]) =>
    h("button", { type: "button", onclick: () => { amount.value = String(value); } }, label));
  dialog(app, "Advance the clock", [
    h("p.muted", {}, "Moves the emulator clock forward for every account: retries that fall due are sent, numbers that "
      + "expire are released."),
    h("label", { for: "clock-seconds" }, "Seconds"), amount, h("div.compose-row", {}, quick),
  ], async (close) => {
    await app.client.admin("/_emulator/clock", { method: "POST", body: { advance: Number(amount.value) } });
    close();
    app.refreshClock();
  });
}

function resetAccount(app) {
  const sub = Boolean(app.account.parentId);
  dialog(app, "Reset account", [
    h("p", {}, sub ? "This resets the parent account of this sub-account, with all its sub-accounts: "
      : "This removes everything the account holds: "),
    h("p", {}, "agents, numbers, webhooks, calls, conversations, deliveries, journaled requests, faults and scripts."),
  ], async (close) => {
    await app.client.control("/_emulator/reset", { method: "POST", body: { key: app.account.key } });
    close();
    app.toast("The account was reset.");
  });
}

export const actions = {
  buttons(app) {
    const admin = app.adminReachable;
    return h("div.acts", { role: "group", "aria-label": "Act" },
      h("button", { type: "button", onclick: () => inboundSms(app) }, "Inbound text"),
      h("button", { type: "button", onclick: () => dialIn(app) }, "Dial in"),
      h("button", { type: "button", onclick: () => advanceClock(app), disabled: !admin,
        title: admin ? "Move the emulator clock forward" : "Moving the clock needs the admin token" }, "Advance clock"),
      h("button.danger", { type: "button", onclick: () => resetAccount(app) }, "Reset"));
  },
};
