"""The shape of an API key, in a module of its own so that the wire rules can state it without the store."""

from __future__ import annotations

KEY_RULE = r"^sk_(?:live|test)_[A-Za-z0-9_\-]{1,200}$"  # stated in the served OpenAPI document too
# What a key column holds: the longest key the rule allows (208 characters), and the longest anything that
# starts like a key the journal records before the rule is checked (220).
KEY_LENGTH = 220
