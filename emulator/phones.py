"""Phone numbers: E.164 checks and the generator of valid-looking NANP numbers."""

from __future__ import annotations

import re

from emulator import ids
from emulator.errors import Invalid, Refused

# Patterns that guard input are matched whole (fullmatch), in ASCII digits. The served OpenAPI document
# states the same rules (emulator/wire/rules.py), so what it calls valid is what is accepted.
E164 = re.compile(r"\+[1-9][0-9]{7,14}")
# E.164 as accepted (a +1 number has exactly 10 digits after the 1).
E164_RULE = r"^\+(?:1[0-9]{10}|[2-9][0-9]{7,14})$"
# What `normalize` accepts: the same with separators (spaces, dots, dashes, brackets) anywhere, or 10 digits
# (a North American number without +1), or 11 starting with 1.
_S = r"[ \t\n\r\f\v().\-]*"
_LENIENT = (rf"{_S}(?:(?:1{_S})?(?:[0-9]{_S}){{10}}|\+{_S}(?:1{_S}(?:[0-9]{_S}){{10}}"
            rf"|[2-9]{_S}(?:[0-9]{_S}){{7,14}}))")
LENIENT_RULE = f"^{_LENIENT}$"
# A lookup list: 1 to 25 such numbers, comma-separated; blank entries are skipped.
_BLANK = r"[ \t\n\r\f\v]*"
LOOKUP_RULE = rf"^(?:{_BLANK},)*{_LENIENT}(?:,(?:{_BLANK},)*{_LENIENT}){{0,24}}(?:,{_BLANK})*$"
BLANKS = " \t\n\r\f\v"
AREA_CODE = re.compile(r"[2-9][0-9]{2}")
AREA_CODE_RULE = "^[2-9](?:[02-9][0-9]|1[02-9])$"  # three digits, not N11
COUNTRY_RULE = "^(?:[Uu][Ss]|[Cc][Aa])$"
_SEPARATORS = re.compile(r"[ \t\n\r\f\v().\-]")

# Canadian area codes (NANP). Everything else of the right shape is treated as US.
CA_AREA_CODES = frozenset(
    "204 226 236 249 250 257 263 289 306 343 354 365 367 368 382 403 416 418 428 431 437 438 450 "
    "460 468 474 506 514 519 548 579 581 584 587 604 613 639 647 672 683 705 709 742 753 778 780 "
    "782 807 819 825 867 873 879 902 905".split()
)
US_DEFAULT_AREA_CODES = ("415", "212", "312", "206", "512", "617", "303", "404", "213", "646")
CA_DEFAULT_AREA_CODES = ("416", "604", "514", "403", "613")
COUNTRIES = ("US", "CA")


def is_e164(value: str) -> bool:
    return E164.fullmatch(value) is not None


def require_e164(value: object, field: str) -> str:
    """Accept only a strict E.164 string (`+` and 8-15 digits); +1 numbers need 10 digits."""
    if not isinstance(value, str) or not is_e164(value):
        raise Invalid(
            f"Field '{field}' must be a phone number in E.164 format, like +14155551234 (got {value!r})."
        )
    if value.startswith("+1") and len(value) != 12:
        raise Invalid(f"Field '{field}' is not a valid North American number: +1 must be followed by 10 digits.")
    return value


def normalize(value: object, field: str) -> str:
    """Lenient form used where the vendor normalises: strips separators, assumes +1 for 10 digits."""
    if not isinstance(value, str):
        raise Invalid(f"Field '{field}' must be a phone number string.")
    text = _SEPARATORS.sub("", value)
    if text.isascii() and text.isdigit():
        if len(text) == 10:
            text = "+1" + text
        elif len(text) == 11 and text.startswith("1"):
            text = "+" + text
    return require_e164(text, field)


def country_of(e164: str) -> str:
    if e164.startswith("+1") and len(e164) == 12:
        return "CA" if e164[2:5] in CA_AREA_CODES else "US"
    return "INTL"


def check_area_code(area_code: str, country: str) -> None:
    if AREA_CODE.fullmatch(area_code) is None or area_code.endswith("11"):
        raise Invalid(
            f"Field 'areaCode' must be a 3-digit North American area code, like 415 (got {area_code!r})."
        )
    if country == "CA" and area_code not in CA_AREA_CODES:
        raise Refused(f"Area code {area_code} is not a Canadian area code; choose one in CA or set country to US.")
    if country == "US" and area_code in CA_AREA_CODES:
        raise Refused(f"Area code {area_code} is Canadian; set country to CA to buy a number there.")


def generate(country: str, area_code: str | None) -> str:
    """A random number in the area code: exchange 2xx-9xx (not N11, not 555), any line."""
    rng = ids.plain_rng()
    if area_code is None:
        area_code = rng.choice(CA_DEFAULT_AREA_CODES if country == "CA" else US_DEFAULT_AREA_CODES)
    while True:
        exchange = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
        if exchange[1:] != "11" and exchange != "555":
            break
    line = f"{rng.randint(0, 9999):04d}"
    return f"+1{area_code}{exchange}{line}"


# Where an area code is: (city, state or province, latitude, longitude). Used for available
# numbers and simulated locations; codes not listed have no known place.
AREA_INFO: dict[str, tuple[str, str, float, float]] = {
    "212": ("New York", "NY", 40.7128, -74.0060),
    "646": ("New York", "NY", 40.7831, -73.9712),
    "213": ("Los Angeles", "CA", 34.0522, -118.2437),
    "415": ("San Francisco", "CA", 37.7749, -122.4194),
    "312": ("Chicago", "IL", 41.8781, -87.6298),
    "206": ("Seattle", "WA", 47.6062, -122.3321),
    "512": ("Austin", "TX", 30.2672, -97.7431),
    "617": ("Boston", "MA", 42.3601, -71.0589),
    "303": ("Denver", "CO", 39.7392, -104.9903),
    "404": ("Atlanta", "GA", 33.7490, -84.3880),
    "305": ("Miami", "FL", 25.7617, -80.1918),
    "702": ("Las Vegas", "NV", 36.1699, -115.1398),
    "416": ("Toronto", "ON", 43.6532, -79.3832),
    "604": ("Vancouver", "BC", 49.2827, -123.1207),
    "514": ("Montreal", "QC", 45.5017, -73.5673),
    "403": ("Calgary", "AB", 51.0447, -114.0719),
    "613": ("Ottawa", "ON", 45.4215, -75.6972),
}


def place_of(e164: str) -> tuple[str, str, float, float] | None:
    if e164.startswith("+1") and len(e164) == 12:
        return AREA_INFO.get(e164[2:5])
    return None


def line_type(e164: str) -> str:
    """Simulated line type, stable per number: mostly mobile, some landline and VoIP."""
    return ("mobile", "mobile", "mobile", "landline", "voip")[int(e164[-2:]) % 5]
