"""/_emulator/*: the emulator's own control API, beside the AgentPhone API and on the same domain functions.

`state` steers the emulator (health, clock, reset, accounts), `fixtures` loads seed states, `faults` arms
failures, `world` makes the outside world act (an SMS arrives, a phone dials in, a callee answers with a
script), `records` shows what a phone or a person would have seen (verification codes, feedback), `inspector`
shows what happened (every account, the live stream of happenings, delivery attempts, call timelines, the
request journal).
"""

from __future__ import annotations

from emulator.api.control import state
from emulator.api.routing import Resource


def resources() -> list[Resource]:
    """The control API's resources for an app: health is in `state`, answered from the start; the others are
    imported when a request first needs them."""
    return [state.resource,
            Resource.later("/_emulator/fixtures", "emulator.api.control.fixtures"),
            Resource.later("/_emulator/faults", "emulator.api.control.faults"),
            Resource.later("/_emulator", "emulator.api.control.world"),
            Resource.later("/_emulator", "emulator.api.control.records"),
            Resource.later("/_emulator", "emulator.api.control.inspector")]
