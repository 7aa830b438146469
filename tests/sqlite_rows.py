"""Insert rows straight into a running emulator's SQLite file.

Calls, conversations, messages and webhook deliveries are produced by the call,
SMS and delivery engines; tests of the read side only need the rows. Columns the
caller leaves out that the table requires get neutral filler values, so the
helper keeps working when a table gains a column.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime
from typing import Any

import httpx


def stored(dt: datetime) -> str:
    """The text form SQLAlchemy's DateTime uses in SQLite (naive UTC)."""
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")


def emulator_now(control: httpx.Client) -> datetime:
    """The emulator's clock (naive UTC)."""
    now = control.get("/_emulator/clock").json()["now"]
    return datetime.fromisoformat(now.rstrip("Z"))


def account_id(control: httpx.Client, key: str) -> str:
    response = control.get(f"/_emulator/accounts/{key}")
    assert response.status_code == 200, response.text
    return response.json()["id"]


def _filler(declared: str) -> Any:
    kind = declared.upper()
    if kind.startswith(("INTEGER", "BOOLEAN")):
        return 0
    if kind.startswith("FLOAT"):
        return 0.0
    if kind.startswith("DATETIME"):
        return stored(datetime(2000, 1, 1))
    if kind.startswith("JSON"):
        return "null"
    return ""


def insert(db: str, table: str, **values: Any) -> str:
    """Insert one row; returns its public `id` (generated when not given)."""
    values.setdefault("id", f"{table[:4]}_{uuid.uuid4().hex[:24]}")
    row = {name: stored(value) if isinstance(value, datetime) else value for name, value in values.items()}
    with sqlite3.connect(db, timeout=10) as conn:
        for _, name, declared, notnull, default, is_pk in conn.execute(f"PRAGMA table_info({table})"):
            if name not in row and notnull and default is None and not is_pk:
                row[name] = _filler(declared)
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))
    conn.close()
    return str(values["id"])
