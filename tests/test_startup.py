"""What start-up does to be quick, and that it changes nothing else: the garbage collector is off while the
process starts and on once it serves; a new SQLite file gets its schema from a script rendered once, which is
what the schema step makes; an existing file is still looked through for what its last run left unfinished."""

from __future__ import annotations

import asyncio
import gc
import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, String, Table, create_engine

from emulator import heap
from emulator.app import create_app
from emulator.cli import main
from emulator.config import Settings
from emulator.store import Store, schema
from emulator.store import db as db_module
from emulator.store.models import Base


@pytest.fixture
def collector() -> Iterator[None]:
    """The collector as the test found it, afterwards."""
    was = gc.isenabled()
    yield
    heap.release()
    gc.unfreeze()
    (gc.enable if was else gc.disable)()


def test_the_collector_is_off_during_start_up_and_back_once_the_server_is_ready(collector: None) -> None:
    gc.enable()
    heap.hold_during_start_up()
    assert not gc.isenabled()
    heap.freeze_start_up()
    assert gc.isenabled()
    heap.release()  # nothing more to give back
    assert gc.isenabled()


def test_a_collector_something_else_turned_off_stays_off(collector: None) -> None:
    gc.disable()
    heap.hold_during_start_up()
    heap.freeze_start_up()
    assert not gc.isenabled()


def test_a_serve_that_refuses_to_start_turns_the_collector_back_on(collector: None) -> None:
    gc.enable()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["serve", "--host", "127.0.0.1", "--port", str(port), "--db", ":memory:"]) == 1
    assert gc.isenabled()


# -- a new SQLite database's schema, rendered once -------------------------------------------------------------


def dump(db: Path) -> list[str]:
    """Everything a SQLite file holds, as SQL (schema and rows), in order (of a table's indexes, SQLAlchemy makes
    them in no set order)."""
    with sqlite3.connect(db) as conn:
        return sorted(conn.iterdump())


def made_by_the_schema_step(db: Path, step: Callable[[Connection], bool] | None = None) -> None:
    """A new file given its schema by the store's schema step itself, as an existing database would be."""
    engine = create_engine(f"sqlite+pysqlite:///{db}")
    try:
        with engine.begin() as conn:
            assert (step or db_module._create)(conn) is True  # every table was new
    finally:
        engine.dispose()


async def started(db: Path) -> Store:
    store = Store(str(db))
    try:
        await store.start()
    finally:
        await store.close()
    return store


def test_the_committed_script_is_what_the_schema_step_renders_now() -> None:
    assert schema.SCRIPT.read_text(encoding="utf-8") == schema.render(), (
        "the schema changed (models, rollups or the schema step in emulator/store/db.py): write "
        "emulator/store/sqlite_schema.sql again with `python -m emulator.store.schema`")


def test_a_new_file_started_from_the_script_holds_what_the_schema_step_makes(tmp_path: Path) -> None:
    made_by_the_schema_step(tmp_path / "step.db")
    store = asyncio.run(started(tmp_path / "script.db"))
    assert store.created
    assert dump(tmp_path / "script.db") == dump(tmp_path / "step.db")
    assert len(schema.statements()) > 50  # tables, indexes, triggers and the rollups' fingerprint


def test_a_new_file_does_not_run_the_schema_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def step(_conn: Connection) -> bool:
        raise AssertionError("the schema step ran on a new file")

    monkeypatch.setattr(db_module, "_create", step)
    assert asyncio.run(started(tmp_path / "new.db")).created
    with pytest.raises(AssertionError, match="the schema step ran"):  # an existing file does run it
        asyncio.run(started(tmp_path / "new.db"))


def test_a_table_added_to_the_models_fails_the_check_until_the_script_is_written_again() -> None:
    added = Table("schema_probe", Base.metadata, Column("id", String(64), primary_key=True))
    try:
        rendered = schema.render()
    finally:
        Base.metadata.remove(added)
    assert "CREATE TABLE schema_probe" in rendered
    assert rendered != schema.SCRIPT.read_text(encoding="utf-8")


def test_what_the_schema_step_adds_beyond_the_models_is_rendered_and_replayed_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step of its own in the schema step (here a full-text index, whose table SQLite backs with tables of its
    own, and a row) reaches the script, and a new file made from it equals one the step makes."""
    step = db_module._create

    def with_search(conn: Connection) -> bool:
        new = step(conn)
        conn.exec_driver_sql("CREATE VIRTUAL TABLE probe_search USING fts5(body)")
        conn.exec_driver_sql("INSERT INTO store_meta (name, value) VALUES ('probe', 'it''s there')")
        return new

    monkeypatch.setattr(db_module, "_create", with_search)
    monkeypatch.setattr(schema, "SCRIPT", tmp_path / "schema.sql")
    schema.SCRIPT.write_text(schema.render(), encoding="utf-8")
    assert "CREATE VIRTUAL TABLE probe_search" in schema.SCRIPT.read_text(encoding="utf-8")
    made_by_the_schema_step(tmp_path / "step.db", with_search)
    assert asyncio.run(started(tmp_path / "script.db")).created
    assert dump(tmp_path / "script.db") == dump(tmp_path / "step.db")


def test_without_the_script_a_new_file_gets_the_same_schema_from_the_step(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "SCRIPT", tmp_path / "missing.sql")
    assert schema.statements() == []
    made_by_the_schema_step(tmp_path / "step.db")
    store = asyncio.run(started(tmp_path / "fallback.db"))
    assert store.created
    assert dump(tmp_path / "fallback.db") == dump(tmp_path / "step.db")


def test_an_existing_file_is_not_created_again(tmp_path: Path) -> None:
    db = tmp_path / "kept.db"
    assert asyncio.run(started(db)).created
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO store_meta (name, value) VALUES ('kept', 'yes')")
    again = asyncio.run(started(db))
    assert not again.created
    assert ("kept", "yes") in sqlite3.connect(db).execute("SELECT name, value FROM store_meta").fetchall()


def test_the_script_splits_on_statements_not_on_the_semicolons_inside_triggers() -> None:
    script = ("-- a comment\n\nCREATE TABLE t (a TEXT);\n\nCREATE TRIGGER x AFTER INSERT ON t BEGIN\n"
              "  INSERT INTO t VALUES ('a;b');\n  INSERT INTO t VALUES ('c');\nEND;\n")
    assert schema.statements(script) == [
        "CREATE TABLE t (a TEXT)",
        "CREATE TRIGGER x AFTER INSERT ON t BEGIN\n  INSERT INTO t VALUES ('a;b');\n  INSERT INTO t VALUES ('c');\nEND",
    ]
    with pytest.raises(ValueError, match="ends inside a statement"):
        schema.statements("CREATE TABLE t (a TEXT")


# -- what start-up looks for in an existing file ----------------------------------------------------------------


def filler(kind: str) -> object:
    """A value for a NOT NULL column of a row written by hand."""
    kind = kind.upper()
    if "INT" in kind or "BOOL" in kind or "FLOAT" in kind or "REAL" in kind:
        return 0
    if "DATETIME" in kind:
        return "2024-01-01 00:00:00.000000"
    if "JSON" in kind:
        return "{}"
    return "x"


def write_row(conn: sqlite3.Connection, table: str, **values: object) -> None:
    """A row with `values`, and a plain value in every other column that needs one."""
    for _, name, kind, notnull, default, pk in conn.execute(f'PRAGMA table_info("{table}")'):
        if notnull and default is None and not pk and name not in values:
            values[name] = filler(kind)
    names = ", ".join(f'"{name}"' for name in values)
    conn.execute(f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(values))})', list(values.values()))


def test_an_existing_file_still_has_its_unfinished_calls_failed_and_its_deliveries_retried(tmp_path: Path) -> None:
    db = tmp_path / "left.db"
    assert asyncio.run(started(db)).created
    with sqlite3.connect(db) as conn:  # what a process killed mid-call and mid-delivery leaves
        write_row(conn, "calls", id="call_left", account_id="acct_left", status="in-progress")
        write_row(conn, "webhook_deliveries", id="dlv_left", account_id="acct_left", status="pending",
                  next_retry_at=None)

    app = create_app(Settings(db=str(db)))

    async def start_and_stop() -> bool:
        async with app.router.lifespan_context(app):
            return app.state.emulator.store.created

    assert asyncio.run(start_and_stop()) is False
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status, end_reason FROM calls WHERE id = 'call_left'").fetchone() == (
            "failed", "emulator-restarted")
        assert conn.execute("SELECT next_retry_at FROM webhook_deliveries WHERE id = 'dlv_left'").fetchone()[0]
