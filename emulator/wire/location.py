"""Phone locations on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from emulator.wire.base import Out


class Location(Out):
    phone_number: str
    latitude: float | None
    longitude: float | None
    status: Literal["ok", "unknown"]
    city: str | None = None
    region: str | None = None
    last_updated: int


class LocationRefresh(Out):
    success: bool
    poll_after_seconds: int


def location(e164: str, place: tuple[str, str, float, float] | None, now: datetime) -> dict[str, Any]:
    if place is None:
        return {"phoneNumber": e164, "latitude": None, "longitude": None, "status": "unknown",
                "lastUpdated": int(now.timestamp())}
    city, region, lat, lon = place
    return {"phoneNumber": e164, "latitude": lat, "longitude": lon, "status": "ok", "city": city, "region": region,
            "lastUpdated": int(now.timestamp())}


def refresh(poll_after_seconds: int) -> dict[str, Any]:
    return {"success": True, "pollAfterSeconds": poll_after_seconds}
