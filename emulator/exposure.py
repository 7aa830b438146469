"""Who can reach the control API: an emulator listening beyond loopback gets an admin token unless told not to.

On loopback (127.0.0.0/8, ::1) only this machine reaches the port, and a request without credentials acts as
the admin, so local use needs no setup. On any other address (0.0.0.0 in a container, a LAN address) anyone
on the network could reset every account, load fixtures over other accounts or move the clock; so, like a
notebook server, `serve` generates a token at start and prints it once, and the global control routes need it.
`--admin-token` chooses the token; `--no-admin-token` keeps the control API open, with a warning.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass

from emulator.config import Settings

TOKEN_BYTES = 24  # 32 URL-safe characters


def is_loopback(address: str) -> bool:
    """Whether a bound address (as the socket reports it) is reachable from this machine only."""
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return address == "localhost"


@dataclass(frozen=True)
class Exposure:
    generated: bool = False  # the admin token was made at start (and is to be printed once)
    warning: str | None = None  # said on stderr at start: the control API is open to the network


def secure(settings: Settings, bound: str) -> Exposure:
    """Give `settings` an admin token when it listens beyond loopback without one, unless it opted out."""
    if settings.admin_token or is_loopback(bound):
        return Exposure()
    if settings.no_admin_token:
        return Exposure(warning=(
            f"warning: listening on {bound} with no admin token (--no-admin-token): anyone who reaches this port "
            "can reset every account, load fixtures over them and move the clock. Use it on a trusted network only."))
    settings.admin_token = secrets.token_urlsafe(TOKEN_BYTES)
    return Exposure(generated=True)


def token_lines(settings: Settings) -> list[str]:
    """The banner's lines for a generated token."""
    return [
        f"  admin:   X-Emulator-Admin-Token: {settings.admin_token}",
        f"           (generated at start, as {settings.host} is reachable from other machines: the global /_emulator",
        "           routes need it, account keys drive their own account; --admin-token chooses the token)",
    ]
