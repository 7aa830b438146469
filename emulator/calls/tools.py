"""Hosted mode's custom tools: when the agent uses one, the emulator really calls the tool's URL.

Which tool, and with what, is decided by fixed rules (emulator/calls/hosted.py says when): the arguments
are the caller's `name=value` or `name: value` pairs for the tool's declared parameters; a tool with one
parameter that the caller did not name takes the last word of the line that holds a digit ("order 4417").
A caller script can instead say which tool the agent uses on a turn (`{"say": ..., "tool": {"name": ...,
"arguments": {...}}}`).

The request is the voice provider's custom-function call: POST with a JSON body `{"name", "args", "call"}`
(GET: the arguments as query parameters), the tool's own `headers`, bounded by its `timeoutMs` (default
120000 ms, the vendor's longest). Whatever the tool server does (refuses, stalls, answers 5xx, sends a huge
or non-JSON body) the call goes on: the result, or what went wrong, is recorded on the transcript row.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from emulator.webhooks.transport import Outcome, Transport

if TYPE_CHECKING:
    from emulator.calls.setup import CallSetup

DEFAULT_TIMEOUT_MS = 120_000
PAIR = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*(?:=|:)\s*(\"[^\"]*\"|'[^']*'|[^\s,;]+)")
WORD_WITH_DIGIT = re.compile(r"[A-Za-z0-9_-]*\d[A-Za-z0-9_-]*")
RESULT_CHARS = 300  # of a tool's answer kept on the transcript row and read out


@dataclass(frozen=True)
class ToolUse:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolResult:
    name: str
    arguments: dict[str, Any]
    method: str
    url: str
    ok: bool
    http_status: int | None
    result: str | None
    error: str | None
    latency_ms: float

    def details(self) -> dict[str, Any]:
        """What the transcript row records of the call."""
        return {"name": self.name, "arguments": self.arguments, "method": self.method, "url": self.url,
                "ok": self.ok, "httpStatus": self.http_status, "result": self.result, "error": self.error,
                "latencyMs": self.latency_ms}

    def spoken(self) -> str:
        """What the agent reads out of the result: a `result`, `message` or `text` field, else the body."""
        if not self.ok or self.result is None:
            return ""
        try:
            data = json.loads(self.result)
        except ValueError:
            return self.result.strip()
        if isinstance(data, dict):
            for key in ("result", "message", "text"):
                if isinstance(data.get(key), str):
                    return str(data[key]).strip()
        return json.dumps(data, separators=(", ", ": "))[:RESULT_CHARS]


def named_in(utterance: str, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first tool the caller's line names (as written, or with `_`/`-` read as spaces)."""
    said = " ".join(utterance.lower().split())
    for tool in tools:
        name = str(tool.get("name", "")).lower()
        if name and (name in said or re.sub(r"[_-]+", " ", name) in said):
            return tool
    return None


def _typed(value: str, schema: Any) -> Any:
    kind = schema.get("type") if isinstance(schema, dict) else None
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value.lower() in ("true", "false", "yes", "no"):
        return value.lower() in ("true", "yes")
    return value


def arguments(utterance: str, tool: dict[str, Any]) -> dict[str, Any]:
    """The arguments the caller's line gives the tool's declared parameters."""
    properties = ((tool.get("parameters") or {}).get("properties") or {})
    if not isinstance(properties, dict) or not properties:
        return {}
    found = {key: value.strip("\"'") for key, value in PAIR.findall(utterance) if key in properties}
    if not found and len(properties) == 1:
        words = WORD_WITH_DIGIT.findall(utterance)
        if words:
            found = {next(iter(properties)): words[-1]}
    return {key: _typed(value, properties[key]) for key, value in found.items()}


def _headers(tool: dict[str, Any]) -> dict[str, str]:
    headers = {str(k): str(v) for k, v in (tool.get("headers") or {}).items()}
    headers.setdefault("Content-Type", "application/json")
    headers.setdefault("User-Agent", "agentphone-emulator")
    return headers


async def invoke(transport: Transport, tool: dict[str, Any], use: ToolUse, setup: CallSetup) -> ToolResult:
    method = str(tool.get("method") or "POST").upper()
    url = str(tool["url"])
    timeout = (tool.get("timeoutMs") or DEFAULT_TIMEOUT_MS) / 1000
    call = {"callId": setup.call_id, "agentId": setup.agent.id, "fromNumber": setup.from_number,
            "toNumber": setup.to_number, "direction": setup.direction}
    if method == "GET":
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in use.arguments.items()}
        outcome: Outcome = await transport.request("GET", url, b"", _headers(tool), timeout, params=params)
    else:
        body = json.dumps({"name": use.name, "args": use.arguments, "call": call}).encode()
        outcome = await transport.request("POST", url, body, _headers(tool), timeout)
    error = outcome.error.replace("the webhook", "the tool server").replace("webhook", "tool") \
        if outcome.error else None
    return ToolResult(use.name, dict(use.arguments), method, url, outcome.ok, outcome.http_status,
                      outcome.snippet[:RESULT_CHARS] if outcome.snippet else None, error, outcome.latency_ms)
