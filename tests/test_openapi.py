"""GET /openapi.json and GET /docs: generated from the routes' own declarations, so spec and code cannot drift."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from starlette.routing import BaseRoute, Route

from emulator.api import openapi
from emulator.api.routing import ApiRoute, Resource
from emulator.app import create_app
from emulator.config import Settings

APP_ROUTES: list[BaseRoute] = create_app(Settings(db=":memory:")).routes
OPERATIONS = openapi.operations(APP_ROUTES)

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def app_routes() -> list[Route]:
    """The route table of an app built exactly as the server builds it."""
    return [route for route, _tag in openapi.documented(APP_ROUTES)]


@pytest.fixture(scope="module")
def document(server: Any) -> dict[str, Any]:
    resp = httpx.get(f"{server.base_url}/openapi.json", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    return resp.json()


def route_keys(routes: list[Route], prefix: str = "/") -> set[tuple[str, str]]:
    return {(method, r.path) for r in routes if r.path.startswith(prefix) for method in (r.methods or set()) - {"HEAD"}}


def refs(node: Any) -> list[str]:
    return re.findall(r'"\$ref": "([^"]+)"', json.dumps(node))


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


# --- the registry and the routes ------------------------------------------------------------------------


def test_every_served_route_declares_its_documentation() -> None:
    """No route is served without its declaration (a plain Starlette Route would be missing from the docs)."""
    served = [child for route in APP_ROUTES for child in (route.routes if isinstance(route, Resource) else [route])]
    assert served and all(isinstance(route, ApiRoute) for route in served), \
        [getattr(r, "path", r) for r in served if not isinstance(r, ApiRoute)]
    documented = {(r.method, r.path) for r in served if isinstance(r, ApiRoute) and not r.doc.hidden}
    assert documented == OPERATIONS.keys()
    assert {(r.method, r.path) for r in served if isinstance(r, ApiRoute) and r.doc.hidden} == {
        ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/"), ("GET", "/_emulator/ui"),
        ("GET", "/_emulator/ui/{name:path}")}


def test_each_method_and_path_is_declared_once() -> None:
    keys = [(route.method, route.path) for route, _tag in openapi.documented(APP_ROUTES)]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


def test_declared_models_come_from_the_wire_modules() -> None:
    for key, op in OPERATIONS.items():
        assert op.summary, key
        if op.request is not None:
            assert op.request.__module__.startswith("emulator.wire."), key
        if op.response is not None:
            assert op.response.__module__.startswith("emulator.wire."), key
        if op.status == 204 or op.media is not None:
            assert op.response is None, key
        elif key[1].startswith("/v1/") and key != ("PATCH", "/v1/register"):
            assert op.response is not None, key


# --- /openapi.json ---------------------------------------------------------------------------------------


def test_document_is_openapi_3_1(document: dict[str, Any]) -> None:
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"]
    assert document["components"]["securitySchemes"]["bearer"] == {
        **document["components"]["securitySchemes"]["bearer"], "type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearer": []}]
    names = [tag["name"] for tag in document["tags"]]
    assert len(names) == len(set(names))
    for item in document["paths"].values():
        assert set(item) <= METHODS
        for op in item.values():
            assert op["tags"][0] in names
            assert op["responses"]["default"] == {"$ref": "#/components/responses/Error"}
    error = document["components"]["responses"]["Error"]["content"]["application/json"]["schema"]
    assert resolve(document, error["$ref"])["required"] == ["detail"]


def test_every_route_is_a_path_with_its_methods(document: dict[str, Any], app_routes: list[Route]) -> None:
    served = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert served == route_keys(app_routes)
    assert route_keys(app_routes, "/v1/") <= served
    assert not any(path in document["paths"] for path in ("/openapi.json", "/docs"))


def test_path_parameters_match_the_templates(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for op in item.values():
            declared = [p["name"] for p in op["parameters"] if p.get("in") == "path"]
            assert declared == re.findall(r"{(\w+)}", path), (path, declared)
            assert all(p["required"] for p in op["parameters"] if p.get("in") == "path")


def test_operations_carry_the_registry(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    for (method, path), entry in OPERATIONS.items():
        op = document["paths"][path][method.lower()]
        assert op["summary"] == entry.summary
        assert str(entry.status) in op["responses"]
        if entry.request is not None:
            body = op["requestBody"]
            assert body["required"] is entry.body_required
            assert body["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/"
                                                                             f"{entry.request.__name__}"}
        else:
            assert "requestBody" not in op
        if entry.response is not None:
            schema = op["responses"][str(entry.status)]["content"]["application/json"]["schema"]
            assert f"#/components/schemas/{entry.response.__name__}" in refs(schema)


def test_create_agent_is_described_in_full(document: dict[str, Any]) -> None:
    op = document["paths"]["/v1/agents"]["post"]
    request = resolve(document, op["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert request["required"] == ["name"]
    assert {"voiceMode", "systemPrompt", "customTools", "maxSilenceMs"} <= request["properties"].keys()
    response = resolve(document, op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"])
    assert {"numbers", "phoneNumbers", "createdAt"} <= set(response["required"])
    assert response["properties"]["createdAt"]["format"] == "date-time"
    contact = document["paths"]["/v1/contacts"]["post"]["responses"]
    assert "201" in contact and "200" not in contact
    assert document["paths"]["/v1/contacts/{contact_id}"]["delete"]["responses"]["204"]["description"]
    recording = document["paths"]["/v1/calls/{call_id}/recording"]["get"]
    assert recording["security"] == [] and "audio/wav" in recording["responses"]["200"]["content"]
    assert document["paths"]["/_emulator/health"]["get"]["security"] == []
    assert document["paths"]["/_emulator/sms"]["post"]["security"] == [{}, {"bearer": []}, {"adminToken": []}]
    assert document["paths"]["/_emulator/clock"]["post"]["security"] == [{}, {"bearer": []}, {"adminToken": []}]
    assert document["paths"]["/_emulator/accounts"]["get"]["security"] == [{}, {"adminToken": []}]


def test_every_reference_resolves_and_every_component_is_a_schema(document: dict[str, Any]) -> None:
    for ref in refs(document):
        assert resolve(document, ref) is not None, ref
    for name, schema in document["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
        assert schema.get("type") in ("object", "array") or "enum" in schema or "anyOf" in schema, name


def test_document_is_cached_and_matches_a_fresh_build(server: Any, document: dict[str, Any],
                                                      app_routes: list[Route]) -> None:
    again = httpx.get(f"{server.base_url}/openapi.json", timeout=10)
    assert again.json() == document
    assert openapi.build_document(APP_ROUTES) == document


def test_no_authentication_needed(server: Any) -> None:
    for path in ("/openapi.json", "/docs"):
        assert httpx.get(f"{server.base_url}{path}", headers={"Authorization": "Bearer nope"},
                         timeout=10).status_code == 200


# --- /docs -------------------------------------------------------------------------------------------------


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.external: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"] or "")
        for name in ("href", "src"):
            target = values.get(name) or ""
            if target.startswith("#"):
                self.links.append(target[1:])
            elif target and not target.startswith("/"):
                self.external.append(target)
        if tag in ("link", "iframe", "img"):
            self.external.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def docs(server: Any) -> tuple[str, Page]:
    resp = httpx.get(f"{server.base_url}/docs", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    page = Page()
    page.feed(resp.text)
    return resp.text, page


def test_docs_list_every_operation_grouped_by_tag(docs: tuple[str, Page], document: dict[str, Any]) -> None:
    html, page = docs
    text = " ".join(page.text)
    for tag in document["tags"]:
        assert f"tag-{tag['name']}" in page.ids
    for path, item in document["paths"].items():
        for method, op in item.items():
            assert op["operationId"] in page.ids
            assert path in text and op["summary"] in text
            assert f'class="m {method.upper()}"' in html
    order = [html.index(f'id="tag-{tag["name"]}"') for tag in document["tags"]]
    assert order == sorted(order)


def test_docs_show_request_and_response_fields(docs: tuple[str, Page], document: dict[str, Any]) -> None:
    html, page = docs
    start = html.index('id="post_v1_agents"')
    section = html[start:html.index("</details>", start)]
    for field in ("systemPrompt", "voiceMode", "phoneNumbers", "createdAt"):
        assert f"<code>{field}</code>" in section
    assert "Request body" in section and "Response 200" in section
    for name in document["components"]["schemas"]:
        assert f"schema-{name}" in page.ids


def test_docs_are_self_contained(docs: tuple[str, Page]) -> None:
    html, page = docs
    assert page.external == []
    assert "<script src" not in html and "@import" not in html
    assert set(page.links) <= page.ids, set(page.links) - page.ids
