"""The simulated call engine: scripted callers, voice webhooks with streamed replies, hosted mode."""
