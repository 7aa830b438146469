"""/_emulator/*: the emulator's own control API, beside the AgentPhone API and on the same domain functions.

`state` steers the emulator (health, clock, reset, accounts), `fixtures` loads seed states, `faults` arms
failures, `world` makes the outside world act (an SMS arrives, a phone dials in, a callee answers with a
script), `records` shows what a phone or a person would have seen (verification codes, feedback), `inspector`
shows what happened (every account, the live stream of happenings, delivery attempts, call timelines, the
request journal).
"""

from __future__ import annotations

from emulator.api.control import faults, fixtures, inspector, records, state, world

resources = [state.resource, fixtures.resource, faults.resource, world.resource, records.resource,
             inspector.resource]
