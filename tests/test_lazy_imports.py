"""What a process loads is what it uses: the server on SQLite reads no YAML, makes no personas and needs no
PostgreSQL, starts without the code of the API's resources other than the agents' and health (each is imported
when a request first reaches it), without the call engine (made for the first call) and without what only
processes sharing a database use (leases, the shared feed of happenings); the scenario commands need no
database. Each check imports in a fresh interpreter and reads its `sys.modules`."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


def loaded(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


# The API's resources imported when a request first reaches them (emulator/app.py, emulator/api/control).
LATER = ("emulator.api.numbers", "emulator.api.calls", "emulator.api.conversations", "emulator.api.messages",
         "emulator.api.webhooks", "emulator.api.usage", "emulator.api.contacts", "emulator.api.sub_accounts",
         "emulator.api.registration", "emulator.api.verification", "emulator.api.sip_trunks",
         "emulator.api.location", "emulator.api.feedback", "emulator.api.credits", "emulator.api.whatsapp",
         "emulator.api.control.fixtures", "emulator.api.control.faults", "emulator.api.control.world",
         "emulator.api.control.records", "emulator.api.control.inspector")


def packages(modules: set[str], *names: str) -> set[str]:
    return {name for name in names if any(m == name or m.startswith(name + ".") for m in modules)}


def test_the_app_loads_neither_yaml_faker_jsonschema_nor_the_postgresql_dialect() -> None:
    modules = loaded("import emulator.app")
    assert "emulator.app" in modules and "sqlalchemy.dialects.sqlite" in modules
    assert packages(modules, "yaml", "faker", "jsonschema", "httpx", "sqlalchemy.dialects.postgresql") == set()


def test_an_app_started_on_sqlite_still_loads_none_of_them(tmp_path: Path) -> None:
    db = tmp_path / "started.db"
    modules = loaded(f"""
import asyncio
from emulator.app import create_app
from emulator.config import Settings
app = create_app(Settings(db={str(db)!r}))

async def start_and_stop():
    async with app.router.lifespan_context(app):
        pass

asyncio.run(start_and_stop())
""")
    assert packages(modules, "yaml", "faker", "jsonschema", "sqlalchemy.dialects.postgresql") == set()
    assert packages(modules, *LATER, "emulator.calls.engine", "emulator.leases", "emulator.feed") == set()
    with sqlite3.connect(db) as conn:  # it did start: the schema is there
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"accounts", "calls", "webhook_deliveries", "store_meta"} <= tables


def test_a_request_to_a_resource_imports_its_module_and_is_answered(tmp_path: Path) -> None:
    modules = loaded(f"""
import asyncio, httpx, sys
from emulator.app import create_app
from emulator.config import Settings
app = create_app(Settings(db={str(tmp_path / "used.db")!r}))

async def use():
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emulator") as client:
            assert "emulator.api.usage" not in sys.modules
            usage = await client.get("/v1/usage", headers={{"Authorization": "Bearer sk_test_lazy"}})
            assert usage.status_code == 200 and usage.json()["plan"]["name"] == "free", usage.text
            assert (await client.get("/_emulator/faults", params={{"key": "sk_test_lazy"}})).status_code == 200

asyncio.run(use())
""")
    assert packages(modules, "emulator.api.usage", "emulator.api.control.faults") == {
        "emulator.api.usage", "emulator.api.control.faults"}
    assert packages(modules, "emulator.api.whatsapp", "emulator.api.control.inspector") == set()


def test_every_resource_named_by_its_prefix_serves_that_prefix() -> None:
    """The app names the resources it imports later by prefix and module: each module's resource has that prefix
    (a listing of the routes imports them all, and a prefix that differs fails it)."""
    from emulator.api.routing import Resource, api_routes
    from emulator.app import create_app
    from emulator.config import Settings

    routes = create_app(Settings(db=":memory:")).routes
    later = [route for route in routes if isinstance(route, Resource) and route._source is not None]
    assert {route._source[0] for route in later if route._source} == set(LATER)
    listed = list(api_routes(routes))  # imports every one of them
    assert all(route._source is None for route in later)
    for resource in later:
        assert resource.routes and all(child.path.startswith(resource.prefix) for child in resource.routes)
    assert ("/v1/usage", "usage") in {(child.path, tag) for child, tag in listed}


def test_a_resource_whose_module_serves_another_prefix_is_refused() -> None:
    from emulator.api.routing import Resource

    wrong = Resource.later("/v1/elsewhere", "emulator.api.usage")
    with pytest.raises(LookupError, match="is not the resource of /v1/elsewhere"):
        list(wrong.routes)
    with pytest.raises(LookupError, match="there is no module emulator.api.nowhere"):  # at once, not on first use
        Resource.later("/v1/nowhere", "emulator.api.nowhere")


@pytest.mark.parametrize("module", ["emulator.scenarios.cli", "emulator.scenarios.export"])
def test_the_scenario_commands_load_no_database(module: str) -> None:
    modules = loaded(f"import {module}")
    assert module in modules
    assert packages(modules, "sqlalchemy", "emulator.store", "emulator.app", "starlette") == set()
