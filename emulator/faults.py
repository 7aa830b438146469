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


Fired = Callable[[ApiFault | WebhookFault, str], None]  # (the fault, the path or delivery it hit)


class FaultBook:
    def __init__(self, fired: Fired | None = None) -> None:
        self.api: list[ApiFault] = []
        self.webhook: list[WebhookFault] = []
        self.outages: dict[str, int] = {}  # account ID -> turns under way whose API calls fail
        self._last_id: dict[str, str] = {}
        self.fired = fired  # told each time a fault goes off (the activity log)

    def clear(self) -> None:
        self.api.clear()
        self.webhook.clear()
        self.outages.clear()
        self._last_id.clear()

    def forget(self, account_ids: set[str], keys: set[str]) -> None:
        """Disarm the faults of removed accounts (webhook faults by account, API faults by key)."""
        self.api = [f for f in self.api if f.key not in keys]
        self.webhook = [f for f in self.webhook if f.account_id not in account_ids]
        for account_id in account_ids:
            self._last_id.pop(account_id, None)
            self.outages.pop(account_id, None)

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
        for fault in self.api:
            if fault.key == key and fault.remaining > 0 and (fault.path is None or fault.path == path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.api.remove(fault)
                if self.fired is not None:
                    self.fired(fault, path)
                return fault
        return None

    def _take_webhook(self, account_id: str) -> WebhookFault | None:
        for fault in self.webhook:
            if fault.account_id == account_id and fault.remaining > 0:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.webhook.remove(fault)
                return fault
        return None

    def sign(self, account_id: str, secret: str, body: bytes, delivery_id: str, event: str,
             kind: str | None = None) -> tuple[bytes, dict[str, str], float]:
        """The body and headers of one attempt, and a delay: faulted with `kind` when given (a call turn's
        own fault), else with an armed webhook fault if there is one."""
        if kind is not None:
            fault: WebhookFault | None = WebhookFault(account_id, kind, 0)
        else:
            fault = self._take_webhook(account_id) if self.webhook else None
        if fault is not None and self.fired is not None:
            self.fired(fault, delivery_id)
        previous = self._last_id.get(account_id, delivery_id)
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
