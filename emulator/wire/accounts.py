"""Sub-accounts and the account's add-ons on the wire."""

from __future__ import annotations

from typing import Any

from emulator.store import Account as AccountRow
from emulator.wire.base import Model, NonEmpty, Out, Page, Timestamp, columns


class SubAccountName(Model):
    name: NonEmpty


class SubAccount(Out):
    id: str
    name: str | None
    parent_id: str | None
    plan: str
    balance_cents: int
    created_at: Timestamp


SubAccountList = Page[SubAccount]

sub_account = columns(SubAccount)


class RecordingAddOn(Out):
    success: bool
    recording_enabled: bool
    message: str


def recording_enabled(row: AccountRow) -> dict[str, Any]:
    return {"success": True, "recordingEnabled": row.recording_enabled,
            "message": "Call recording is on: completed calls carry a recordingUrl."}
