"""agentphone-emulator: a self-hosted, API-compatible emulator of the AgentPhone API."""

__version__ = "0.1.0"
