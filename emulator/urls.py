"""URLs clients give the emulator (webhooks, media, images, tools): absolute http(s), nothing hidden in them."""

from __future__ import annotations

from urllib.parse import urlsplit

from emulator.errors import Invalid

MAX_URL = 2048


def check_url(url: str, field: str = "url", *, https_only: bool = False) -> str:
    """An absolute http:// or https:// URL with a host. Spaces and control characters (a CR/LF that would
    split a header or a request line) are refused rather than stripped; plain http is allowed unless
    `https_only`, because local targets are the point of an emulator."""
    if len(url) > MAX_URL:
        raise Invalid(f"Field '{field}' must be at most {MAX_URL} characters.")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise Invalid(f"Field '{field}' must not contain spaces or control characters (got {url!r}).")
    schemes = ("https",) if https_only else ("http", "https")
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port  # both raise ValueError on a malformed authority
    except ValueError:
        raise Invalid(f"Field '{field}' is not a valid URL (got {url!r}).") from None
    if parts.scheme not in schemes or not parts.netloc or not host:
        kind = "a public https://" if https_only else "an absolute http:// or https://"
        raise Invalid(f"Field '{field}' must be {kind} URL (got {url!r}).")
    return url


def check_urls(urls: list[str], field: str) -> list[str]:
    return [check_url(url, f"{field}[{i}]") for i, url in enumerate(urls)]
