from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from agentphone import AgentPhone
from receiver import Receiver
from voice_agent import VoiceAgent, VoiceServer

from emulator.testing import EmulatorProcess, new_key


@pytest.fixture(scope="session")
def server() -> Iterator[EmulatorProcess]:
    """One real emulator (uvicorn, loopback, temp SQLite file) for the session."""
    with EmulatorProcess() as proc:
        yield proc


@pytest.fixture
def base_url(server: EmulatorProcess) -> str:
    return server.base_url


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture
def api(base_url: str, key: str) -> Iterator[httpx.Client]:
    """An HTTP client authenticated as a fresh, isolated account."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
        yield client


@pytest.fixture
def control(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def voice_server() -> Iterator[VoiceServer]:
    """A signature-checking voice agent app on a free port, one per test module."""
    with VoiceServer() as server:
        yield server


@pytest.fixture
def voice(voice_server: VoiceServer) -> Iterator[VoiceAgent]:
    """A fresh path on the voice server, so each test sees only its own calls."""
    with voice_server.agent() as agent:
        yield agent


@pytest.fixture
def rx() -> Iterator[Receiver]:
    """A webhook receiver that fails the test when any delivery does not verify with the SDK."""
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def sdk(base_url: str, key: str) -> Iterator[AgentPhone]:
    """The official Python SDK client for the test's fresh key."""
    with AgentPhone(api_key=key, base_url=base_url, timeout=10) as client:
        yield client
