"""Injected faults, so a team can test its own retry and webhook-verification code.

API faults make the next N requests of a key (optionally on one path) answer 429 (with
Retry-After), 500, 502 or 503. Webhook faults make the next N deliveries to an
account carry no signature, a bad signature, a stale timestamp, a tampered body, a reused
`X-Webhook-ID`, or arrive after a delay.

A call turn may carry its own fault: its webhook is signed with that fault (`sign(kind=...)`, leaving
the armed ones for later deliveries), or the account's API answers 503 while the agent answers the
turn (`begin_outage` / `end_outage`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from emulator.bounded import LAST_WEBHOOK_ID_LIMIT, Lru
from emulator.errors import Refused
from emulator.webhooks import signing

API_STATUSES = (429, 500, 502, 503)
WEBHOOK_KINDS = ("no-signature", "bad-signature", "stale-timestamp", "tampered-body", "reused-id", "delay")
STALE_SECONDS = 3600
OUTAGE_STATUS = 503


@dataclass
class ApiFault:
    key: str
    status: int
    remaining: int
    path: str | None = None
    retry_after: int = 1

    def to_json(self) -> dict[str, object]:
        return {"key": self.key, "status": self.status, "remaining": self.remaining, "path": self.path}


@dataclass
class WebhookFault:
    account_id: str
    kind: str
    remaining: int
    delay_seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {"accountId": self.account_id, "webhook": self.kind, "remaining": self.remaining,
                "delaySeconds": self.delay_seconds}


Fault = ApiFault | WebhookFault
Fired = Callable[[Fault, str], None]  # (the fault, the path or delivery it hit)


class FaultBook:
    """Pending faults and the last delivery ID of each account, all bounded: at most PER_KEY pending faults
    per key (API) or account (webhook), a new one past that refused; at most TOTAL pending across everyone,
    the oldest dropped past that; the last IDs of at most LAST_WEBHOOK_ID_LIMIT accounts."""

    PER_KEY = 100
    TOTAL = 10_000

    def __init__(self, fired: Fired | None = None) -> None:
        self._pending: dict[tuple[str, str], list[Fault]] = {}  # ("api", key) | ("webhook", account): armed order
        self._armed: dict[int, Fault] = {}  # every pending fault by identity, oldest first
        self._last_id: Lru[str, str] = Lru(LAST_WEBHOOK_ID_LIMIT)
        self.outages: dict[str, int] = {}  # account ID -> call turns under way whose API calls fail
        self.fired = fired  # told each time a fault goes off (the activity log)

    @property
    def api(self) -> list[ApiFault]:
        return [f for f in self._armed.values() if isinstance(f, ApiFault)]

    @property
    def webhook(self) -> list[WebhookFault]:
        return [f for f in self._armed.values() if isinstance(f, WebhookFault)]

    @property
    def armed(self) -> int:
        """How many faults are pending (the book itself stays truthy: it is passed around as `faults or ...`)."""
        return len(self._armed)

    @staticmethod
    def _owner(fault: Fault) -> tuple[str, str]:
        return ("api", fault.key) if isinstance(fault, ApiFault) else ("webhook", fault.account_id)

    def add(self, fault: Fault) -> None:
        """Arm a fault; Refused when its key or account already has PER_KEY pending."""
        pending = self._pending.setdefault(self._owner(fault), [])
        if len(pending) >= self.PER_KEY:
            raise Refused(f"At most {self.PER_KEY} faults may be pending for one key; let some be used up, or "
                          "clear them with DELETE /_emulator/faults.")
        pending.append(fault)
        self._armed[id(fault)] = fault
        while len(self._armed) > self.TOTAL:
            self._discard(next(iter(self._armed.values())))

    def _discard(self, fault: Fault) -> None:
        owner = self._owner(fault)
        rest = [f for f in self._pending.get(owner, []) if f is not fault]
        if rest:
            self._pending[owner] = rest
        else:
            self._pending.pop(owner, None)
        self._armed.pop(id(fault), None)

    def clear(self) -> None:
        self._pending.clear()
        self._armed.clear()
        self._last_id.clear()
        self.outages.clear()

    def forget(self, account_ids: set[str], keys: set[str]) -> None:
        """Disarm the faults of removed accounts (webhook faults by account, API faults by key)."""
        owners = [("api", key) for key in keys] + [("webhook", account_id) for account_id in account_ids]
        for owner in owners:
            for fault in self._pending.pop(owner, []):
                self._armed.pop(id(fault), None)
        for account_id in account_ids:
            self._last_id.pop(account_id, None)
            self.outages.pop(account_id, None)

    def dump(self) -> dict[str, object]:
        """Pending faults (oldest first) and outages, for the other processes on the database (emulator/shared.py)."""
        return {"faults": [{"api": vars(f)} if isinstance(f, ApiFault) else {"webhook": vars(f)}
                           for f in self._armed.values()],
                "outages": dict(self.outages)}

    def load(self, body: dict[str, object] | None) -> None:
        self._pending.clear()
        self._armed.clear()
        body = body or {}
        armed = body.get("faults") or []
        outages = body.get("outages") or {}
        assert isinstance(armed, list) and isinstance(outages, dict)
        for each in armed:
            fault: Fault = ApiFault(**each["api"]) if "api" in each else WebhookFault(**each["webhook"])
            self._pending.setdefault(self._owner(fault), []).append(fault)
            self._armed[id(fault)] = fault
        self.outages = dict(outages)

    def pending(self, key: str, path: str) -> bool:
        """Whether a request of `key` on `path` would meet an armed API fault."""
        return any(isinstance(f, ApiFault) and f.remaining > 0 and (f.path is None or f.path == path)
                   for f in self._pending.get(("api", key), ()))

    def pending_webhook(self, account_id: str) -> str | None:
        """The kind of the webhook fault the account's next delivery meets, if any."""
        for fault in self._pending.get(("webhook", account_id), ()):
            if fault.remaining > 0:
                assert isinstance(fault, WebhookFault)
                return fault.kind
        return None

    def remember(self, account_id: str, delivery_id: str) -> None:
        """The account's last delivery ID (what a reused-id fault reuses), when another process sent it."""
        self._last_id[account_id] = delivery_id

    def begin_outage(self, account_id: str) -> None:
        """The account's API answers 503 until `end_outage` (a call turn's `api-error` fault)."""
        self.outages[account_id] = self.outages.get(account_id, 0) + 1

    def end_outage(self, account_id: str) -> None:
        left = self.outages.get(account_id, 0) - 1
        if left > 0:
            self.outages[account_id] = left
        else:
            self.outages.pop(account_id, None)

    def outage(self, account_id: str) -> int | None:
        """The status the account's API requests answer now, if a turn's fault says so."""
        return OUTAGE_STATUS if account_id in self.outages else None

    def take_api(self, key: str, path: str) -> ApiFault | None:
        for fault in self._pending.get(("api", key), ()):
            assert isinstance(fault, ApiFault)
            if fault.remaining > 0 and (fault.path is None or fault.path == path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._discard(fault)
                if self.fired is not None:
                    self.fired(fault, path)
                return fault
        return None

    def _take_webhook(self, account_id: str) -> WebhookFault | None:
        for fault in self._pending.get(("webhook", account_id), ()):
            assert isinstance(fault, WebhookFault)
            if fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._discard(fault)
                return fault
        return None

    def sign(self, account_id: str, secret: str, body: bytes, delivery_id: str, event: str,
             kind: str | None = None) -> tuple[bytes, dict[str, str], float]:
        """The body and headers of one attempt, and a delay: faulted with `kind` when given (a call turn's
        own fault), else with an armed webhook fault if there is one."""
        if kind is not None:
            fault: WebhookFault | None = WebhookFault(account_id, kind, 0)
        else:
            fault = self._take_webhook(account_id) if self._armed else None
        if fault is not None and self.fired is not None:
            self.fired(fault, delivery_id)
        previous = self._last_id.get(account_id) or delivery_id
        self._last_id[account_id] = delivery_id
        if fault is None:
            return body, signing.headers(secret, body, delivery_id, event), 0.0
        if fault.kind == "no-signature":
            headers = signing.headers(secret, body, delivery_id, event)
            del headers["X-Webhook-Signature"]
            return body, headers, 0.0
        if fault.kind == "bad-signature":
            return body, signing.headers(secret + "-wrong", body, delivery_id, event), 0.0
        if fault.kind == "stale-timestamp":
            stale = int(time.time()) - STALE_SECONDS
            return body, signing.headers(secret, body, delivery_id, event, timestamp=stale), 0.0
        if fault.kind == "tampered-body":
            headers = signing.headers(secret, body, delivery_id, event)
            return body + b" ", headers, 0.0  # still JSON, no longer the signed bytes
        if fault.kind == "reused-id":
            return body, {**signing.headers(secret, body, delivery_id, event), "X-Webhook-ID": previous}, 0.0
        return body, signing.headers(secret, body, delivery_id, event), fault.delay_seconds
