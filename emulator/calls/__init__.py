"""The simulated call engine: callers asked turn by turn (scripts, personas, driven callers), voice webhooks
with streamed replies, hosted mode."""
