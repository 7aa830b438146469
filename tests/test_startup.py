"""What start-up does to be quick, and that it changes nothing else: the garbage collector is off while the
process starts and on once it serves."""

from __future__ import annotations

import gc
import socket
from collections.abc import Iterator

import pytest

from emulator.cli import main
from emulator.serve import collect_from_now_on


@pytest.fixture
def collector() -> Iterator[None]:
    """The collector as the test found it, afterwards."""
    was = gc.isenabled()
    yield
    gc.unfreeze()
    (gc.enable if was else gc.disable)()


def test_the_collector_is_back_once_the_server_is_ready_and_leaves_out_what_start_up_made(collector: None) -> None:
    gc.disable()
    made = [object() for _ in range(10)]  # noqa: F841 (alive across the freeze)
    gc.unfreeze()
    collect_from_now_on()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


def test_a_collector_already_on_is_left_as_it_is(collector: None) -> None:
    gc.enable()
    gc.unfreeze()
    collect_from_now_on()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0  # in-process servers (tests, harnesses) keep their collector's state


def test_a_serve_that_refuses_to_start_turns_the_collector_back_on(collector: None) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["serve", "--host", "127.0.0.1", "--port", str(port), "--db", ":memory:"]) == 1
    assert gc.isenabled()
