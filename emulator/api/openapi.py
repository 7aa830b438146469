"""GET /openapi.json and GET /docs: the emulator's API, described from its own route tables.

The document is generated, not written by hand. Every Route under /v1 and /_emulator becomes an
operation (path, methods and path parameters come from the route itself); OPERATIONS adds what a
route cannot say: a summary, the request model (emulator/schemas.py), the response model
(emulator/responses.py) and the success status. Component schemas are those models' JSON Schemas.
The tests check that OPERATIONS and the routes match both ways, so the two cannot drift.

Both are built on the first request (the route table is the running app's) and then cached on
the app, so start-up does not pay for them.
"""

from __future__ import annotations

import functools
import html
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulator import __version__
from emulator import responses as out
from emulator import schemas as req
from emulator.fixtures import FixtureFile

REF = "#/components/schemas/{model}"
PREFIXES = ("/v1/", "/_emulator/")


@dataclass(frozen=True)
class Op:
    summary: str
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    body_required: bool = True
    nullable: bool = False  # the body may be JSON null (no webhook set)
    media: str | None = None  # a success body that is not JSON
    query: tuple[str, ...] = ()
    public: bool = False  # served without an API key


PAGED = ("limit", "offset")
SINCE = ("limit", "before", "after")
INTEGER_QUERY = {"limit", "offset", "days", "months", "hours", "messageLimit", "message_limit"}

OPERATIONS: dict[tuple[str, str], Op] = {
    # agents
    ("GET", "/v1/agents/voices"): Op("List the voices an agent can use", response=out.VoiceList),
    ("GET", "/v1/agents"): Op("List agents", response=out.AgentList, query=PAGED),
    ("POST", "/v1/agents"): Op("Create an agent", req.CreateAgent, out.Agent),
    ("GET", "/v1/agents/{agent_id}"): Op("Get an agent", response=out.Agent),
    ("PATCH", "/v1/agents/{agent_id}"): Op("Update an agent", req.UpdateAgent, out.Agent, body_required=False),
    ("DELETE", "/v1/agents/{agent_id}"): Op("Delete an agent; its numbers are unassigned", response=out.DeleteAgent),
    ("POST", "/v1/agents/{agent_id}/numbers"): Op("Attach a number to an agent", req.AttachNumber,
                                                  out.AttachedNumber),
    ("DELETE", "/v1/agents/{agent_id}/numbers/{number_id}"): Op("Detach a number from an agent",
                                                                response=out.DetachedNumber),
    ("GET", "/v1/agents/{agent_id}/conversations"): Op("List an agent's conversations",
                                                       response=out.ConversationList, query=PAGED),
    ("GET", "/v1/agents/{agent_id}/calls"): Op("List an agent's calls", response=out.CallList, query=PAGED),
    # numbers
    ("GET", "/v1/numbers"): Op("List active numbers", response=out.PhoneNumberList, query=PAGED),
    ("POST", "/v1/numbers"): Op("Buy a number", req.BuyNumber, out.PhoneNumber, body_required=False),
    ("GET", "/v1/numbers/available"): Op("Search numbers available to buy", response=out.AvailableNumbers,
                                         query=("country", "areaCode", "city", "state", "zip", "limit")),
    ("GET", "/v1/numbers/lookup"): Op("Look up line type and reachability of up to 25 numbers",
                                      response=out.NumberLookups, query=("phoneNumbers",)),
    ("GET", "/v1/numbers/{number_id}"): Op("Get a number", response=out.PhoneNumber),
    ("PATCH", "/v1/numbers/{number_id}"): Op("Update a number's external ID or expiry", req.UpdateNumber,
                                             out.PhoneNumber, body_required=False),
    ("DELETE", "/v1/numbers/{number_id}"): Op("Release a number", response=out.ReleasedNumber),
    ("GET", "/v1/numbers/{number_id}/messages"): Op("List a number's messages", response=out.MessageList,
                                                    query=SINCE),
    ("GET", "/v1/numbers/{number_id}/calls"): Op("List a number's calls", response=out.CallList, query=PAGED),
    ("GET", "/v1/numbers/{number_id}/contact-card"): Op("Get a number's iMessage contact card",
                                                        response=out.ContactCardInfo),
    ("PUT", "/v1/numbers/{number_id}/contact-card"): Op("Set a number's iMessage contact card", req.ContactCard,
                                                        out.ContactCardInfo),
    ("DELETE", "/v1/numbers/{number_id}/contact-card"): Op("Remove a number's iMessage contact card", status=204),
    # calls
    ("GET", "/v1/calls"): Op("List calls", response=out.CallList,
                             query=(*PAGED, "status", "direction", "type", "search")),
    ("POST", "/v1/calls"): Op("Place an outbound call (answers at once, in progress)", req.PlaceCall,
                              out.PlacedCall),
    ("POST", "/v1/calls/web"): Op("Create a web call and its access token", req.WebCall, out.WebCallCreated),
    ("GET", "/v1/calls/{call_id}"): Op("Get a call with its transcript", response=out.CallDetail),
    ("POST", "/v1/calls/{call_id}/end"): Op("End a call in progress", response=out.Call),
    ("GET", "/v1/calls/{call_id}/transcript"): Op("Get a call's transcript", response=out.TranscriptList),
    ("GET", "/v1/calls/{call_id}/transcript/stream"): Op(
        "Stream a call's transcript (Server-Sent Events: connected, turn, ended)", media="text/event-stream"),
    ("GET", "/v1/calls/{call_id}/recording"): Op("Download a call's recording (the call ID is the token)",
                                                 media="audio/wav", public=True),
    # conversations and messages
    ("GET", "/v1/conversations"): Op("List conversations", response=out.ConversationList, query=PAGED),
    ("GET", "/v1/conversations/{conversation_id}"): Op("Get a conversation with its recent messages",
                                                       response=out.ConversationDetail,
                                                       query=("messageLimit", "message_limit")),
    ("PATCH", "/v1/conversations/{conversation_id}"): Op("Replace a conversation's metadata",
                                                         req.UpdateConversation, out.ConversationDetail,
                                                         body_required=False),
    ("GET", "/v1/conversations/{conversation_id}/messages"): Op("List a conversation's messages",
                                                                response=out.MessageList, query=SINCE),
    ("POST", "/v1/conversations/{conversation_id}/typing"): Op("Show a typing indicator (iMessage)",
                                                               response=out.Typing),
    ("POST", "/v1/conversations/{conversation_id}/background"): Op("Set a chat background (iMessage)",
                                                                   req.SetBackground, out.Background),
    ("DELETE", "/v1/conversations/{conversation_id}/background"): Op("Remove a chat background (iMessage)",
                                                                     status=204),
    ("POST", "/v1/messages"): Op("Send a message", req.SendMessage, out.SentMessage),
    ("POST", "/v1/messages/{message_id}/reactions"): Op("React to a message (iMessage tapback)", req.SendReaction,
                                                        out.Reaction),
    # webhooks
    ("GET", "/v1/webhooks"): Op("Get the project webhook (null when none is set)", response=out.Webhook,
                                nullable=True),
    ("POST", "/v1/webhooks"): Op("Set the project webhook (a new secret each time)", req.SetWebhook, out.Webhook),
    ("DELETE", "/v1/webhooks"): Op("Delete the project webhook", response=out.Deleted),
    ("GET", "/v1/webhooks/deliveries"): Op("List webhook deliveries", response=out.DeliveryPage,
                                           query=(*PAGED, "hours")),
    ("GET", "/v1/webhooks/deliveries/stats"): Op("Webhook delivery statistics for recent hours",
                                                 response=out.DeliveryStats, query=("hours",)),
    ("GET", "/v1/webhooks/deliveries/all-time"): Op("All-time webhook delivery statistics",
                                                    response=out.AllTimeStats),
    ("POST", "/v1/webhooks/test"): Op("Send a test event to the project webhook", req.WebhookTest,
                                      out.WebhookTestResult, body_required=False, query=("agentId",)),
    ("GET", "/v1/agents/{agent_id}/webhook"): Op("Get an agent's webhook (null when none is set)",
                                                 response=out.Webhook, nullable=True),
    ("POST", "/v1/agents/{agent_id}/webhook"): Op("Set an agent's webhook", req.SetWebhook, out.Webhook),
    ("DELETE", "/v1/agents/{agent_id}/webhook"): Op("Delete an agent's webhook", response=out.Deleted),
    ("GET", "/v1/agents/{agent_id}/webhook/deliveries"): Op("List an agent's webhook deliveries",
                                                            response=out.Deliveries, query=("limit",)),
    ("POST", "/v1/agents/{agent_id}/webhook/test"): Op("Send a test event to an agent's webhook", req.WebhookTest,
                                                       out.WebhookTestResult, body_required=False),
    # usage
    ("GET", "/v1/usage"): Op("Plan, number slots and usage statistics", response=out.Usage),
    ("GET", "/v1/usage/daily"): Op("Daily usage", response=out.DailyUsage, query=("days",)),
    ("GET", "/v1/usage/monthly"): Op("Monthly usage", response=out.MonthlyUsage, query=("months",)),
    ("GET", "/v1/usage/by-number"): Op("Usage per number", response=out.NumberUsage),
    ("GET", "/v1/usage/by-agent"): Op("Usage per agent for a calendar period", response=out.AgentUsage,
                                      query=("period", "tz")),
    # contacts
    ("GET", "/v1/contacts"): Op("List contacts", response=out.ContactList, query=(*PAGED, "search")),
    ("POST", "/v1/contacts"): Op("Create a contact", req.CreateContact, out.Contact, status=201),
    ("GET", "/v1/contacts/capabilities"): Op("Check whether a number is reachable over iMessage and SMS",
                                             response=out.ContactCapabilities, query=("phone_number",)),
    ("GET", "/v1/contacts/{contact_id}"): Op("Get a contact", response=out.Contact),
    ("PATCH", "/v1/contacts/{contact_id}"): Op("Update a contact", req.UpdateContact, out.Contact,
                                               body_required=False),
    ("DELETE", "/v1/contacts/{contact_id}"): Op("Delete a contact", status=204),
    # sub-accounts, registration, verification
    ("GET", "/v1/sub-accounts"): Op("List sub-accounts", response=out.SubAccountList, query=PAGED),
    ("POST", "/v1/sub-accounts"): Op("Create a sub-account", req.SubAccountName, out.SubAccount),
    ("PATCH", "/v1/sub-accounts/{sub_account_id}"): Op("Rename a sub-account", req.SubAccountName, out.SubAccount),
    ("DELETE", "/v1/sub-accounts/{sub_account_id}"): Op("Delete a sub-account and everything in it",
                                                        response=out.Deleted),
    ("POST", "/v1/register"): Op("Submit an A2P 10DLC registration ($25)", req.Registration,
                                 out.RegistrationSubmitted),
    ("GET", "/v1/register"): Op("Get the latest registration", response=out.RegistrationDetail),
    ("PATCH", "/v1/register"): Op("Update a pending registration (send the fields that change)",
                                  response=out.RegistrationDetail),
    ("GET", "/v1/register/status"): Op("Registration status", response=out.CampaignStatus),
    ("POST", "/v1/verify/send"): Op("Send a verification code by SMS", req.VerifySend, out.VerificationSent),
    ("POST", "/v1/verify/check"): Op("Check a verification code", req.VerifyCheck, out.VerificationChecked),
    # SIP trunks, location, feedback
    ("GET", "/v1/sip-trunks"): Op("List SIP trunks", response=out.SipTrunks),
    ("POST", "/v1/sip-trunks"): Op("Create a SIP trunk (its password is shown once)", response=out.SipTrunk),
    ("GET", "/v1/sip-trunks/{trunk_id}"): Op("Get a SIP trunk", response=out.SipTrunk),
    ("PATCH", "/v1/sip-trunks/{trunk_id}"): Op("Update a SIP trunk; an empty body rotates its credentials",
                                               req.SipTrunkUpdate, out.SipTrunk, body_required=False),
    ("DELETE", "/v1/sip-trunks/{trunk_id}"): Op("Delete a SIP trunk", response=out.Deleted),
    ("GET", "/v1/location/{phone_number}"): Op("A number's approximate location", response=out.Location),
    ("POST", "/v1/location/refresh"): Op("Ask for fresh locations", response=out.LocationRefresh),
    ("POST", "/v1/feedback"): Op("Send product feedback", req.Feedback, out.FeedbackReceived),
    # the emulator's control API
    ("GET", "/_emulator/health"): Op("Health, version, uptime and the emulator clock", response=out.Health),
    ("GET", "/_emulator/clock"): Op("Read the emulator clock", response=out.ClockState),
    ("POST", "/_emulator/clock"): Op("Move the emulator clock forward", req.ClockChange, out.ClockState),
    ("POST", "/_emulator/reset"): Op("Wipe everything, or one key's account", req.Reset, out.ResetDone,
                                     body_required=False),
    ("GET", "/_emulator/accounts/{key}"): Op("Read the account behind a key", response=out.AccountState),
    ("PATCH", "/_emulator/accounts/{key}"): Op("Change an account's plan, balance or recording add-on",
                                               req.AccountSettings, out.AccountState, body_required=False),
    ("PUT", "/_emulator/accounts/{key}"): Op("Change an account's plan, balance or recording add-on",
                                             req.AccountSettings, out.AccountState, body_required=False),
    ("POST", "/_emulator/fixtures"): Op("Load a fixture (JSON, YAML text, or {\"path\": ...})", FixtureFile,
                                        out.FixturesLoaded),
    ("POST", "/_emulator/faults"): Op("Inject an API or webhook fault", req.FaultRequest, out.FaultAdded),
    ("GET", "/_emulator/faults"): Op("List pending faults", response=out.Faults),
    ("DELETE", "/_emulator/faults"): Op("Clear every fault", response=out.Success),
    ("POST", "/_emulator/sms"): Op("An SMS arrives at one of the emulator's numbers", req.InboundSms,
                                   out.InboundSmsReceived),
    ("POST", "/_emulator/calls/inbound"): Op("A phone dials one of the emulator's numbers", req.InboundCall,
                                             out.InboundCallPlaced),
    ("POST", "/_emulator/calls/web/{call_id}/join"): Op("A browser joins a web call", req.JoinWebCall, out.Call),
    ("GET", "/_emulator/callees"): Op("List callee scripts and magic numbers", response=out.Callees),
    ("PUT", "/_emulator/callees/{e164}"): Op("Script who answers calls to a number ({\"turns\": [...]})",
                                             response=out.CalleeScript),
    ("GET", "/_emulator/callees/{e164}"): Op("Get a callee script", response=out.CalleeScript),
    ("DELETE", "/_emulator/callees/{e164}"): Op("Remove a callee script", response=out.CalleeRemoved),
    ("GET", "/_emulator/verifications/{verification_id}"): Op("Read a verification code a phone received",
                                                              response=out.Verification),
    ("GET", "/_emulator/feedback"): Op("List feedback sent to /v1/feedback", response=out.FeedbackLog),
}

# Tags in the order /docs shows them.
TAGS = {
    "agents": "AI personas, their numbers and voices",
    "numbers": "Phone numbers: buy, search, look up, release, contact cards",
    "calls": "Voice calls, transcripts, recordings, web calls",
    "conversations": "Message threads, iMessage typing and backgrounds",
    "messages": "Sending messages and reactions",
    "webhooks": "Webhook settings, deliveries and test events",
    "usage": "Usage and plan limits",
    "contacts": "The address book and reachability checks",
    "sub-accounts": "Isolated child accounts (X-Sub-Account-Id)",
    "register": "A2P 10DLC registration",
    "verify": "Phone verification codes",
    "sip-trunks": "SIP trunks",
    "location": "Phone locations",
    "feedback": "Product feedback",
    "emulator": "The emulator's control API: simulate the outside world, move the clock, inject faults",
}


def tag_of(path: str) -> str:
    if path.startswith("/_emulator/"):
        return "emulator"
    if "/webhook" in path:
        return "webhooks"
    return path.split("/")[2]


def _models() -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    for op in OPERATIONS.values():
        for model in (op.request, op.response, out.Error):
            if model is not None:
                seen.setdefault(model.__name__, model)
    return list(seen.values())


@functools.cache
def component_schemas() -> dict[str, Any]:
    """Every model's JSON Schema (by alias), with nested models lifted out of `$defs`."""
    components: dict[str, Any] = {}

    def add(name: str, schema: dict[str, Any]) -> None:
        if components.setdefault(name, schema) != schema:
            raise ValueError(f"Two different models are both called {name!r}; rename one.")

    for model in _models():
        schema = model.model_json_schema(by_alias=True, ref_template=REF)
        for name, nested in schema.pop("$defs", {}).items():
            add(name, nested)
        add(model.__name__, schema)
    return dict(sorted(components.items()))


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _operation_id(method: str, path: str) -> str:
    return method.lower() + re.sub(r"[^A-Za-z0-9]+", "_", path).rstrip("_")


def _operation(method: str, path: str, params: list[str], op: Op | None) -> dict[str, Any]:
    op = op or Op(f"{method} {path}")
    control = path.startswith("/_emulator/")
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in params
    ]
    parameters += [{"name": name, "in": "query", "required": False,
                    "schema": {"type": "integer" if name in INTEGER_QUERY else "string"}} for name in op.query]
    if not control and not op.public:
        parameters.append({"$ref": "#/components/parameters/SubAccount"})
    if op.media is not None:
        success: dict[str, Any] = {"description": op.summary, "content": {op.media: {}}}
    elif op.response is None:
        success = {"description": "No content" if op.status == 204 else "A JSON object"}
    else:
        schema: dict[str, Any] = _ref(op.response)
        if op.nullable:
            schema = {"oneOf": [schema, {"type": "null"}]}
        success = {"description": op.response.__doc__.strip().splitlines()[0] if op.response.__doc__
                   else op.response.__name__, "content": {"application/json": {"schema": schema}}}
    operation: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "summary": op.summary,
        "tags": [tag_of(path)],
        "parameters": parameters,
        "responses": {str(op.status): success, "default": {"$ref": "#/components/responses/Error"}},
    }
    if op.request is not None:
        operation["requestBody"] = {"required": op.body_required,
                                    "content": {"application/json": {"schema": _ref(op.request)}}}
    if control:
        operation["security"] = [{}, {"adminToken": []}]
    elif op.public:
        operation["security"] = []
    return operation


def emulated_routes(routes: list[BaseRoute]) -> list[Route]:
    return [r for r in routes if isinstance(r, Route) and r.path.startswith(PREFIXES)]


def build_document(routes: list[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for these routes (the app's, in practice)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in emulated_routes(routes):
        for method in sorted((route.methods or set()) - {"HEAD"}):
            item = paths.setdefault(route.path, {})
            item[method.lower()] = _operation(method, route.path, list(route.param_convertors),
                                              OPERATIONS.get((method, route.path)))
    used = {op["tags"][0] for item in paths.values() for op in item.values()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AgentPhone API (emulator)",
            "version": __version__,
            "description": "The AgentPhone v1 API as this emulator serves it, plus its /_emulator control API. "
                           "Generated from the emulator's route tables and models.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items() if name in used]
                + [{"name": name} for name in sorted(used - TAGS.keys())],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Any key works unless the emulator "
                           "runs with --strict-keys; each new key is its own account."},
                "adminToken": {"type": "apiKey", "in": "header", "name": "X-Emulator-Admin-Token",
                               "description": "Needed on /_emulator routes only when the emulator has an admin "
                                              "token."},
            },
            "parameters": {
                "SubAccount": {"name": "X-Sub-Account-Id", "in": "header", "required": False,
                               "description": "Act as this sub-account of the key's account.",
                               "schema": {"type": "string"}},
            },
            "responses": {
                "Error": {"description": "Any error: a human sentence in `detail` (422s add `errors`).",
                          "content": {"application/json": {"schema": _ref(out.Error)}}},
            },
        },
    }


# --- /docs: the same document as a browsable page ----------------------------------------------------

CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d232a;background:#f7f8fa}
header{background:#1d232a;color:#fff;padding:1rem 2rem}header p{margin:.2rem 0 0;color:#c8ced6}
main{max-width:1100px;margin:0 auto;padding:1rem 2rem 4rem}nav a{margin-right:.8rem}
h2{margin-top:2.2rem;border-bottom:1px solid #d5d9df;padding-bottom:.3rem}h2 small{color:#5b6570;font-weight:400}
details{background:#fff;border:1px solid #d5d9df;border-radius:6px;margin:.4rem 0}
summary{cursor:pointer;padding:.5rem .8rem;display:flex;gap:.8rem;align-items:baseline}
summary code{font-size:14px}.summary{color:#5b6570}.body{padding:0 1rem .8rem}
.m{display:inline-block;min-width:4.2rem;text-align:center;border-radius:4px;color:#fff;font:600 12px monospace;
padding:2px 0}.GET{background:#2f7d4f}.POST{background:#2761a8}.PATCH{background:#9a6b00}.PUT{background:#6b4fa8}
.DELETE{background:#b3362c}table{border-collapse:collapse;width:100%;margin:.3rem 0 .8rem;font-size:14px}
th,td{text-align:left;border-bottom:1px solid #e6e9ed;padding:.25rem .5rem;vertical-align:top}
th{color:#5b6570;font-weight:600}td.req{color:#b3362c}h4{margin:.8rem 0 .2rem}
section.schema{background:#fff;border:1px solid #d5d9df;border-radius:6px;padding:.2rem 1rem;margin:.6rem 0}
input{width:100%;padding:.5rem;font-size:15px;margin:1rem 0;box-sizing:border-box}
"""

SCRIPT = """
document.getElementById('filter').addEventListener('input', function (e) {
  var q = e.target.value.toLowerCase();
  document.querySelectorAll('details.op').forEach(function (d) {
    d.style.display = d.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
  });
});
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type(schema: dict[str, Any]) -> str:
    """A schema as a short, linked type description (HTML)."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f'<a href="#schema-{_esc(name)}">{_esc(name)}</a>'
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type(option) for option in schema[key])
    if "enum" in schema:
        return " | ".join(_esc(json.dumps(value)) for value in schema["enum"])
    if "const" in schema:
        return _esc(json.dumps(schema["const"]))
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {_type(schema['additionalProperties'])}"
    if isinstance(kind, list):
        return " | ".join(_esc(k) for k in kind)
    if kind is None:
        return "any"
    return _esc(kind) + (f" ({_esc(schema['format'])})" if "format" in schema else "")


def _constraints(schema: dict[str, Any]) -> str:
    keys = ("default", "minimum", "maximum", "minLength", "maxLength", "maxItems", "pattern")
    options = [schema, *(option for option in schema.get("anyOf", []))]
    parts = [f"{key}: {value if key == 'pattern' else json.dumps(value)}"
             for option in options for key, value in option.items() if key in keys]
    return _esc(", ".join(parts))


def _fields(components: dict[str, Any], schema: dict[str, Any]) -> str:
    """The fields of a schema (a component reference is expanded one level) as a table."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        target = components.get(name, {})
        head = f'<p><a href="#schema-{_esc(name)}">{_esc(name)}</a></p>'
        if "properties" not in target:
            return head + f"<p>{_type(target)}</p>"
        schema = target
    else:
        head = ""
    if "oneOf" in schema:
        return " or ".join(_fields(components, option) if "$ref" in option else _type(option)
                           for option in schema["oneOf"])
    properties = schema.get("properties")
    if not properties:
        return head + f"<p>{_type(schema)}</p>"
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td><code>{_esc(name)}</code></td><td>{_type(prop)}</td>"
        f"<td class=req>{'required' if name in required else ''}</td><td>{_constraints(prop)}</td></tr>"
        for name, prop in properties.items()
    )
    return head + f"<table><tr><th>field</th><th>type</th><th></th><th>constraints</th></tr>{rows}</table>"


def _operation_html(components: dict[str, Any], method: str, path: str, op: dict[str, Any]) -> str:
    parts = [f'<details class=op id="{_esc(op["operationId"])}"><summary><span class="m {method}">{method}</span>'
             f'<code>{_esc(path)}</code><span class=summary>{_esc(op["summary"])}</span></summary><div class=body>']
    params = [p for p in op["parameters"] if "name" in p]
    if params:
        parts.append("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th></tr>" + "".join(
            f"<tr><td><code>{_esc(p['name'])}</code></td><td>{_esc(p['in'])}</td><td>{_type(p['schema'])}</td></tr>"
            for p in params) + "</table>")
    body = op.get("requestBody")
    if body is not None:
        optional = "" if body["required"] else " (optional)"
        parts.append(f"<h4>Request body{optional}</h4>"
                     + _fields(components, body["content"]["application/json"]["schema"]))
    for status, response in op["responses"].items():
        if "$ref" in response:
            parts.append('<h4>Errors</h4><p>Any error: <a href="#schema-Error">Error</a> '
                         '(<code>{"detail": "..."}</code>)</p>')
            continue
        parts.append(f"<h4>Response {_esc(status)}</h4>")
        for media, content in response.get("content", {}).items():
            parts.append(_fields(components, content["schema"]) if "schema" in content
                         else f"<p><code>{_esc(media)}</code></p>")
        if not response.get("content"):
            parts.append(f"<p>{_esc(response['description'])}</p>")
    parts.append("</div></details>")
    return "".join(parts)


def render_docs(document: dict[str, Any]) -> str:
    components = document["components"]["schemas"]
    by_tag: dict[str, list[str]] = {tag["name"]: [] for tag in document["tags"]}
    for path, item in document["paths"].items():
        for method, op in item.items():
            by_tag[op["tags"][0]].append(_operation_html(components, method.upper(), path, op))
    sections = []
    for tag in document["tags"]:
        description = f" <small>{_esc(tag['description'])}</small>" if "description" in tag else ""
        sections.append(f'<h2 id="tag-{_esc(tag["name"])}">{_esc(tag["name"])}{description}</h2>'
                        + "".join(by_tag[tag["name"]]))
    schemas = "".join(f'<section class=schema id="schema-{_esc(name)}"><h3>{_esc(name)}</h3>'
                      f'{_fields(components, schema)}</section>' for name, schema in components.items())
    nav = "".join(f'<a href="#tag-{_esc(tag["name"])}">{_esc(tag["name"])}</a>' for tag in document["tags"])
    info = document["info"]
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_esc(info['title'])}</title>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><style>{CSS}</style></head><body>"
        f"<header><h1>{_esc(info['title'])} <small>{_esc(info['version'])}</small></h1>"
        f"<p>{_esc(info['description'])} The machine-readable document: <a style='color:#fff' "
        f"href='/openapi.json'>/openapi.json</a>.</p></header><main><nav>{nav}<a href='#schemas'>schemas</a></nav>"
        f"<input id=filter placeholder='Filter operations (path, summary, field)'>{''.join(sections)}"
        f"<h2 id=schemas>Schemas</h2>{schemas}</main><script>{SCRIPT}</script></body></html>"
    )


def _cached(request: Request) -> tuple[dict[str, Any], str]:
    state = request.app.state
    if not hasattr(state, "openapi"):
        document = build_document(request.app.routes)
        state.openapi = (document, render_docs(document))
    return state.openapi


async def openapi_json(request: Request) -> Response:
    return JSONResponse(_cached(request)[0])


async def docs(request: Request) -> Response:
    return HTMLResponse(_cached(request)[1])


routes = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs, methods=["GET"]),
]
