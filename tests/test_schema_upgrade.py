"""A database file made before the columns of the current event vocabulary, iMessage groups and reactions that
arrive existed opens as it is: the missing columns are added at start-up and the rows already there keep working."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from helpers import ok

from emulator.config import Settings
from emulator.store import documents
from emulator.testing import InProcessEmulator, new_key

ADDED = [("accounts", "webhook_events"), ("webhooks", "event_types"), ("conversations", "group_info"),
         ("reactions", "direction"), ("reactions", "from_number")]


def test_an_older_database_gains_the_new_columns(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    key = new_key()
    with InProcessEmulator(Settings(db=str(db))) as first, first.client(key) as api:
        ok(api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}))
    with sqlite3.connect(db) as conn:  # the file as an earlier version left it (with no stored documents either)
        documents.remove(conn)
        conn.execute("DELETE FROM store_meta WHERE name = 'documents'")
        for table, column in ADDED:
            conn.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    with InProcessEmulator(Settings(db=str(db))) as second, second.client(key) as api, second.client() as control:
        assert ok(api.get("/v1/webhooks"))["eventTypes"] is None
        hook = ok(api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "eventTypes": ["call.ended"]}))
        assert hook["eventTypes"] == ["call.ended"]
        assert ok(control.patch(f"/_emulator/accounts/{key}", json={"webhookEvents": "all"}))["webhookEvents"] == "all"
    with sqlite3.connect(db) as conn:
        for table, column in ADDED:
            assert column in {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
        default = [row[4] for row in conn.execute('PRAGMA table_info("reactions")') if row[1] == "direction"]
        assert default == ["'outbound'"]
