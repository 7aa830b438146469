from emulator.store.db import Store
from emulator.store.models import (
    Account,
    Agent,
    Call,
    Contact,
    Conversation,
    Delivery,
    DeliveryAttempt,
    Message,
    PhoneNumber,
    Reaction,
    Record,
    Transcript,
    Webhook,
)

__all__ = [
    "Account",
    "Agent",
    "Call",
    "Contact",
    "Conversation",
    "Delivery",
    "DeliveryAttempt",
    "Message",
    "PhoneNumber",
    "Reaction",
    "Record",
    "Store",
    "Transcript",
    "Webhook",
]
