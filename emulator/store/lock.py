"""One emulator per SQLite file: an exclusive lock held for the life of the serving process.

The emulator assumes it is the only writer of its database (reads are cached, start-up marks every
unfinished call as failed), so a second process on the same file must be refused before it touches
anything. The lock is an OS lock (`flock`) on `<database>.lock` beside the file, which also records
the holder's PID for the refusal message. The operating system drops the lock when the holder exits,
however it exits, so a crashed emulator never leaves the file locked. The lock file itself stays
behind (deleting it would let two processes lock two different files of the same name).

`:memory:` databases are private to their process and other databases (a server such as PostgreSQL)
are shared by design: neither is locked.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

MEMORY = ":memory:"


class DatabaseInUse(Exception):
    def __init__(self, database: Path, pid: int | None) -> None:
        holder = f"another emulator (pid {pid})" if pid else "another emulator"
        super().__init__(f"the database {database} is in use by {holder}; stop that process, "
                         "or start this one with another --db.")
        self.database = database
        self.pid = pid


@dataclass
class DatabaseLock:
    database: Path
    path: Path
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the descriptor drops the lock
            self.fd = -1


def sqlite_file(db: str) -> Path | None:
    """The SQLite file that `--db` names (a path or a SQLite URL), or None when there is none to lock."""
    if db == MEMORY:
        return None
    if "://" not in db:
        return Path(db).expanduser().resolve()
    url = make_url(db)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", MEMORY):
        return None
    if url.query.get("mode") == "memory" or url.database.startswith("file::memory:"):
        return None
    return Path(url.database.removeprefix("file:")).expanduser().resolve()


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


def lock_database(db: str) -> DatabaseLock | None:
    """Lock the SQLite file `db` names for this process; None when `db` needs no lock.

    Raises DatabaseInUse, naming the holder's PID, when a live process holds it.
    """
    database = sqlite_file(db)
    if database is None:
        return None
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _try_lock(fd)
    except OSError:
        pid = _read_pid(fd)
        os.close(fd)
        raise DatabaseInUse(database, pid) from None
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, f"{os.getpid()}\n".encode())
    return DatabaseLock(database, path, fd)


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


if sys.platform == "win32":  # pragma: no cover - the emulator is built and tested on Linux
    import msvcrt

    def _try_lock(fd: int) -> None:
        os.lseek(fd, 1 << 20, os.SEEK_SET)  # a byte past the PID, which stays readable
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
