// Conversations, shown as a phone shows them: the thread of SMS, MMS and iMessage bubbles with tapbacks,
// the conversation's metadata, and a composer for the other side's next text.

import { append, clear, code, field, h, pill, when } from "../dom.js";

// iMessage's six tapbacks, drawn with symbols every system font has (no emoji font needed).
const TAPBACKS = { love: "♥", like: "↑", dislike: "↓", laugh: "ha", emphasize: "‼", question: "?" };

function channelLabel(channel, media) {
  if (channel === "imessage") return "iMessage";
  return media?.length ? "MMS" : "SMS";
}

function mediaView(urls) {
  return h("div.media", {}, urls.map((url) => {
    const link = h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, url.split("/").pop() || url);
    if (!/\.(png|jpe?g|gif|webp)(\?|$)/i.test(url)) return link;
    const img = h("img", { src: url, alt: "Attached image", loading: "lazy" });
    img.addEventListener("error", () => img.replaceWith(link));
    return img;
  }));
}

function reactMenu(app, message, conversationId) {
  return h("details.react", {},
    h("summary", { "aria-label": "React to this message" }, "React"),
    h("div.tapbacks", { role: "group", "aria-label": "Tapbacks" }, Object.entries(TAPBACKS).map(([name, glyph]) =>
      h("button", {
        type: "button", title: name, "aria-label": `React with ${name}`,
        onclick: async (event) => {
          event.target.closest("details").open = false;
          try {
            await app.client.v1(`/v1/messages/${encodeURIComponent(message.id)}/reactions`,
              { method: "POST", body: { reaction: name } });
            app.toast(`Reacted with ${name}`);
            app.refreshThread?.(conversationId);
          } catch (error) { app.toast(error.message, "error"); }
        },
      }, glyph))));
}

function bubble(app, message, conversation) {
  const side = message.direction === "inbound" ? "them" : "us";
  const reactions = (message.reactions || []).map((r) =>
    h("span.tapback", { title: `${r.reactionType} from ${r.fromNumber}` }, TAPBACKS[r.reactionType] || r.reactionType));
  return h("li.message", { class: side, dataset: { id: message.id, channel: message.channel } },
    h("div.bubble", {}, message.body ? h("span.text", {}, message.body) : null, message.mediaUrls?.length ? mediaView(message.mediaUrls) : null,
      reactions.length ? h("span.tapbacks-on", {}, reactions) : null),
    h("div.meta", {}, `${channelLabel(message.channel, message.mediaUrls)} · ${when(message.receivedAt)} · ${message.status}`,
      message.channel === "imessage" ? reactMenu(app, message, conversation.id) : null));
}

function composer(app, conversation) {
  const body = h("textarea", { id: "compose-body", rows: "2", required: true, placeholder: "Type a text…" });
  const media = h("input", { id: "compose-media", type: "url", placeholder: "Media URL (optional: an MMS)" });
  const status = h("span.form-error", { role: "alert" });
  return h("form.composer", {
    onsubmit: async (event) => {
      event.preventDefault();
      status.textContent = "";
      try {
        await app.client.control("/_emulator/sms", { method: "POST", body: {
          from: conversation.participant, to: conversation.phoneNumber, body: body.value,
          ...(media.value ? { mediaUrls: [media.value] } : {}),
        } });
        body.value = "";
        media.value = "";
      } catch (error) { status.textContent = error.message; }
    },
  }, h("label", { for: "compose-body" }, `Text arriving from ${conversation.participant}`), body,
  h("div.compose-row", {}, h("label.visually-hidden", { for: "compose-media" }, "Media URL"), media,
    h("button.primary", { type: "submit" }, "Send inbound text")), status);
}

export const conversations = {
  name: "conversations",
  title: "Conversations",
  counted: true,
  hint: "Pick a conversation to see its thread.",
  empty: "No conversations yet.",
  id: (c) => c.id,
  async load(app) {
    const page = await app.client.v1("/v1/conversations?limit=100");
    return { items: page.data, total: page.total };
  },
  refreshOn: (item) => item.kind.startsWith("sms.") || item.kind === "fixtures.loaded" || item.kind === "reset"
    || (item.kind === "request" && item.data.path.startsWith("/v1/conversations") && item.data.method !== "GET"),
  row: (app, c) => [
    h("span.row-top", {}, h("span.strong", {}, c.participant), pill(c.channel === "imessage" ? "iMessage" : "SMS", c.channel)),
    h("span.row-sub", {}, `${when(c.lastMessageAt)} · ${c.messageCount} message${c.messageCount === 1 ? "" : "s"} · ${c.phoneNumber}`),
    h("span.row-snippet", {}, c.lastMessagePreview),
  ],
  detail(app, id, _item, container) {
    const head = h("div.detail-head");
    const side = h("div.thread-side");
    const thread = h("ol.thread", { "aria-label": "Messages", "aria-live": "polite" });
    const foot = h("div");
    append(container, head, h("div.conversation", {}, h("div.phone", {}, thread, foot), side));
    let composed = false;
    const load = async () => {
      try {
        const c = await app.client.v1(`/v1/conversations/${encodeURIComponent(id)}?messageLimit=100`);
        clear(head, h("div.title-row", {}, h("h1", {}, `${c.participant} ⇄ ${c.phoneNumber}`),
          pill(c.channel === "imessage" ? "iMessage" : "SMS", c.channel)));
        clear(side,
          h("dl.facts.stacked", {}, field("Conversation", h("span.mono", {}, c.id)), field("Agent", c.agentId),
            field("Our number", c.phoneNumber), field("Messages", c.messageCount),
            field("Started", when(c.createdAt)), field("Last message", when(c.lastMessageAt))),
          h("h2.sub", {}, "Metadata (conversationState)"),
          c.metadata ? code(c.metadata, "Conversation metadata")
            : h("p.muted", {}, "None set. PATCH /v1/conversations/{id} with {\"metadata\": {…}} sets it; "
              + "webhooks of this conversation carry it."));
        clear(thread, [...c.messages].reverse().map((m) => bubble(app, m, c)));
        thread.lastElementChild?.scrollIntoView({ block: "end" });
        if (!composed) { clear(foot, composer(app, c)); composed = true; }
      } catch (error) { clear(head, h("p.form-error", {}, error.message)); }
    };
    app.refreshThread = (conversationId) => { if (conversationId === id) load(); };
    load();
    const unwatch = app.watch((item) => {
      if (item.kind.startsWith("sms.") && item.data.conversationId === id) load();
      if (item.kind === "request" && item.data.path.startsWith("/v1/messages/") && item.data.method === "POST") load();
    });
    return () => { unwatch(); app.refreshThread = null; };
  },
};
