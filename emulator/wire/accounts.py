"""Sub-accounts on the wire."""

from __future__ import annotations

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
