"""The command line refuses bad settings with a usage error, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("variable, value, message", [
    ("AGENTPHONE_EMULATOR_PORT", "abc", "argument --port: invalid int value: 'abc'"),
    ("AGENTPHONE_EMULATOR_RATE_LIMIT", "fast", "argument --rate-limit: invalid int value: 'fast'"),
    ("AGENTPHONE_EMULATOR_SEED", "x", "argument --seed: invalid int value: 'x'"),
    ("AGENTPHONE_EMULATOR_DEFAULT_PLAN", "gold", "argument --default-plan: invalid choice 'gold'"),
])
def test_bad_environment_settings_are_usage_errors(variable: str, value: str, message: str) -> None:
    env = {**os.environ, variable: value}
    done = subprocess.run([sys.executable, "-m", "emulator", "serve"], env=env, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
