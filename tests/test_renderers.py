"""Column renderers (emulator/wire/base.py `columns`) give the same wire object whatever kind of row they are given:
a hot statement's named tuple (read by position), SQLAlchemy's own rows of statements with other column orders
(the rows of the async engine, read by name), and an entity."""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, insert, select

from emulator.wire.base import Out, Timestamp, columns


class Thing(Out):
    id: str
    display_name: str
    created_at: Timestamp


render = columns(Thing, source={"display_name": "name"})
AT = datetime(2024, 5, 6, 7, 8, 9, 123456)
EXPECTED = {"id": "t_1", "displayName": "One", "createdAt": "2024-05-06T07:08:09.123Z"}


def test_named_tuples_of_any_column_order_render_alike() -> None:
    first = namedtuple("Row", ["pk", "id", "name", "created_at"])(1, "t_1", "One", AT)
    second = namedtuple("Row", ["created_at", "name", "id"])(AT, "One", "t_1")
    assert render(first) == EXPECTED
    assert render(second) == EXPECTED
    assert render(first) == EXPECTED  # the first kind again, after the second was seen


def test_sqlalchemy_rows_of_two_statements_and_an_entity_render_alike() -> None:
    meta = MetaData()
    things = Table("things", meta, Column("pk", Integer, primary_key=True), Column("id", String),
                   Column("name", String), Column("created_at", DateTime))
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(things).values(id="t_1", name="One", created_at=AT))
        whole = conn.execute(select(things)).one()
        reordered = conn.execute(select(things.c.created_at, things.c.name, things.c.id)).one()
    assert type(whole) is type(reordered)  # one Row class for every statement
    assert render(whole) == EXPECTED
    assert render(reordered) == EXPECTED
    assert render(SimpleNamespace(id="t_1", name="One", created_at=AT)) == EXPECTED
    assert render(SimpleNamespace(id="t_2", name="Two", created_at=None)) == {
        "id": "t_2", "displayName": "Two", "createdAt": None}
