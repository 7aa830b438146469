"""URLs clients give the emulator (webhooks, media, images, tools): absolute http(s), nothing hidden in them.

The rule is one pattern, so the served OpenAPI document can state it exactly (emulator/wire/rules.py):
a scheme, a host name or an IPv4 or bracketed IPv6 address, an optional port (1 to 65535), optional user
information, then any path, query and fragment, with no spaces or control characters anywhere (a CR/LF
would split a header or a request line). Plain http is allowed unless `https_only`, because local targets
are the point of an emulator.
"""

from __future__ import annotations

import re

from emulator.errors import Invalid

MAX_URL = 2048
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_REST = r"[!#-~]*"  # printable ASCII but space, for userinfo, path, query and fragment
_AUTHORITY = (r"(?:[A-Za-z0-9\-._~%!$&'()*+,;=:]+@)?(?:[A-Za-z0-9](?:[A-Za-z0-9\-._~]*[A-Za-z0-9])?"
              r"|\[[0-9A-Fa-f:.]+\])" + rf"(?::{_PORT})?")


def url_rule(https_only: bool = False) -> str:
    scheme = "[Hh][Tt][Tt][Pp][Ss]" if https_only else "[Hh][Tt][Tt][Pp][Ss]?"  # no flags in a JSON Schema pattern
    return rf"^{scheme}://{_AUTHORITY}(?:[/?#]{_REST})?$"


_HTTP = re.compile(url_rule())
_HTTPS = re.compile(url_rule(https_only=True))


def check_url(url: str, field: str = "url", *, https_only: bool = False) -> str:
    """`url` if it keeps the rule above, else Invalid with a sentence naming the field."""
    if len(url) > MAX_URL:
        raise Invalid(f"Field '{field}' must be at most {MAX_URL} characters.")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise Invalid(f"Field '{field}' must not contain spaces or control characters (got {url!r}).")
    if (_HTTPS if https_only else _HTTP).fullmatch(url) is None:
        kind = "a public https://" if https_only else "an absolute http:// or https://"
        raise Invalid(f"Field '{field}' must be {kind} URL with a host (got {url!r}).")
    return url


def check_urls(urls: list[str], field: str) -> list[str]:
    return [check_url(url, f"{field}[{i}]") for i, url in enumerate(urls)]
