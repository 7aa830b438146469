from emulator.store.db import Store
from emulator.store.models import (
    Account,
    Agent,
    Call,
    Conversation,
    Delivery,
    Message,
    PhoneNumber,
    Transcript,
    Webhook,
)

__all__ = [
    "Account",
    "Agent",
    "Call",
    "Conversation",
    "Delivery",
    "Message",
    "PhoneNumber",
    "Store",
    "Transcript",
    "Webhook",
]
