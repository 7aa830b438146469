"""Reading fixture files: a YAML or JSON file, or every such file in a directory (sorted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from emulator.errors import Invalid, Malformed

SUFFIXES = (".yaml", ".yml", ".json")


def parse_yaml(text: str, source: str) -> dict[str, Any]:
    """One fixture document from YAML (or JSON) text."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise Malformed(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise Invalid(f"{source}: a fixture must be a mapping with an 'accounts' list.")
    return data


def read(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """(source name, parsed document) for a file, or for every .yaml/.yml/.json in a directory (sorted)."""
    if not isinstance(path, str | Path):
        raise Invalid("Field 'path' must be a string: a fixture file or directory on the emulator's machine.")
    target = Path(path)
    try:
        files = sorted(p for p in target.iterdir() if p.suffix in SUFFIXES) if target.is_dir() else [target]
        texts = [(file, file.read_text()) for file in files]
    except (OSError, UnicodeDecodeError) as exc:
        raise Malformed(f"Cannot read the fixture at {path}: {exc.__class__.__name__}.") from None
    return [(str(file), parse_yaml(text, str(file))) for file, text in texts]
