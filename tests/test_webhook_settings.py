"""Webhook settings: the project webhook (/v1/webhooks) and per-agent webhooks (/v1/agents/{id}/webhook)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from helpers import ISO_MS, stored_rows

from emulator.testing import InProcessEmulator, new_key

pytestmark = pytest.mark.also_on_postgresql  # and on PostgreSQL, where CI names a server

WEBHOOK_KEYS = {"id", "url", "secret", "status", "contextLimit", "timeout", "createdAt"}


@pytest.fixture(params=["project", "agent"])
def path(request: pytest.FixtureRequest, api: httpx.Client) -> str:
    """The webhook settings route under test: the project's, or a fresh agent's."""
    if request.param == "project":
        return "/v1/webhooks"
    agent = api.post("/v1/agents", json={"name": "Hooked"}).json()
    return f"/v1/agents/{agent['id']}/webhook"


def stored_webhooks(server: InProcessEmulator, webhook_id: str) -> int:
    return stored_rows(server, id=webhook_id)["webhooks"]


def put(api: httpx.Client, path: str, **fields: Any) -> dict[str, Any]:
    resp = api.post(path, json={"url": "https://example.com/hook", **fields})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_unset_webhook_is_null(api: httpx.Client, path: str) -> None:
    resp = api.get(path)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.text == "null"
    assert resp.json() is None


def test_set_uses_documented_defaults(api: httpx.Client, path: str) -> None:
    resp = api.post(path, json={"url": "https://example.com/hook"})
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) >= WEBHOOK_KEYS
    assert body["id"].startswith("wh_")
    assert body["url"] == "https://example.com/hook"
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > len("whsec_") + 16
    assert body["status"] == "active"
    assert body["contextLimit"] == 10
    assert body["timeout"] == 30
    assert ISO_MS.match(body["createdAt"])
    assert api.get(path).json() == body


def test_second_set_keeps_id_and_rotates_secret(api: httpx.Client, path: str) -> None:
    first = put(api, path, contextLimit=5, timeout=60)
    second = put(api, path, url="https://example.org/other")
    assert second["id"] == first["id"]
    assert second["secret"] != first["secret"]
    assert second["secret"].startswith("whsec_")
    assert second["url"] == "https://example.org/other"
    assert second["createdAt"] == first["createdAt"]
    # Settings not sent again keep their values.
    assert second["contextLimit"] == 5 and second["timeout"] == 60
    assert api.get(path).json() == second


@pytest.mark.parametrize(("field", "value"), [("contextLimit", 0), ("contextLimit", 50), ("timeout", 5),
                                              ("timeout", 120)])
def test_bounds_are_accepted(api: httpx.Client, path: str, field: str, value: int) -> None:
    body = put(api, path, **{field: value})
    assert body[field] == value
    assert api.get(path).json()[field] == value


@pytest.mark.parametrize(("field", "value"), [("contextLimit", -1), ("contextLimit", 51), ("timeout", 4),
                                              ("timeout", 121), ("contextLimit", "10"), ("timeout", 1.5)])
def test_out_of_range_is_400(api: httpx.Client, path: str, field: str, value: Any) -> None:
    resp = api.post(path, json={"url": "https://example.com/hook", field: value})
    assert resp.status_code == 400
    assert field in resp.json()["detail"]
    assert api.get(path).json() is None


@pytest.mark.parametrize("url", ["ftp://x", "/relative", "not a url", "", "https://", "mailto:a@b.c"])
def test_url_must_be_absolute_http(api: httpx.Client, path: str, url: str) -> None:
    resp = api.post(path, json={"url": url})
    assert resp.status_code == 400
    assert "url" in resp.json()["detail"]
    assert api.get(path).json() is None


def test_missing_url_is_400(api: httpx.Client, path: str) -> None:
    resp = api.post(path, json={"contextLimit": 3})
    assert resp.status_code == 400
    assert "url" in resp.json()["detail"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://localhost:8080/hooks?a=1", "https://example.com"])
def test_local_and_plain_http_urls_are_accepted(api: httpx.Client, path: str, url: str) -> None:
    assert put(api, path, url=url)["url"] == url


def test_delete_then_get_is_null(api: httpx.Client, path: str) -> None:
    hook = put(api, path)
    resp = api.delete(path)
    assert resp.status_code == 200
    assert resp.json()["success"] is True
    assert api.get(path).json() is None
    again = api.delete(path)
    assert again.status_code == 404
    assert again.json()["detail"]
    # Setting again afterwards creates a new webhook.
    assert put(api, path)["id"] != hook["id"]


def test_delete_when_unset_is_404(api: httpx.Client, path: str) -> None:
    resp = api.delete(path)
    assert resp.status_code == 404
    assert resp.json()["detail"]


def test_project_and_agent_webhooks_are_independent(api: httpx.Client) -> None:
    agent = api.post("/v1/agents", json={"name": "Hooked"}).json()
    project = put(api, "/v1/webhooks", url="https://example.com/project")
    own = put(api, f"/v1/agents/{agent['id']}/webhook", url="https://example.com/agent", contextLimit=3)
    assert own["id"] != project["id"]
    assert own["secret"] != project["secret"]
    assert api.get("/v1/webhooks").json()["url"] == "https://example.com/project"

    assert api.delete(f"/v1/agents/{agent['id']}/webhook").status_code == 200
    assert api.get("/v1/webhooks").json() == project
    put(api, f"/v1/agents/{agent['id']}/webhook", url="https://example.com/agent")
    assert api.delete("/v1/webhooks").status_code == 200
    assert api.get(f"/v1/agents/{agent['id']}/webhook").json()["url"] == "https://example.com/agent"


def test_each_agent_has_its_own_webhook(api: httpx.Client) -> None:
    first = api.post("/v1/agents", json={"name": "One"}).json()
    second = api.post("/v1/agents", json={"name": "Two"}).json()
    put(api, f"/v1/agents/{first['id']}/webhook", url="https://example.com/one")
    assert api.get(f"/v1/agents/{second['id']}/webhook").json() is None


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_unknown_agent_is_404(api: httpx.Client, method: str) -> None:
    kwargs: dict[str, Any] = {"json": {"url": "https://example.com/hook"}} if method == "POST" else {}
    resp = api.request(method, "/v1/agents/agent_nope/webhook", **kwargs)
    assert resp.status_code == 404
    assert "agent_nope" in resp.json()["detail"]


def test_deleting_an_agent_removes_its_webhook(api: httpx.Client, server: InProcessEmulator) -> None:
    agent = api.post("/v1/agents", json={"name": "Short-lived"}).json()
    hook = put(api, f"/v1/agents/{agent['id']}/webhook")
    project = put(api, "/v1/webhooks")
    assert stored_webhooks(server, hook["id"]) == 1
    assert api.delete(f"/v1/agents/{agent['id']}").status_code == 200
    assert stored_webhooks(server, hook["id"]) == 0
    assert stored_webhooks(server, project["id"]) == 1
    assert api.get(f"/v1/agents/{agent['id']}/webhook").status_code == 404
    assert api.get("/v1/webhooks").json() == project
    # A new agent does not inherit the old agent's webhook.
    fresh = api.post("/v1/agents", json={"name": "Fresh"}).json()
    assert api.get(f"/v1/agents/{fresh['id']}/webhook").json() is None


def test_webhooks_are_per_account(api: httpx.Client, server: InProcessEmulator) -> None:
    put(api, "/v1/webhooks")
    with server.client(new_key()) as other:
        assert other.get("/v1/webhooks").json() is None
        assert other.delete("/v1/webhooks").status_code == 404
