"""What start-up built, kept out of the cyclic garbage collector's way.

Modules, the app and its route tables, prepared statements and the validators built at start-up live as long as
the process (well over 100,000 objects tracked by the collector). A full collection walks every tracked object, so
each one stopped the event loop for 40-70 ms on a 2-core machine, and a burst of calls, whose live state grows the
oldest generation, triggers them: a request that came in at that moment waited that long. Frozen once the server
is up (`gc.freeze`, the permanent generation), they are no longer walked; collections look at what was made since.
Nothing is collected first: start-up leaves next to no cyclic garbage, and a full collection is the pause this
avoids. For the same reason `serve` keeps the collector off while start-up builds them (`hold_during_start_up`):
its passes over objects that all live on found nothing, and cost start-up about 40 ms.
"""

from __future__ import annotations

import gc

_held = False  # whether `hold_during_start_up` turned the collector off


def hold_during_start_up() -> None:
    """Turn the collector off until `freeze_start_up` (or `release`), unless something else already has."""
    global _held
    if gc.isenabled():
        gc.disable()
        _held = True


def release() -> None:
    """The collector back on, if `hold_during_start_up` turned it off (a start-up that failed, too)."""
    global _held
    if _held:
        _held = False
        gc.enable()


def freeze_start_up() -> int:
    """Move every object tracked so far to the collector's permanent generation, and let the collector run again
    if start-up held it; returns how many the permanent generation holds."""
    gc.freeze()
    release()
    return gc.get_freeze_count()
