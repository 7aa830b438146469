"""The database lock: which `--db` values are locked, at which file, and that a held lock refuses a second taker
and is free again once released (an OS lock: two descriptors in one process conflict as two processes do)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emulator.store.lock import DatabaseInUse, lock_database, lock_path, sqlite_file


def test_paths_and_sqlite_urls_name_the_same_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    expected = (tmp_path / "x.db").resolve()
    assert sqlite_file("x.db") == expected
    assert sqlite_file(str(expected)) == expected
    assert sqlite_file(f"sqlite+aiosqlite:///{expected}") == expected
    assert sqlite_file("sqlite+aiosqlite:///x.db") == expected
    assert lock_path(expected) == tmp_path / "x.db.lock"


@pytest.mark.parametrize("db", [
    ":memory:",
    "sqlite+aiosqlite://",
    "sqlite+aiosqlite:///:memory:",
    "postgresql+asyncpg://user:secret@db.example/emulator",
])
def test_memory_and_server_databases_are_not_locked(db: str) -> None:
    assert sqlite_file(db) is None
    assert lock_database(db) is None


def test_a_held_lock_refuses_with_the_holders_pid_until_released(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "held.db"
    held = lock_database(str(db))
    assert held is not None
    assert held.path.read_text() == f"{os.getpid()}\n"
    with pytest.raises(DatabaseInUse) as refused:
        lock_database(f"sqlite+aiosqlite:///{db}")
    assert refused.value.pid == os.getpid()
    assert str(refused.value) == (f"the database {db} is in use by another emulator (pid {os.getpid()}); "
                                  "stop that process, or start this one with another --db.")
    assert not db.exists()  # the lock never creates the database itself
    held.release()
    again = lock_database(str(db))
    assert again is not None
    again.release()


def test_a_stale_lock_file_does_not_block(tmp_path: Path) -> None:
    db = tmp_path / "stale.db"
    lock_path(db).write_text("999999999\n")  # left by a process that died
    taken = lock_database(str(db))
    assert taken is not None
    assert taken.path.read_text() == f"{os.getpid()}\n"
    taken.release()
