"""`langchain-agentphone` (a PyPI integration built on the official SDK), unchanged, against the real emulator.

Its tools take no base URL: they build `AgentPhone(api_key=...)` with the SDK's default base URL. The test points
the SDK itself at the emulator (the default of `AgentPhone.__init__`'s `base_url`), so nothing of the package is
changed and nothing leaves the loopback. Two tools of version 0.1.0 do not work with SDK 0.20.3 whatever server
they talk to: `make_call` passes `model=` to `make_conversation`, and `create_agent` passes camelCase keywords for
the optional fields; both raise the SDK's TypeError before any request, against the real service too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from helpers import hosted_call, ok, upgrade

langchain_agentphone = pytest.importorskip("langchain_agentphone")
agentphone = pytest.importorskip("agentphone")


@pytest.fixture
def tools(base_url: str, key: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    init = agentphone.AgentPhone.__init__
    defaults = list(init.__defaults__ or ())
    defaults[0] = base_url  # (base_url, timeout): the SDK's default base URL is the emulator's
    monkeypatch.setattr(init, "__defaults__", tuple(defaults))
    yield {tool.name.removeprefix("agentphone_"): tool
           for tool in langchain_agentphone.AgentPhoneToolkit(api_key=key).get_tools()}


def run(tool: Any, **args: Any) -> Any:
    return json.loads(tool.invoke(args))


def listed(items: list[str], ident: str) -> bool:
    """The package serialises list items with `str()` (dataclass reprs): whether `ident` is the one item."""
    return len(items) == 1 and f"id='{ident}'" in items[0]


def test_every_tool_against_the_emulator(tools: dict[str, Any], api: httpx.Client, control: httpx.Client,
                                         key: str) -> None:
    assert set(tools) == {"send_sms", "make_call", "get_transcript", "list_calls", "list_conversations",
                          "get_conversation", "buy_number", "list_numbers", "create_agent", "list_agents",
                          "create_contact", "list_contacts"}
    upgrade(control, key)
    agent = run(tools["create_agent"], name="LangChain agent", description="Books tables")
    assert agent["name"] == "LangChain agent" and agent["description"] == "Books tables"
    assert listed(run(tools["list_agents"])["data"], agent["id"])
    with pytest.raises(TypeError, match="systemPrompt"):
        tools["create_agent"].invoke({"name": "Hosted", "system_prompt": "Be brief."})

    number = run(tools["buy_number"], country="US", area_code="415", agent_id=agent["id"])
    assert number["phone_number"].startswith("+1415") and number["agent_id"] == agent["id"]
    assert listed(run(tools["list_numbers"])["data"], number["id"])

    sent = run(tools["send_sms"], number_id=number["id"], to_number="+14155550181", body="Your table is ready.")
    assert sent["status"] == "sent" and sent["from_number"] == number["phone_number"]
    assert listed(run(tools["list_conversations"])["data"], sent["conversation_id"])
    conversation = run(tools["get_conversation"], conversation_id=sent["conversation_id"], message_limit=5)
    assert conversation["participant"] == "+14155550181" and conversation["message_count"] == 1

    contact = run(tools["create_contact"], phone_number="+14155550181", name="Grace Hopper", email="grace@example.com")
    assert contact["name"] == "Grace Hopper"
    assert listed(run(tools["list_contacts"], search="Grace")["data"], contact["id"])

    with pytest.raises(TypeError, match="model"):
        tools["make_call"].invoke({"agent_id": agent["id"], "to_number": "+14155550182", "topic": "A table for 2"})
    call = hosted_call(api, control, agent["id"], [{"say": "A table for two, please."}, {"say": "Bye."}])
    assert listed(run(tools["list_calls"], status="completed", direction="outbound")["data"], call["id"])
    transcript = run(tools["get_transcript"], call_id=call["id"])
    assert transcript["callId"] == call["id"] and transcript["total"] == len(call["transcripts"])
    assert ok(api.get("/v1/agents"))["total"] == 1  # the TypeErrors above sent nothing
