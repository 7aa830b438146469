"""The person on the other end of a call, asked for one turn at a time.

The engine says what the caller heard (the greeting, or the agent's reply to the caller's last turn)
and the caller answers with its next turn, or None when it has nothing more to say. So a caller can
react to what the agent said: a script plays its turns (following IVR menus by the digits the agent
pressed), a persona (`emulator/calls/persona.py`) follows its rules, and a driven caller waits for
each turn to arrive through the control API (`POST /_emulator/calls/{id}/caller`), which is how a
caller backed by a chat model in the scenario runner takes part.

    class Caller(Protocol):
        async def next_turn(self, heard: Heard) -> Turn | None: ...
        def barges_in(self) -> bool: ...   # will the next turn cut the agent's reply to this one?
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from emulator.calls.script import Turn, branch_for

# How long a driven caller waits for its next turn before it is taken to have hung up (wall time).
DRIVE_SECONDS = 60.0


@dataclass(frozen=True)
class Heard:
    """What the caller heard before its next turn."""

    text: str = ""  # the agent's words ("" for silence)
    digits: str | None = None  # keys the agent pressed
    action: str | None = None
    hangup: bool = False
    interrupted: bool = False
    error: str | None = None  # why the agent was silent, when it was
    greeting: bool = False  # the agent's first words, before any caller turn
    asked: bool = True  # False after a caller turn the agent was not asked about (silence)
    chunks: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "greeting": self.greeting, "asked": self.asked}
        for name in ("digits", "action", "error"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.hangup:
            out["hangup"] = True
        if self.interrupted:
            out["interrupted"] = True
        return out


class Caller(Protocol):
    async def next_turn(self, heard: Heard) -> Turn | None: ...

    def barges_in(self) -> bool: ...


class ScriptCaller:
    """Scripted turns; a `{"persona": true}` turn (or the end of the script, when nothing marked a place)
    hands over to `then` until it stops. Menus pick their branch by the digits the agent pressed last."""

    def __init__(self, turns: list[Turn], then: Caller | None = None) -> None:
        self.queue: deque[Turn] = deque(turns)
        self.then = then
        self._marked = any(t.kind == "persona" for t in turns)
        self._active: Caller | None = None  # the persona, while it has the floor
        self._last_digits: str | None = None

    async def next_turn(self, heard: Heard) -> Turn | None:
        if heard.asked and not heard.greeting:
            self._last_digits = heard.digits  # a menu follows what the agent pressed in its latest reply
        while True:
            if self._active is not None:
                turn = await self._active.next_turn(heard)
                if turn is not None:
                    return turn
                self._active = None
            if not self.queue:
                if self.then is not None and not self._marked:
                    self._marked, self._active = True, self.then
                    continue
                return None
            turn = self.queue.popleft()
            if turn.kind == "menu":
                branch = branch_for(turn, self._last_digits or "")
                self._last_digits = None
                if branch is not None:
                    self.queue.extendleft(reversed(branch))
            elif turn.kind == "persona":
                if self.then is not None:
                    self._active = self.then
            else:
                return turn

    def barges_in(self) -> bool:
        if self._active is not None:
            return self._active.barges_in()
        return bool(self.queue) and self.queue[0].kind == "say" and self.queue[0].interrupt

    @property
    def finishing(self) -> bool:
        """Whether nothing scripted follows the persona's part (so it may say goodbye and hang up)."""
        return not any(t.kind != "persona" for t in self.queue)


class DrivenCaller:
    """Turns that arrive from outside, one per question: the engine asks (`next_turn`), a driver reads the
    question (`question`) and answers it (`answer`)."""

    def __init__(self, wait: float = DRIVE_SECONDS) -> None:
        self.wait = wait
        self.asked = 0  # how many questions were put so far
        self._question: Heard | None = None
        self._answer: asyncio.Future[Turn | None] | None = None
        self._changed = asyncio.Event()
        self.gone: str | None = None  # why the caller stopped, when it went quiet

    async def next_turn(self, heard: Heard) -> Turn | None:
        loop = asyncio.get_running_loop()
        self._question, self._answer = heard, loop.create_future()
        self.asked += 1
        self._pulse()
        try:
            return await asyncio.wait_for(self._answer, self.wait)
        except TimeoutError:
            self.gone = f"The caller's driver gave no turn within {self.wait:g} s; the caller hung up."
            return None
        finally:
            self._question = self._answer = None
            self._pulse()

    def barges_in(self) -> bool:
        return False  # a driver hears the whole reply before it answers

    @property
    def question(self) -> Heard | None:
        """What the caller heard, while the engine waits for its next turn."""
        return self._question

    def answer(self, turn: Turn | None) -> bool:
        """Give the pending question its turn (None: the caller has nothing more); False if none is pending."""
        if self._answer is None or self._answer.done():
            return False
        self._answer.set_result(turn)
        return True

    def changed(self, timeout: float) -> Coroutine[Any, Any, None]:
        """Wait (at most `timeout` s) until a question is put or taken after this call. The event is taken now,
        not when the coroutine first runs: a change in between would otherwise go unseen."""
        return _wait(self._changed, timeout)

    def _pulse(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


async def _wait(event: asyncio.Event, timeout: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pass
