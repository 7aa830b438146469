"""Hot statements (emulator/store/sql.py) on SQLite: the constants a statement declares are written into its SQL
(a bound value compared with a column a partial index names makes SQLite prepare the statement again at every
execution), and the rows read exactly as SQLAlchemy reads them."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    create_engine,
    select,
    text,
)
from sqlalchemy.dialects import sqlite

from emulator.store import sql

META = MetaData()
THINGS = Table("things", META, Column("pk", Integer, primary_key=True), Column("name", String(32)),
               Column("status", String(16)), Column("rank", Integer), Column("on", Boolean),
               Column("data", JSON, nullable=True), Column("at", DateTime, nullable=True))
ROWS = [(1, "a", "active", 1, True, '{"k": [1, 2]}', "2024-05-06 07:08:09.123456"),
        (2, "b", "it's", 1, False, None, None), (3, "c", "active", 2, True, "5", "2024-05-06 07:08:09.000000"),
        (4, "d", "retired", 1, True, "null", "2024-05-06 07:08:09")]


def _database(tmp_path: Path) -> sqlite3.Connection:
    path = tmp_path / "things.db"
    META.create_all(create_engine(f"sqlite:///{path}"))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE INDEX ix_active ON things (rank) WHERE status = 'active'")
    conn.executemany("INSERT INTO things VALUES (?, ?, ?, ?, ?, ?, ?)", ROWS)
    return conn


def _run(conn: sqlite3.Connection, query: sql.Query, **params: object) -> list[tuple[object, ...]]:
    plan = query.plan(sqlite.dialect())
    text, args = plan.parameters(params)
    return [tuple(row) for row in plan.read(conn.execute(text, args).fetchall())]


def test_constants_are_written_into_the_sql_and_only_named_parameters_are_bound(tmp_path: Path) -> None:
    conn = _database(tmp_path)
    query = sql.Query(select(THINGS.c.name).where(
        THINGS.c.status == "active", THINGS.c.on.is_(True), THINGS.c.rank == bindparam("rank")).order_by(THINGS.c.pk))
    plan = query.plan(sqlite.dialect())
    assert "'active'" in plan.sql
    assert plan.sql.count("?") == 1
    assert plan.build({"rank": 1}) == [1]
    assert _run(conn, query, rank=1) == [("a",)]
    assert _run(conn, query, rank=2) == [("c",)]


def test_a_constant_with_a_quote_a_boolean_and_an_integer_match_the_rows_they_name(tmp_path: Path) -> None:
    conn = _database(tmp_path)
    quoted = sql.Query(select(THINGS.c.name).where(THINGS.c.status == "it's"))
    assert _run(conn, quoted) == [("b",)]
    off = sql.Query(select(THINGS.c.name).where(and_(THINGS.c.on == False, THINGS.c.rank == 1)))  # noqa: E712
    assert _run(conn, off) == [("b",)]
    paged = sql.Query(select(THINGS.c.name).order_by(THINGS.c.pk).limit(2).offset(1))
    assert _run(conn, paged) == [("b",), ("c",)]


def test_named_parameters_with_a_default_stay_bound_and_can_be_given(tmp_path: Path) -> None:
    conn = _database(tmp_path)
    query = sql.Query(select(THINGS.c.name).where(THINGS.c.status == bindparam("status", "active"))
                      .order_by(THINGS.c.pk))
    assert "'active'" not in query.plan(sqlite.dialect()).sql
    assert _run(conn, query) == [("a",), ("c",)]
    assert _run(conn, query, status="retired") == [("d",)]


def test_rows_read_as_sqlalchemy_reads_them(tmp_path: Path) -> None:
    conn = _database(tmp_path)
    statement = select(THINGS).order_by(THINGS.c.pk)
    engine = create_engine(f"sqlite:///{tmp_path / 'things.db'}")
    with engine.connect() as through_sqlalchemy:
        expected = [tuple(row) for row in through_sqlalchemy.execute(statement)]
        assert through_sqlalchemy.execute(text("SELECT count(*) FROM things")).scalar() == len(ROWS)
    got = _run(conn, sql.Query(statement))
    assert got == expected
    assert got[0][5] == {"k": [1, 2]} and got[2][5] == 5 and got[1][5] is None and got[3][5] is None
    assert got[0][6] == datetime(2024, 5, 6, 7, 8, 9, 123456) and got[1][4] is False
    row = sql.Query(statement).plan(sqlite.dialect()).read(conn.execute("SELECT * FROM things").fetchall())[0]
    assert (row.name, row.on, row.at) == ("a", True, datetime(2024, 5, 6, 7, 8, 9, 123456))


def test_constants_of_another_kind_than_their_column_match_as_sqlalchemy_binds_them(tmp_path: Path) -> None:
    conn = _database(tmp_path)
    conn.execute("INSERT INTO things (pk, name, status, rank, \"on\") VALUES (5, 'e', '5', 3, 1)")
    engine = create_engine(f"sqlite:///{tmp_path / 'things.db'}")
    for statement in (select(THINGS.c.name).where(THINGS.c.status == 5),
                      select(THINGS.c.name).where(THINGS.c.rank == "3"),
                      select(THINGS.c.name).where(THINGS.c.rank == 1.0).order_by(THINGS.c.pk)):
        with engine.connect() as through_sqlalchemy:
            expected = [tuple(row) for row in through_sqlalchemy.execute(statement)]
        assert expected
        assert _run(conn, sql.Query(statement)) == expected
