"""Signing exactly as the official SDK's `verify_webhook` checks it."""

from __future__ import annotations

import hmac
import time


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 of `"{timestamp}.{raw body}"` with the webhook secret."""
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.digest(secret.encode(), signed, "sha256").hex()  # one C call, as hmac.new(...).hexdigest()


def headers(secret: str, body: bytes, delivery_id: str, event: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers of one attempt. The timestamp is wall-clock unix seconds (the SDK compares it with
    `time.time()`), so it stays fresh however far the emulator's clock has been moved."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/json",
        "User-Agent": "AgentPhone-Webhooks/1.0 (agentphone-emulator)",
        "X-Webhook-ID": delivery_id,
        "X-Webhook-Event": event,
        "X-Webhook-Timestamp": stamp,
        "X-Webhook-Signature": signature(secret, stamp, body),
    }
