// Calls: the list, and one call's timeline turn by turn, live while it runs.

import { append, clear, code, field, h, ms, pill, seconds, time, when } from "../dom.js";

const ARROWS = { inbound: "↙", outbound: "↗", web: "⌁" };

function branchOf(path) {
  const found = [...(path || "").matchAll(/on_digits\.([^[.]+)\[/g)];
  return found.length ? found.map((m) => m[1]).join(" › ") : null;
}

function headerTable(headers) {
  return h("table.headers", {}, h("caption.visually-hidden", {}, "Request headers"),
    h("tbody", {}, Object.entries(headers || {}).map(([name, value]) => h("tr", {
      class: name.toLowerCase() === "x-webhook-signature" ? "signature" : "",
    }, h("th", { scope: "row" }, name), h("td.mono", {}, value)))));
}

// The exact signed request and raw reply of a delivery attempt.
export function exchange(attempt, delivery) {
  if (!attempt) {
    return h("p.muted", {}, delivery?.errorMessage || "This delivery was never attempted.");
  }
  const status = attempt.httpStatus ? `HTTP ${attempt.httpStatus}` : "no HTTP answer";
  return h("div.exchange", {},
    h("div.exchange-part", {},
      h("h4", {}, "Request ", h("span.mono.muted", {}, `POST ${attempt.url || ""}`)),
      headerTable(attempt.requestHeaders),
      h("p.note", {}, attempt.bodyChanged ? "Body as sent (it differs from the stored payload):" : "Body:"),
      code(attempt.requestBody, "Request body")),
    h("div.exchange-part", {},
      h("h4", {}, "Reply ", pill(status, attempt.errorMessage ? "failed" : "success"),
        h("span.muted", {}, ` ${ms(attempt.latencyMs)}`),
        attempt.streamed ? h("span.muted", {}, " · streamed NDJSON") : null,
        attempt.contentType && !attempt.streamed ? h("span.muted", {}, ` · ${attempt.contentType}`) : null),
      attempt.errorMessage ? h("p.error-row", {}, attempt.errorMessage) : null,
      attempt.responseBody ? h("pre.code.raw", { tabindex: "0", "aria-label": "Raw reply" }, attempt.responseBody)
        : h("p.muted", {}, "No reply body.")));
}

function agentPart(app, turn, delivery) {
  const parts = [];
  const chunks = turn.chunks || [];
  const timing = [];
  if (turn.firstChunkMs !== undefined && turn.firstChunkMs !== null) timing.push(`first chunk ${ms(turn.firstChunkMs)}`);
  if (turn.finalChunkMs !== undefined && turn.finalChunkMs !== null) timing.push(`final ${ms(turn.finalChunkMs)}`);
  if (delivery?.httpStatus) timing.push(`HTTP ${delivery.httpStatus}`);
  if (chunks.length > 1) timing.push(`${chunks.length} chunks`);
  if (turn.response) {
    const words = chunks.length > 1
      ? chunks.map((chunk, i) => h("span.chunk", {
        class: i < chunks.length - 1 ? "interim" : turn.interrupted ? "cut" : "final",
        title: i < chunks.length - 1 ? "interim chunk" : "final chunk",
      }, chunk))
      : [turn.response];
    parts.push(h("div.bubble.agent", {}, h("span.who", {}, turn.kind === "voicemail" ? "Voicemail" : "Agent"), words));
  }
  if (turn.interrupted) parts.push(h("div.marker.barge", {}, "⚡ The caller barged in: the reply was cut after its first chunk"));
  if (turn.digits) parts.push(h("div.marker.keys", {}, "Agent pressed ", h("kbd", {}, turn.digits)));
  if (turn.transferredTo) parts.push(h("div.marker.transfer", {}, `↪ Transferred to ${turn.transferredTo}`));
  else if (turn.hangup) parts.push(h("div.marker.hangup", {}, "Agent hung up"));
  if (turn.error) parts.push(h("div.error-row", { role: "note" }, h("strong", {}, "Turn failed: "), turn.error));
  if (timing.length) parts.push(h("div.timing", {}, timing.join(" · ")));
  const wire = delivery ? h("details.wire", {},
    h("summary", {}, "Signed request & raw reply"),
    exchange(delivery.attempts?.[0], delivery),
    h("button.link", { type: "button", onclick: () => app.go("deliveries", delivery.id) },
      `Open delivery ${delivery.id} →`)) : null;
  return [h("div.agent-side", {}, parts), wire];
}

function turnView(app, data, previous) {
  const turn = data.turn;
  const items = [];
  const branch = branchOf(turn.turn);
  if (branch && branch !== branchOf(previous?.turn)) {
    items.push(h("li.divider", {}, h("span", {}, `IVR menu → branch ${branch}`)));
  }
  const stamp = h("time.stamp", { datetime: turn.createdAt, title: when(turn.createdAt) }, time(turn.createdAt));
  if (turn.kind === "silence") {
    items.push(h("li.system", {}, stamp, `⋯ Caller silent for ${turn.seconds ?? "?"} s`));
  } else if (turn.kind === "hangup") {
    items.push(h("li.system", {}, stamp, "☎ Caller hung up"));
  } else {
    const caller = turn.kind === "speech"
      ? h("div.bubble.caller", {}, h("span.who", {}, "Caller"), turn.transcript)
      : turn.kind === "dtmf" ? h("div.bubble.caller", {}, h("span.who", {}, "Caller"), "pressed ",
        h("kbd", {}, turn.callerDigits || turn.transcript)) : null;
    items.push(h("li.turn", { dataset: { kind: turn.kind, id: turn.id } }, stamp, caller,
      agentPart(app, turn, data.delivery)));
  }
  return items;
}

function callHeader(app, call) {
  const live = call.status === "in-progress";
  return h("div.detail-head", {},
    h("div.title-row", {},
      h("h1", {}, `${ARROWS[call.direction] || ""} ${call.fromNumber} → ${call.toNumber}`),
      pill(live ? "live" : call.status, call.status),
      live ? h("button", { type: "button", onclick: async () => {
        try { await app.client.v1(`/v1/calls/${call.id}/end`, { method: "POST" }); } catch (e) { app.toast(e.message, "error"); }
      } }, "End call") : null),
    h("dl.facts", {},
      field("Call", h("span.mono", {}, call.id)), field("Direction", call.direction),
      field("Agent", call.agentName || call.agentId), field("Started", when(call.startedAt)),
      field("Duration", seconds(call.durationSeconds)), field("End reason", call.endReason)),
    call.recordingUrl ? h("div.recording", {}, h("span.chip-label", {}, "Recording"),
      h("audio", { controls: true, preload: "none", src: `/v1/calls/${encodeURIComponent(call.id)}/recording`,
        "aria-label": "Call recording" })) : null);
}

export const calls = {
  name: "calls",
  title: "Calls",
  counted: true,
  hint: "Pick a call to see its timeline. Place one through the API, or “Dial in” above.",
  empty: "No calls yet.",
  id: (call) => call.id,
  async load(app) {
    const page = await app.client.v1("/v1/calls?limit=100");
    return { items: page.data, total: page.total };
  },
  refreshOn: (item) => item.kind.startsWith("call.") || item.kind === "fixtures.loaded" || item.kind === "reset",
  row: (app, call) => [
    h("span.row-top", {}, h("span.arrow", { "aria-label": call.direction }, ARROWS[call.direction] || ""),
      h("span.strong", {}, call.direction === "outbound" ? call.toNumber : call.fromNumber),
      pill(call.status === "in-progress" ? "live" : call.status, call.status)),
    h("span.row-sub", {}, `${when(call.startedAt)} · ${seconds(call.durationSeconds)}${call.agentName ? ` · ${call.agentName}` : ""}`),
    call.lastTranscriptSnippet ? h("span.row-snippet", {}, call.lastTranscriptSnippet) : null,
  ],
  detail(app, id, _item, container) {
    const head = h("div");
    const timeline = h("ol.timeline", { "aria-label": "Call timeline" });
    const tail = h("div.timeline-tail", { role: "status", "aria-live": "polite" });
    append(container, head, timeline, tail);
    const controller = new AbortController();
    let ended = false;
    let previous = null;
    const open = async () => {
      while (!ended && !controller.signal.aborted) {
        try {
          await app.client.stream(`/_emulator/calls/${encodeURIComponent(id)}/timeline`, (name, data) => {
            if (name === "connected") {
              clear(timeline);
              previous = null;
            } else if (name === "call") {
              clear(head, callHeader(app, data));
              clear(tail, data.status === "in-progress" ? h("span.waiting", {}, "Live: waiting for the next turn…") : "");
            } else if (name === "turn") {
              append(timeline, turnView(app, data, previous));
              previous = data.turn;
            } else if (name === "ended") {
              ended = true;
              clear(tail, h("div.ended", {}, `Call ended · ${data.status}${data.endReason ? ` (${data.endReason})` : ""}`
                + ` · ${seconds(data.durationSeconds)}`));
            }
          }, { signal: controller.signal });
          if (!ended) await new Promise((r) => setTimeout(r, 1000));
        } catch (error) {
          if (controller.signal.aborted) return;
          if (error.status === 404) { clear(tail, h("p.form-error", {}, error.message)); return; }
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    };
    open();
    // A web call that was only registered ends its stream at once; when a browser joins it, follow it again.
    const unwatch = app.watch((item) => {
      if (item.kind === "call.placed" && item.data.callId === id && ended) {
        ended = false;
        open();
      }
    });
    return () => { controller.abort(); unwatch(); };
  },
};
