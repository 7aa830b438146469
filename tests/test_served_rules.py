"""The rules the served OpenAPI document states are the rules the code applies: each pattern accepts exactly
what its checking function accepts, on samples at and around every edge; and the document uses JSON Schema's
own words only."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from emulator import phones
from emulator.clock import ISO_RULE, parse_iso
from emulator.domain.accounts import KEY_RULE, is_key
from emulator.errors import Problem
from emulator.urls import check_url, url_rule
from emulator.wire.rules import EMAIL_RULE

PHONES = ["+14155551234", "+442071234567", "+12", "+1415555123", "+141555512345", "+0123456789", "++14155551234",
          "4155551234", "14155551234", "24155551234", "(415) 555-1234", "+1 415 555 1234", "+44 20 7123 4567",
          "1-415-555-1234", "+\u0664\u0664\u0662\u0660\u0667\u0661\u0662\u0663\u0664\u0665\u0666\u0667",
          "4155551234\n", " +14155551234 ", "+14155551234x", "", "+", "+1(415)555-1234", "+2345678", "+23456789",
          "+234567890123456", "+2345678901234567", "\u00a04155551234", "+14155551234\n"]
URLS = ["http://127.0.0.1:9/x", "https://example.com", "http://0", "HTTP://A.b/c?d#e", "http://user:pw@h:80/p",
        "http://[::1]:8080/", "http://h:0", "http://h:65535/", "http://h:65536", "http://h:", "http://-a", "http:///x",
        "ftp://x", "http://h/ x", "http://h/\u00e9", "http://m\u00fcnchen.de", "https://", "", "http://h\r\n",
        "https://a-b.c_d~e/", "http://h:08080"]
TIMES = ["2027-01-01T00:00:00Z", "2027-01-01t00:00:00z", "2027-01-01 00:00:00", "2027-01-01T00:00:00.1234567Z",
         "2027-01-01T00:00:00+05:30", "2027-01-01T00:00:00+0530", "2027-01-01", "2027-01-01T00:00", "2024-02-29",
         "2023-02-29", "2000-02-29", "1900-02-29", "2027-04-31", "2027-12-31T23:59:59Z", "20270101T000000",
         "2027-01-01T24:00:00", "0000-01-01", "2027-13-01", "2027-01-01T00:00:00 ", " 2027-01-01", "2027-1-1",
         "2027-01-01T00:00:60Z"]
KEYS = ["sk_test_a", "sk_live_A-b_9", "sk_test_", "sk_prod_a", "sk_test_a b", "sk_test_" + "a" * 200,
        "sk_test_" + "a" * 201, "sk_test_a\n", "pk_test_a"]
EMAILS = ["a@b.co", "a@b", "a b@c.de", "@b.co", "a@@b.co", "a@b.c", "a@b.co\n"]


def accepts(check: Callable[[str], Any]) -> Callable[[str], bool]:
    def accepted(value: str) -> bool:
        try:
            check(value)
        except (Problem, ValueError, OverflowError):
            return False
        return True

    return accepted


def lookup(raw: str) -> None:
    entries = [part.strip(phones.BLANKS) for part in raw.split(",") if part.strip(phones.BLANKS)]
    if not 1 <= len(entries) <= 25:
        raise ValueError(raw)
    for entry in entries:
        phones.normalize(entry, "phoneNumbers")


def area_code(value: str) -> None:
    if phones.AREA_CODE.fullmatch(value) is None or value.endswith("11"):
        raise ValueError(value)


def email(value: str) -> None:
    from emulator.domain.contacts import EMAIL

    if EMAIL.fullmatch(value) is None:
        raise ValueError(value)


CASES = [
    ("e164", phones.E164_RULE, accepts(lambda v: phones.require_e164(v, "f")), PHONES),
    ("lenient", phones.LENIENT_RULE, accepts(lambda v: phones.normalize(v, "f")), PHONES),
    ("lookup", phones.LOOKUP_RULE, accepts(lookup),
     PHONES + [",".join(["4155551234"] * n) for n in (1, 25, 26)] + [",,+14155551234, ,", " , ", ",4155551234,"]),
    ("http", url_rule(), accepts(check_url), URLS),
    ("https", url_rule(https_only=True), accepts(lambda v: check_url(v, https_only=True)), URLS),
    ("time", ISO_RULE, accepts(parse_iso), TIMES),
    ("key", KEY_RULE, accepts(lambda v: None if is_key(v) else (_ for _ in ()).throw(ValueError(v))), KEYS),
    ("area code", phones.AREA_CODE_RULE, accepts(area_code), ["415", "211", "911", "011", "4155", "41", "a15", "410"]),
    ("email", EMAIL_RULE, accepts(email), EMAILS),
]


def ecma(rule: str) -> re.Pattern[str]:
    """The pattern as JSON Schema reads it: `$` is the end of the string (Python's also matches before a final
    newline), so it becomes `\\Z` outside character classes."""
    out, in_class, escaped = [], False, False
    for char in rule:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            out.append("\\Z")
            continue
        out.append(char)
    return re.compile("".join(out))


@pytest.mark.parametrize(("name", "rule", "accepted", "samples"), CASES, ids=[case[0] for case in CASES])
def test_each_pattern_accepts_what_its_check_accepts(name: str, rule: str, accepted: Callable[[str], bool],
                                                     samples: list[str]) -> None:
    pattern = ecma(rule)
    disagreements = [s for s in samples if (pattern.search(s) is not None) != accepted(s)]
    assert disagreements == [], f"{name}: the document and the code disagree on {disagreements!r}"
    assert any(accepted(s) for s in samples) and not all(accepted(s) for s in samples)


def keys_of(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from keys_of(value)
    elif isinstance(node, list):
        for value in node:
            yield from keys_of(value)


def test_the_document_speaks_json_schema(base_url: str) -> None:
    document = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
    words = set(keys_of(document["components"]["schemas"]))
    assert not words & {"ge", "le", "gt", "lt", "x-emulator-schema"}, words & {"ge", "le", "gt", "lt"}
    schemas = document["components"]["schemas"]
    assert schemas["InboundCall"]["properties"]["turns"]["anyOf"][0]["items"] == {"$ref": "#/components/schemas/Turn"}
    assert "null" not in str(schemas["UpdateAgent"]["properties"]["voiceMode"])
    assert schemas["ClockChange"]["oneOf"] == [{"required": ["advance"]}, {"required": ["set"]}]
    by_agent = document["paths"]["/v1/usage/by-agent"]["get"]["parameters"]
    assert {p["name"]: p["required"] for p in by_agent if "name" in p} == {"period": True, "tz": False}


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("GET", "/v1/location/refresh", "POST"),
    ("GET", "/v1/calls/web", "POST"),
    ("DELETE", "/v1/agents/voices", "GET, HEAD"),
])
def test_a_literal_path_answers_405_for_other_methods(api: httpx.Client, method: str, path: str, allow: str) -> None:
    response = api.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allow


@pytest.mark.parametrize(("params", "status"), [
    ({"limit": ""}, 400), ({"offset": ""}, 400), ({"limit": "5"}, 200), ({"search": ""}, 200),
])
def test_empty_integer_query_values_are_refused(api: httpx.Client, params: dict[str, str], status: int) -> None:
    assert api.get("/v1/contacts", params=params).status_code == status


@pytest.mark.parametrize("value", ["4\x0b", " 5", "5 ", "1_0", "\u0663", "+5", "5.0", "0x10"])
def test_an_integer_query_value_is_digits_as_json_writes_them(api: httpx.Client, value: str) -> None:
    refused = api.get("/v1/usage/monthly", params={"months": value})
    assert refused.status_code == 400 and "'months' must be an integer" in refused.json()["detail"], refused.text
    assert api.get("/v1/usage/monthly", params={"months": "3"}).status_code == 200
    assert api.get("/v1/contacts", params={"offset": "-0"}).status_code == 200


def test_integral_floats_are_integers(api: httpx.Client) -> None:
    made = api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "contextLimit": 5.0, "timeout": 30.0})
    assert made.status_code == 200, made.text
    assert made.json()["contextLimit"] == 5
    refused = api.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "contextLimit": 5.5})
    assert refused.status_code == 400


def test_explicit_nulls_the_document_forbids_are_refused(control: httpx.Client, key: str) -> None:
    assert control.post("/_emulator/reset", json={"key": None}).status_code == 400
    assert control.post("/_emulator/faults", json={"key": key, "status": 503, "webhook": None}).status_code == 400
    assert control.post("/_emulator/clock", json={"advance": 1, "set": None}).status_code == 400
