"""Outgoing webhooks: event payloads, signing, delivery with retries, and the delivery log."""
