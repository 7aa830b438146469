"""What a process loads is what it uses: the server on SQLite reads no YAML, makes no personas and needs no
PostgreSQL, and the scenario commands need no database. Each check imports in a fresh interpreter and reads
its `sys.modules`."""

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
    with sqlite3.connect(db) as conn:  # it did start: the schema is there
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"accounts", "calls", "webhook_deliveries", "store_meta"} <= tables


@pytest.mark.parametrize("module", ["emulator.scenarios.cli", "emulator.scenarios.export"])
def test_the_scenario_commands_load_no_database(module: str) -> None:
    modules = loaded(f"import {module}")
    assert module in modules
    assert packages(modules, "sqlalchemy", "emulator.store", "emulator.app", "starlette") == set()
