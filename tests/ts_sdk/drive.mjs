// Drives the official `agentphone` TypeScript SDK, unchanged, against an AgentPhone API at
// AGENTPHONE_BASE_URL with the key AGENTPHONE_API_KEY. Every response is checked against the
// SDK's own declared response type (read from its bundled .d.ts files: required fields, types,
// enums, nested types) and against what the previous steps did (ids, fields, statuses).
// Prints one JSON summary line; exits non-zero on the first mismatch or error.

import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";

import { AgentPhoneClient, AgentPhoneError } from "agentphone";

const BASE_URL = process.env.AGENTPHONE_BASE_URL;
const API_KEY = process.env.AGENTPHONE_API_KEY;
if (!BASE_URL || !API_KEY) {
    throw new Error("Set AGENTPHONE_BASE_URL and AGENTPHONE_API_KEY.");
}

const require = createRequire(import.meta.url);
const SDK_ENTRY = require.resolve("agentphone");
const SDK_VERSION = JSON.parse(readFileSync(path.join(path.dirname(SDK_ENTRY), "../../package.json"), "utf8")).version;
const TYPES_DIR = path.join(path.dirname(SDK_ENTRY), "api", "types");

// --- the SDK's declared response types, parsed from its .d.ts files ---------------------------------

const typeCache = new Map();

function loadType(name) {
    if (typeCache.has(name)) {
        return typeCache.get(name);
    }
    const file = path.join(TYPES_DIR, `${name}.d.ts`);
    const src = readFileSync(file, "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/^\s*\/\/.*$/gm, "");
    const iface = src.match(new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`));
    if (!iface) {
        throw new Error(`cannot find interface ${name} in ${file}`);
    }
    const fields = [];
    for (const line of iface[1].split("\n")) {
        const m = line.match(/^\s*("?[\w-]+"?)(\?)?: (.+);\s*$/);
        if (m) {
            fields.push({ name: m[1].replace(/"/g, ""), optional: m[2] === "?", type: m[3].trim() });
        } else if (line.trim()) {
            throw new Error(`cannot parse field line in ${name}: ${line.trim()}`);
        }
    }
    const enums = {};
    for (const m of src.matchAll(/const (\w+): \{([\s\S]*?)\};/g)) {
        enums[m[1]] = [...m[2].matchAll(/readonly \w+: "([^"]*)"/g)].map((v) => v[1]);
    }
    const parsed = { name, fields, enums };
    typeCache.set(name, parsed);
    return parsed;
}

function splitTop(expr, sep) {
    const parts = [];
    let depth = 0;
    let start = 0;
    for (let i = 0; i < expr.length; i++) {
        const c = expr[i];
        if (c === "<" || c === "(") depth++;
        else if (c === ">" || c === ")") depth--;
        else if (c === sep && depth === 0) {
            parts.push(expr.slice(start, i).trim());
            start = i + 1;
        }
    }
    parts.push(expr.slice(start).trim());
    return parts;
}

function describe(value) {
    const text = JSON.stringify(value);
    return text === undefined ? "undefined" : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

// Returns a list of problems (empty when `value` matches the TypeScript type expression `expr`).
function checkExpr(value, expr, where, owner) {
    const alternatives = splitTop(expr, "|");
    if (alternatives.length > 1) {
        const results = alternatives.map((alt) => checkExpr(value, alt, where, owner));
        if (results.some((r) => r.length === 0)) return [];
        // Report the closest alternative: one of the value's own kind that failed deeper inside, if any.
        const kindMismatch = (r) => r.length === 1 && r[0].startsWith(`${where}: expected `);
        return results.find((r) => !kindMismatch(r)) ?? [`${where}: expected ${expr}, got ${describe(value)}`];
    }
    let t = expr.trim();
    if (t.startsWith("(") && t.endsWith(")")) t = t.slice(1, -1);
    if (t === "unknown" || t === "any") return [];
    if (t === "string" || t === "number" || t === "boolean") {
        return typeof value === t ? [] : [`${where}: expected ${t}, got ${describe(value)}`];
    }
    if (t === "null") return value === null ? [] : [`${where}: expected null, got ${describe(value)}`];
    if (t.endsWith("[]")) {
        if (!Array.isArray(value)) return [`${where}: expected ${t}, got ${describe(value)}`];
        return value.flatMap((item, i) => checkExpr(item, t.slice(0, -2), `${where}[${i}]`, owner));
    }
    const record = t.match(/^Record<string, (.+)>$/);
    if (record) {
        if (value === null || typeof value !== "object" || Array.isArray(value)) {
            return [`${where}: expected ${t}, got ${describe(value)}`];
        }
        return Object.entries(value).flatMap(([k, v]) => checkExpr(v, record[1], `${where}.${k}`, owner));
    }
    const ref = t.match(/^AgentPhone\.(\w+)$/);
    if (ref) return checkObject(value, ref[1], where);
    const enumRef = t.match(/^(\w+)\.(\w+)$/);
    if (enumRef && enumRef[1] === owner.name && owner.enums[enumRef[2]]) {
        const allowed = owner.enums[enumRef[2]];
        return allowed.includes(value) ? [] : [`${where}: expected one of ${allowed.join("|")}, got ${describe(value)}`];
    }
    throw new Error(`type checker cannot read the type expression '${expr}' (${where})`);
}

function checkObject(value, typeName, where) {
    const type = loadType(typeName);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
        return [`${where}: expected a ${typeName} object, got ${describe(value)}`];
    }
    const problems = [];
    for (const field of type.fields) {
        const at = `${where}.${field.name}`;
        if (!(field.name in value) || value[field.name] === undefined) {
            if (!field.optional) problems.push(`${at}: required by ${typeName} but missing`);
            continue;
        }
        problems.push(...checkExpr(value[field.name], field.type, at, type));
    }
    return problems;
}

const conformed = new Set();

function conforms(value, typeName, label) {
    const problems = checkObject(value, typeName, label);
    if (problems.length) {
        throw new Error(`${label} does not match the SDK type ${typeName}:\n  ${problems.join("\n  ")}`);
    }
    conformed.add(typeName);
    return value;
}

// --- assertions --------------------------------------------------------------------------------------

function check(condition, message) {
    if (!condition) throw new Error(`assertion failed: ${message}`);
}

function eq(actual, expected, what) {
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        throw new Error(`assertion failed: ${what}: expected ${describe(expected)}, got ${describe(actual)}`);
    }
}

const steps = [];

async function step(name, call) {
    try {
        const result = await call();
        steps.push(name);
        return result;
    } catch (err) {
        const detail = err instanceof AgentPhoneError && err.statusCode !== undefined
            ? ` (HTTP ${err.statusCode}: ${describe(err.body)})` : "";
        err.message = `step '${name}' failed${detail}: ${err.message}`;
        throw err;
    }
}

async function expectApiError(name, status, call) {
    return step(name, async () => {
        try {
            await call();
        } catch (err) {
            check(err instanceof AgentPhoneError, `${name}: expected AgentPhoneError, got ${err}`);
            eq(err.statusCode, status, `${name}: status code`);
            check(typeof err.body?.detail === "string" && err.body.detail.length > 0,
                `${name}: error body has a 'detail' sentence (got ${describe(err.body)})`);
            return err;
        }
        throw new Error(`${name}: expected HTTP ${status}, the call succeeded`);
    });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- a webhook receiver, so deliveries have somewhere to go ------------------------------------------

function startReceiver() {
    const received = [];
    const server = http.createServer((req, res) => {
        const chunks = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => {
            const raw = Buffer.concat(chunks).toString("utf8");
            received.push({ path: req.url, headers: req.headers, raw });
            res.writeHead(200, { "Content-Type": "application/json" });
            res.end("{}");
        });
    });
    return new Promise((resolve) => {
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address();
            resolve({ url: `http://127.0.0.1:${port}`, received, close: () => server.close() });
        });
    });
}

function verifySignature(delivery, secret) {
    const timestamp = delivery.headers["x-webhook-timestamp"];
    const signature = delivery.headers["x-webhook-signature"];
    const expected = `sha256=${createHmac("sha256", secret).update(`${timestamp}.${delivery.raw}`).digest("hex")}`;
    eq(signature, expected, `X-Webhook-Signature of the delivery to ${delivery.path}`);
}

// --- the drive ---------------------------------------------------------------------------------------

async function main() {
    const client = new AgentPhoneClient({ token: API_KEY, baseUrl: BASE_URL, maxRetries: 0, timeoutInSeconds: 30 });
    const receiver = await startReceiver();
    try {
        await drive(client, receiver);
        await driveGroupsAndWhatsApp();
    } finally {
        receiver.close();
    }
    console.log(JSON.stringify({ ok: true, sdk: `agentphone@${SDK_VERSION}`, steps: new Set(steps).size,
        requests: steps.length, typesChecked: [...conformed].sort(), stepNames: [...new Set(steps)] }));
}

async function drive(client, receiver) {
    // Agents: voices, create with many fields, get, list, update.
    const voices = await step("agents.listVoices", () => client.agents.listVoices());
    check(Array.isArray(voices?.data) && voices.data.length > 0, "listVoices returns a non-empty data array");
    const voiceId = voices.data[0].voiceId ?? voices.data[0].id;
    check(typeof voiceId === "string" && voiceId.length > 0, `a voice has an id (got ${describe(voices.data[0])})`);

    const created = await step("agents.createAgent", () => client.agents.createAgent({
        name: "TS SDK Agent",
        description: "Driven by the official TypeScript SDK",
        voiceMode: "hosted",
        systemPrompt: "You are a concise receptionist for {{company}}.",
        beginMessage: "Hello from the TypeScript SDK.",
        voice: voiceId,
        modelTier: "balanced",
        enableMessaging: true,
        sttMode: "accurate",
        maxSilenceMs: 20000,
        voiceSpeed: 1.1,
        interruptionSensitivity: 0.4,
        enableBackchannel: false,
        language: "en-US",
    }));
    conforms(created, "AgentResponse", "createAgent");
    const agentId = created.id;
    eq(created.name, "TS SDK Agent", "created agent name");
    eq(created.voiceMode, "hosted", "created agent voiceMode");
    eq(created.systemPrompt, "You are a concise receptionist for {{company}}.", "created agent systemPrompt");
    eq(created.beginMessage, "Hello from the TypeScript SDK.", "created agent beginMessage");
    eq(created.voice, voiceId, "created agent voice");
    eq(created.modelTier, "balanced", "created agent modelTier");
    eq(created.sttMode, "accurate", "created agent sttMode");
    eq(created.maxSilenceMs, 20000, "created agent maxSilenceMs");
    eq(created.voiceSpeed, 1.1, "created agent voiceSpeed");
    eq(created.interruptionSensitivity, 0.4, "created agent interruptionSensitivity");
    eq(created.enableBackchannel, false, "created agent enableBackchannel");
    eq(created.language, "en-US", "created agent language");
    eq(created.numbers, [], "a new agent has no numbers");

    const fetched = await step("agents.getAgent", () => client.agents.getAgent({ agent_id: agentId }));
    conforms(fetched, "AgentResponse", "getAgent");
    eq(fetched.id, agentId, "getAgent id");
    eq(fetched.description, "Driven by the official TypeScript SDK", "getAgent description");

    const agentList = await step("agents.listAgents", () => client.agents.listAgents());
    conforms(agentList, "AgentListResponse", "listAgents");
    check(agentList.data.some((a) => a.id === agentId), "listAgents contains the new agent");
    eq(agentList.total, agentList.data.length, "listAgents total on a fresh account");

    const updated = await step("agents.updateAgent", () => client.agents.updateAgent({
        agent_id: agentId, description: "Updated through the SDK", voiceSpeed: 0.9, ambientSound: "office",
    }));
    conforms(updated, "AgentResponse", "updateAgent");
    eq(updated.description, "Updated through the SDK", "updated description");
    eq(updated.voiceSpeed, 0.9, "updated voiceSpeed");
    eq(updated.ambientSound, "office", "updated ambientSound");
    eq(updated.name, "TS SDK Agent", "update leaves the name alone");
    eq(updated.modelTier, "balanced", "update leaves modelTier alone");

    // Numbers: buy with an area code, list, get.
    const number = await step("numbers.createNumber", () => client.numbers.createNumber({ areaCode: "415" }));
    conforms(number, "PhoneNumberResponse", "createNumber");
    check(number.phoneNumber.startsWith("+1415"), `bought number is in area code 415 (got ${number.phoneNumber})`);
    eq(number.country, "US", "bought number country");
    eq(number.status, "active", "bought number status");
    eq(number.agentId ?? null, null, "a number bought without agentId is unattached");
    const numberId = number.id;

    const numberList = await step("numbers.listNumbers", () => client.numbers.listNumbers());
    conforms(numberList, "PhoneNumberListResponse", "listNumbers");
    check(numberList.data.some((n) => n.id === numberId), "listNumbers contains the bought number");
    eq(numberList.hasMore, false, "listNumbers hasMore");

    const gotNumber = await step("numbers.getNumber", () => client.numbers.getNumber({ number_id: numberId }));
    conforms(gotNumber, "PhoneNumberResponse", "getNumber");
    eq(gotNumber.phoneNumber, number.phoneNumber, "getNumber phoneNumber");

    // Attach the number to the agent.
    const attached = await step("agents.attachNumberToAgent",
        () => client.agents.attachNumberToAgent({ agent_id: agentId, numberId }));
    conforms(attached, "AttachNumberResponse", "attachNumberToAgent");
    eq(attached.agentId, agentId, "attach agentId");
    eq(attached.number.id, numberId, "attach number.id");
    eq(attached.number.phoneNumber, number.phoneNumber, "attach number.phoneNumber");
    const withNumber = await step("agents.getAgent (attached)", () => client.agents.getAgent({ agent_id: agentId }));
    conforms(withNumber, "AgentResponse", "getAgent after attach");
    eq(withNumber.numbers.map((n) => n.id), [numberId], "agent numbers after attach");
    const attachedNumber = await step("numbers.getNumber (attached)",
        () => client.numbers.getNumber({ number_id: numberId }));
    eq(attachedNumber.agentId, agentId, "number agentId after attach");

    // Webhooks: project webhook, agent webhook, test deliveries.
    const hook = await step("webhooks.createOrUpdateWebhook", () => client.webhooks.createOrUpdateWebhook({
        body: { url: `${receiver.url}/project`, contextLimit: 5, timeout: 10 },
    }));
    conforms(hook, "WebhookResponse", "createOrUpdateWebhook");
    eq(hook.url, `${receiver.url}/project`, "project webhook url");
    eq(hook.contextLimit, 5, "project webhook contextLimit");
    eq(hook.timeout, 10, "project webhook timeout");
    check(hook.secret.startsWith("whsec_"), `webhook secret looks like whsec_... (got ${hook.secret})`);
    const gotHook = await step("webhooks.getWebhook", () => client.webhooks.getWebhook());
    conforms(gotHook, "WebhookResponse", "getWebhook");
    eq(gotHook.id, hook.id, "getWebhook id");
    eq(gotHook.secret, hook.secret, "getWebhook secret");

    const agentHook = await step("agentWebhooks.createOrUpdateAgentWebhook",
        () => client.agentWebhooks.createOrUpdateAgentWebhook({
            agent_id: agentId, body: { url: `${receiver.url}/agent`, contextLimit: 3 },
        }));
    conforms(agentHook, "WebhookResponse", "createOrUpdateAgentWebhook");
    eq(agentHook.url, `${receiver.url}/agent`, "agent webhook url");
    eq(agentHook.contextLimit, 3, "agent webhook contextLimit");
    eq(agentHook.timeout, 30, "agent webhook default timeout");
    check(agentHook.secret !== hook.secret, "agent webhook has its own secret");
    const gotAgentHook = await step("agentWebhooks.getAgentWebhook",
        () => client.agentWebhooks.getAgentWebhook({ agent_id: agentId }));
    conforms(gotAgentHook, "WebhookResponse", "getAgentWebhook");
    eq(gotAgentHook.id, agentHook.id, "getAgentWebhook id");

    const tested = await step("webhooks.testWebhook", () => client.webhooks.testWebhook());
    eq(tested?.delivered ?? tested?.success, true, "project test delivery reached the receiver");
    const agentTested = await step("agentWebhooks.testAgentWebhook",
        () => client.agentWebhooks.testAgentWebhook({ agent_id: agentId }));
    eq(agentTested?.delivered ?? agentTested?.success, true, "agent test delivery reached the receiver");
    const projectDelivery = receiver.received.find((d) => d.path === "/project");
    const agentDelivery = receiver.received.find((d) => d.path === "/agent");
    check(projectDelivery && agentDelivery, "the receiver got both test deliveries");
    verifySignature(projectDelivery, hook.secret);
    verifySignature(agentDelivery, agentHook.secret);
    eq(JSON.parse(agentDelivery.raw).test, true, "test delivery is marked test: true");

    // Messages: an SMS from the agent creates a conversation.
    const participant = "+14155550199";
    const sent = await step("messages.sendMessage", () => client.messages.sendMessage({
        agent_id: agentId, to_number: participant, body: "Hello from the TypeScript SDK",
    }));
    conforms(sent, "SendMessageResponse", "sendMessage");
    eq(sent.from_number, number.phoneNumber, "sent message from_number");
    eq(sent.to_number, participant, "sent message to_number");
    eq(sent.channel, "sms", "sent message channel");
    check(typeof sent.conversation_id === "string" && sent.conversation_id, "sendMessage returns a conversation_id");
    const conversationId = sent.conversation_id;

    const numberMessages = await step("numbers.getMessages",
        () => client.numbers.getMessages({ number_id: numberId, limit: 10 }));
    conforms(numberMessages, "MessageListResponse", "numbers.getMessages");
    const listed = numberMessages.data.find((m) => m.id === sent.id);
    check(listed, "the number's messages include the sent SMS");
    eq(listed.from_, number.phoneNumber, "number message from_");
    eq(listed.to, participant, "number message to");
    eq(listed.body, "Hello from the TypeScript SDK", "number message body");
    eq(listed.direction, "outbound", "number message direction");

    const conversations = await step("conversations.listConversations",
        () => client.conversations.listConversations());
    conforms(conversations, "AppRoutesConversationsConversationListResponse", "listConversations");
    const summary = conversations.data.find((c) => c.id === conversationId);
    check(summary, "listConversations contains the new conversation");
    eq(summary.participant, participant, "conversation participant");
    eq(summary.phoneNumberId, numberId, "conversation phoneNumberId");
    eq(summary.messageCount, 1, "conversation messageCount");

    const conversation = await step("conversations.getConversation",
        () => client.conversations.getConversation({ conversation_id: conversationId, message_limit: 10 }));
    conforms(conversation, "ConversationDetail", "getConversation");
    eq(conversation.id, conversationId, "getConversation id");
    eq(conversation.messages.map((m) => m.id), [sent.id], "getConversation messages");
    eq(conversation.messages[0].fromNumber, number.phoneNumber, "conversation message fromNumber");
    eq(conversation.messages[0].toNumber, participant, "conversation message toNumber");

    const convMessages = await step("conversations.getConversationMessages",
        () => client.conversations.getConversationMessages({ conversation_id: conversationId, limit: 5 }));
    conforms(convMessages, "MessagesListResponse", "getConversationMessages");
    eq(convMessages.data.map((m) => m.id), [sent.id], "getConversationMessages ids");
    eq(convMessages.hasMore, false, "getConversationMessages hasMore");

    const metadata = { customer: "Ada", tier: "gold", visits: 3 };
    const withMeta = await step("conversations.updateConversation",
        () => client.conversations.updateConversation({ conversation_id: conversationId, metadata }));
    conforms(withMeta, "ConversationDetail", "updateConversation");
    eq(withMeta.metadata, metadata, "updateConversation metadata");
    const reread = await step("conversations.getConversation (metadata)",
        () => client.conversations.getConversation({ conversation_id: conversationId }));
    eq(reread.metadata, metadata, "metadata persists");

    const agentConversations = await step("agents.listAgentConversations",
        () => client.agents.listAgentConversations({ agent_id: agentId }));
    conforms(agentConversations, "AppRoutesAgentsConversationListResponse", "listAgentConversations");
    eq(agentConversations.data.map((c) => c.id), [conversationId], "listAgentConversations ids");

    // Calls: a hosted call (systemPrompt) to an ordinary E.164 number, run to its end.
    const callee = "+14155550123";
    const placed = await step("calls.createOutboundCall", () => client.calls.createOutboundCall({
        agentId, toNumber: callee, systemPrompt: "You are {{company}}'s receptionist. Be brief.",
        initialGreeting: "Hi, this is the TypeScript SDK calling.", variables: { company: "Acme" },
    }));
    conforms(placed, "CallSummary", "createOutboundCall");
    eq(placed.agentId, agentId, "placed call agentId");
    eq(placed.toNumber, callee, "placed call toNumber");
    eq(placed.fromNumber, number.phoneNumber, "placed call fromNumber");
    eq(placed.status, "in-progress", "a placed call starts in-progress");
    const callId = placed.id;

    let call = placed;
    const deadline = Date.now() + 60_000;
    while (call.status === "in-progress") {
        check(Date.now() < deadline, `call ${callId} still in-progress after 60 s`);
        await sleep(200);
        call = await step("calls.getCall (poll)", () => client.calls.getCall({ call_id: callId }));
        conforms(call, "CallSummary", "getCall");
    }
    eq(call.id, callId, "getCall id");
    eq(call.status, "completed", "the hosted call completes");
    check(typeof call.endedAt === "string", "an ended call has endedAt");
    check(typeof call.durationSeconds === "number" && call.durationSeconds >= 0, "an ended call has durationSeconds");

    const transcript = await step("calls.getCallTranscript",
        () => client.calls.getCallTranscript({ call_id: callId }));
    eq(transcript.callId, callId, "transcript callId");
    check(Array.isArray(transcript.data) && transcript.data.length > 0, "the call has transcript turns");
    eq(transcript.total, transcript.data.length, "transcript total");
    check(transcript.data.some((t) => typeof t.response === "string" && t.response.length > 0),
        "the hosted agent answered at least one turn");

    const callList = await step("calls.listCalls", () => client.calls.listCalls());
    conforms(callList, "CallListResponse", "listCalls");
    check(callList.data.some((c) => c.id === callId), "listCalls contains the call");
    const completed = await step("calls.listCalls (status filter)",
        () => client.calls.listCalls({ status: "completed", direction: "outbound" }));
    conforms(completed, "CallListResponse", "listCalls filtered");
    eq(completed.data.map((c) => c.id), [callId], "listCalls status=completed");
    const numberCalls = await step("calls.listCallsForNumber",
        () => client.calls.listCallsForNumber({ number_id: numberId, limit: 5 }));
    conforms(numberCalls, "CallListResponse", "listCallsForNumber");
    eq(numberCalls.data.map((c) => c.id), [callId], "listCallsForNumber ids");
    const agentCalls = await step("agents.listAgentCalls",
        () => client.agents.listAgentCalls({ agent_id: agentId }));
    conforms(agentCalls, "CallListResponse", "listAgentCalls");
    eq(agentCalls.data.map((c) => c.id), [callId], "listAgentCalls ids");
    await expectApiError("calls.endCall (already ended)", 400, () => client.calls.endCall({ call_id: callId }));

    // Webhook deliveries produced by the SMS and the call (the agent webhook receives the agent's events).
    const deliveryDeadline = Date.now() + 20_000;
    let deliveries;
    for (;;) {
        deliveries = await step("webhooks.listDeliveries", () => client.webhooks.listDeliveries({ limit: 50 }));
        conforms(deliveries, "PaginatedDeliveriesResponse", "listDeliveries");
        const settled = deliveries.items.every((d) => d.status !== "pending");
        const events = new Set(deliveries.items.map((d) => d.eventType));
        if (settled && events.has("agent.call_ended")) break;  // the current vocabulary: no message.sent
        check(Date.now() < deliveryDeadline, `deliveries did not settle: ${describe(deliveries.items)}`);
        await sleep(200);
    }
    eq(deliveries.total, deliveries.items.length, "listDeliveries total");
    eq(deliveries.offset, 0, "listDeliveries offset");
    eq(deliveries.limit, 50, "listDeliveries limit");
    check(deliveries.items.every((d) => d.status === "success"),
        `every delivery reached the receiver: ${describe(deliveries.items.map((d) => [d.eventType, d.status]))}`);
    const stats = await step("webhooks.deliveryStats", () => client.webhooks.deliveryStats({ hours: 24 }));
    conforms(stats, "WebhookDeliveryStatsResponse", "deliveryStats");
    eq(stats.total, deliveries.total, "deliveryStats total");
    eq(stats.failed, 0, "deliveryStats failed");
    const allTime = await step("webhooks.allTimeStats", () => client.webhooks.allTimeStats());
    conforms(allTime, "AllTimeStatsResponse", "allTimeStats");
    eq(allTime.total, deliveries.total, "allTimeStats total");
    const agentDeliveries = await step("agentWebhooks.listAgentDeliveries",
        () => client.agentWebhooks.listAgentDeliveries({ agent_id: agentId, limit: 50 }));
    check(Array.isArray(agentDeliveries) && agentDeliveries.length > 0, "the agent has deliveries");
    agentDeliveries.forEach((d, i) => conforms(d, "WebhookDeliveryResponse", `listAgentDeliveries[${i}]`));
    for (const delivery of receiver.received.filter((d) => d.path === "/agent")) {
        verifySignature(delivery, agentHook.secret);
    }

    // Usage.
    const usage = await step("usage.getUsage", () => client.usage.getUsage());
    conforms(usage, "UsageResponse", "getUsage");
    eq(usage.numbers.used, 1, "usage numbers.used");
    check(usage.stats.totalMessages >= 1, "usage counts the SMS");
    check(usage.stats.totalCalls >= 1, "usage counts the call");
    const daily = await step("usage.getDailyUsage", () => client.usage.getDailyUsage({ days: 7 }));
    conforms(daily, "DailyUsageResponse", "getDailyUsage");
    eq(daily.days, 7, "getDailyUsage days");
    eq(daily.data.length, 7, "getDailyUsage points");
    const monthly = await step("usage.getMonthlyUsage", () => client.usage.getMonthlyUsage({ months: 3 }));
    conforms(monthly, "MonthlyUsageResponse", "getMonthlyUsage");
    eq(monthly.months, 3, "getMonthlyUsage months");
    eq(monthly.data.length, 3, "getMonthlyUsage points");

    // Tear down: webhooks, detach, release, delete the agent.
    const agentHookGone = await step("agentWebhooks.deleteAgentWebhook",
        () => client.agentWebhooks.deleteAgentWebhook({ agent_id: agentId }));
    eq(agentHookGone?.success, true, "deleteAgentWebhook success");
    const noAgentHook = await step("agentWebhooks.getAgentWebhook (deleted)",
        () => client.agentWebhooks.getAgentWebhook({ agent_id: agentId }));
    eq(noAgentHook ?? null, null, "getAgentWebhook after delete");
    const hookGone = await step("webhooks.deleteWebhook", () => client.webhooks.deleteWebhook());
    eq(hookGone?.success, true, "deleteWebhook success");
    const noHook = await step("webhooks.getWebhook (deleted)", () => client.webhooks.getWebhook());
    eq(noHook ?? null, null, "getWebhook after delete");

    const detached = await step("agents.detachNumberFromAgent",
        () => client.agents.detachNumberFromAgent({ agent_id: agentId, number_id: numberId }));
    eq(detached?.success, true, "detach success");
    const detachedAgent = await step("agents.getAgent (detached)", () => client.agents.getAgent({ agent_id: agentId }));
    eq(detachedAgent.numbers, [], "agent numbers after detach");

    const released = await step("numbers.deleteNumber", () => client.numbers.deleteNumber({ number_id: numberId }));
    eq(released?.success, true, "release success");
    eq(released?.status, "released", "released number status");
    const afterRelease = await step("numbers.listNumbers (released)", () => client.numbers.listNumbers());
    check(!afterRelease.data.some((n) => n.id === numberId), "a released number leaves listNumbers");

    const deleted = await step("agents.deleteAgent", () => client.agents.deleteAgent({ agent_id: agentId }));
    conforms(deleted, "DeleteAgentResponse", "deleteAgent");
    eq(deleted.id, agentId, "deleteAgent id");
    eq(deleted.name, "TS SDK Agent", "deleteAgent name");
    await expectApiError("agents.getAgent (deleted)", 404, () => client.agents.getAgent({ agent_id: agentId }));
    // A field-rule error is a 400 (the skill doc's status; `--validation-status 422` gives FastAPI's 422, which
    // the SDK surfaces as UnprocessableEntityError). `detail` stays a sentence; the FastAPI-style list is `errors`.
    const invalid = await expectApiError("agents.createAgent (invalid)", 400,
        () => client.agents.createAgent({ name: "Bad", voiceSpeed: 9 }));
    check(invalid instanceof AgentPhoneError, "a 400 surfaces as AgentPhoneError");
    check(Array.isArray(invalid.body.errors) && invalid.body.errors.some((e) =>
        Array.isArray(e.loc) && e.loc.includes("voiceSpeed") && typeof e.msg === "string" && typeof e.type === "string"),
    `the 400 body carries FastAPI-style errors naming voiceSpeed (got ${describe(invalid.body)})`);
}

// The emulator's control API and the WhatsApp routes the TypeScript SDK has no methods for (plain fetch).
async function raw(method, url, key, body) {
    const headers = { "Content-Type": "application/json" };
    if (key) headers.Authorization = `Bearer ${key}`;
    const response = await fetch(`${BASE_URL}${url}`, { method, headers, body: body && JSON.stringify(body) });
    const data = await response.json();
    check(response.ok, `${method} ${url}: ${response.status} ${describe(data)}`);
    return data;
}

// iMessage groups and a WhatsApp number, on an account of their own (so the checks above stay exact).
async function driveGroupsAndWhatsApp() {
    const key = `${API_KEY}_groups`;
    const client = new AgentPhoneClient({ token: key, baseUrl: BASE_URL, maxRetries: 0, timeoutInSeconds: 30 });
    await raw("PATCH", `/_emulator/accounts/${key}`, null, { plan: "scale" });
    const agent = await step("agents.createAgent (groups)", () => client.agents.createAgent({ name: "Groups" }));
    const blue = await step("numbers.createNumber (imessage)",
        () => client.numbers.createNumber({ type: "imessage", agentId: agent.id }));
    eq(blue.type, "imessage", "an iMessage number");
    const started = await step("messages.sendMessage (recipients)", () => client.messages.sendMessage({
        agent_id: agent.id, recipients: ["+14155550171", "+14155550172"], body: "Dinner at 8?",
    }));
    conforms(started, "SendMessageResponse", "sendMessage (recipients)");
    check(started.to_number.startsWith("grp_"), `a new group answers with its grp_ id (got ${started.to_number})`);
    eq(started.channel, "imessage", "a group message is an iMessage");
    const follow = await step("messages.sendMessage (group id)", () => client.messages.sendMessage({
        agent_id: agent.id, to_number: started.to_number, body: "See you there.",
    }));
    eq(follow.conversation_id, started.conversation_id, "a grp_ to_number reaches the same conversation");
    await raw("POST", "/_emulator/sms", null, { from: "+14155550172", to: blue.phoneNumber, body: "Yes!",
        group: started.to_number });
    const group = await step("conversations.getConversation (group)",
        () => client.conversations.getConversation({ conversation_id: started.conversation_id }));
    conforms(group, "ConversationDetail", "getConversation (group)");
    eq([group.isGroup, group.groupId, group.participant], [true, started.to_number, started.to_number],
        "the conversation is the group");
    eq(group.participants.map((p) => p.identifier), ["+14155550171", "+14155550172"], "group participants");
    eq(group.messages.map((m) => m.body), ["Yes!", "See you there.", "Dinner at 8?"], "group messages");
    eq(group.messages[0].senderIdentifier, "+14155550172", "the member who wrote");
    const renamed = await step("conversations.updateConversation (group_name)",
        () => client.conversations.updateConversation({ conversation_id: started.conversation_id,
            group_name: "Dinner crew" }));
    eq(renamed.groupName, "Dinner crew", "a group can be renamed");
    await expectApiError("messages.sendMessage (one recipient)", 400, () => client.messages.sendMessage({
        agent_id: agent.id, recipients: ["+14155550171"], body: "Hi" }));

    // WhatsApp: connected through the control API (Meta's side), its number used through the SDK.
    const connection = await raw("POST", "/integrations/whatsapp/connect", key, { code: "signup", agent_id: agent.id });
    await raw("PATCH", `/_emulator/whatsapp/${connection.id}`, null, {
        status: "connected", numbers: [{ phoneNumber: "+14155550188", phoneNumberId: "4242" }] });
    const wa = await raw("POST", `/integrations/whatsapp/${connection.id}/numbers`, key, { phone_number_id: "4242" });
    await raw("POST", "/_emulator/sms", null, { from: "+14155550173", to: wa.phoneNumber, body: "Hola" });
    const reply = await step("messages.sendMessage (whatsapp)", () => client.messages.sendMessage({
        number_id: wa.id, to_number: "+14155550173", body: "Hola, ¿en qué puedo ayudar?" }));
    conforms(reply, "SendMessageResponse", "sendMessage (whatsapp)");
    eq(reply.channel, "whatsapp", "a WhatsApp number sends WhatsApp");
    const thread = await step("conversations.getConversation (whatsapp)",
        () => client.conversations.getConversation({ conversation_id: reply.conversation_id }));
    conforms(thread, "ConversationDetail", "getConversation (whatsapp)");
    eq(thread.messages.map((m) => m.channel), ["whatsapp", "whatsapp"], "WhatsApp messages in the conversation");
    const waNumber = await step("numbers.getNumber (whatsapp)", () => client.numbers.getNumber({ number_id: wa.id }));
    conforms(waNumber, "PhoneNumberResponse", "getNumber (whatsapp)");
    eq(waNumber.type, "whatsapp", "the connected number is a WhatsApp number");
}

main().catch((err) => {
    console.error(err?.stack ?? String(err));
    console.log(JSON.stringify({ ok: false, steps: steps.length, error: String(err?.message ?? err) }));
    process.exit(1);
});
