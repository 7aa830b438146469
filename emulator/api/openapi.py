"""GET /openapi.json and GET /docs: the emulator's API, described from its own routes.

The document is generated, not written by hand: every documented route (`emulator/api/routing.py`) becomes
an operation, with the path, method and path parameters of the route itself and the summary, request and
response models, status and query parameters declared next to it. Component schemas are the wire models'
JSON Schemas (`emulator/wire/`).

Both are built on the first request (the route table is the running app's) and then cached on the app,
so start-up does not pay for them.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute

from emulator import __version__
from emulator.api.routing import ApiRoute, Doc, api_routes, get
from emulator.phones import E164_RULE, LENIENT_RULE
from emulator.wire.base import Error
from emulator.wire.rules import EXTRA_SCHEMAS, TURN_STAND_IN

REF = "#/components/schemas/{model}"
# Path parameters whose rule is more than "a string" (checked by their handlers), by name.
PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "e164": {"type": "string", "pattern": E164_RULE},
    "phone_number": {"type": "string", "pattern": LENIENT_RULE},
}
SUB_ACCOUNT_RULE = "^$|^sub_[A-Za-z0-9]{1,64}$"  # the IDs sub-accounts get (other values: 404); empty: none
# Who may call a control route, by its access level ({}: no credentials, when the emulator has no admin token).
CONTROL_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "public": [],
    "account": [{}, {"bearer": []}, {"adminToken": []}],
    "global": [{}, {"adminToken": []}],
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
    "billing": "Paid add-ons (the vendor serves these outside /v1)",
    "whatsapp": "WhatsApp Business connections, their numbers and message templates (simulated)",
    "emulator": "The emulator's control API: simulate the outside world, move the clock, inject faults",
}


def documented(routes: Sequence[BaseRoute]) -> list[tuple[ApiRoute, str]]:
    """The routes the document describes (every API and control route), with their tags."""
    return [(route, tag) for route, tag in api_routes(routes) if not route.doc.hidden]


def operations(routes: Sequence[BaseRoute]) -> dict[tuple[str, str], Doc]:
    """(method, path template) -> what the route declares about itself."""
    return {(route.method, route.path): route.doc for route, _tag in documented(routes)}


def _models(routes: Sequence[BaseRoute]) -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    for doc in operations(routes).values():
        for model in (doc.request, doc.response, Error):
            if model is not None:
                seen.setdefault(model.__name__, model)
    return list(seen.values())


def component_schemas(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """Every model's JSON Schema (by alias), with nested models lifted out of `$defs`."""
    components: dict[str, Any] = {}

    def add(name: str, schema: dict[str, Any]) -> None:
        if components.setdefault(name, schema) != schema:
            raise ValueError(f"Two different models are both called {name!r}; rename one.")

    for model in _models(routes):
        schema = model.model_json_schema(by_alias=True, ref_template=REF)
        for name, nested in schema.pop("$defs", {}).items():
            add(name, nested)
        add(model.__name__, schema)
    for name, extra in EXTRA_SCHEMAS.items():
        add(name, extra)
    return _with_references(dict(sorted(components.items())))


def _with_references(node: Any) -> Any:
    """The schemas with each stand-in for a hand-written schema (emulator/wire/rules.py) made a reference."""
    if node == TURN_STAND_IN:
        return {"$ref": REF.format(model=TURN_STAND_IN["x-emulator-schema"])}
    if isinstance(node, dict):
        return {key: _with_references(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_references(value) for value in node]
    return node


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _operation_id(method: str, path: str) -> str:
    return method.lower() + re.sub(r"[^A-Za-z0-9]+", "_", path).rstrip("_")


def _operation(method: str, path: str, params: list[str], op: Doc, tag: str) -> dict[str, Any]:
    control = path.startswith("/_emulator/")
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": PATH_SCHEMAS.get(name, {"type": "string"})}
        for name in params
    ]
    parameters += [{"name": q.name, "in": "query", "required": q.required, "schema": q.schema()} for q in op.query]
    if not control and not op.public and op.scoped:
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
        "tags": [tag],
        "parameters": parameters,
        "responses": {str(op.status): success, "default": {"$ref": "#/components/responses/Error"}},
    }
    if op.request is not None:
        operation["requestBody"] = {"required": op.body_required,
                                    "content": {"application/json": {"schema": _ref(op.request)}}}
    if control:
        operation["security"] = CONTROL_SECURITY[op.access or "global"]
    elif op.public:
        operation["security"] = []
    return operation


def build_document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for these routes (the app's, in practice)."""
    paths: dict[str, dict[str, Any]] = {}
    for route, tag in documented(routes):
        item = paths.setdefault(route.path, {})
        item[route.method.lower()] = _operation(route.method, route.path, list(route.param_convertors), route.doc,
                                                tag)
        paths[route.path] = dict(sorted(item.items()))
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
            "schemas": component_schemas(routes),
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
                               "schema": {"type": "string", "pattern": SUB_ACCOUNT_RULE}},
            },
            "responses": {
                "Error": {"description": "Any error: a human sentence in `detail` (field-rule errors add `errors`).",
                          "content": {"application/json": {"schema": _ref(Error)}}},
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
    get("/openapi.json", openapi_json, "This document", hidden=True).route(),
    get("/docs", docs, "This document as a page", hidden=True).route(),
]
