"""Settings of one emulator process, from the command line and AGENTPHONE_EMULATOR_* variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from emulator.plans import DEFAULT_BALANCE_CENTS, DEFAULT_PLAN

ENV_PREFIX = "AGENTPHONE_EMULATOR_"
DEFAULT_DB = "agentphone-emulator.db"


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name, default)


def env_flag(name: str) -> bool:
    return (env(name, "") or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    db: str = DEFAULT_DB
    strict_keys: bool = False
    keys: list[str] = field(default_factory=list)
    rate_limit: int | None = None  # requests per second per key
    default_plan: str = DEFAULT_PLAN
    default_balance_cents: int = DEFAULT_BALANCE_CENTS
    admin_token: str | None = None
    no_admin_token: bool = False  # listen beyond loopback without a token (see emulator/exposure.py)
    seed: int | None = None
    realtime: bool = False
    max_body_bytes: int = 1024 * 1024
    public_url: str | None = None
    fixtures: list[str] = field(default_factory=list)
    validation_status: int = 400  # the status of field-rule errors: 400 (skill doc) or 422 (FastAPI)
    webhook_events: str = "current"  # the event vocabulary: current | skill-doc | all
    workers: int = 1  # processes serving the database together (serve --workers N)
    worker: bool = False  # one of those workers: the start-up work (recovery, fixtures) was done before it

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


def read_keys_file(path: str) -> list[str]:
    """One key per line; blank lines and `#` comments are skipped."""
    lines = Path(path).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
