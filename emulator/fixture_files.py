"""Reading fixture files: a YAML or JSON file, or every such file in a directory (sorted).

A path a request names (`POST /_emulator/fixtures {"path": ...}`) is read only under the rules of
`requested`: inside the working directory or a `--fixtures` directory given at start (a `--fixtures`
file itself is allowed too), after following symlinks; no `..` segment; only .yaml/.yml/.json files.
Errors about a file so read never echo its contents: a YAML syntax error names the line and column,
and a document that is not a valid fixture says so without its values (`quiet`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from emulator.errors import Forbidden, Invalid, Malformed

SUFFIXES = (".yaml", ".yml", ".json")
MAX_PATH = 4096


def parse_yaml(text: str, source: str, quiet: bool = False) -> dict[str, Any]:
    """One fixture document from YAML (or JSON) text; `quiet` errors name the place, not the text."""
    import yaml  # here: a server started without fixtures never reads YAML

    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        if quiet:
            raise Malformed(f"{source}: not valid YAML{where}.") from None
        problem = getattr(exc, "problem", None) or "unreadable"
        raise Malformed(f"{source}: not valid YAML{where}: {problem}.") from None
    if not isinstance(data, dict):
        raise Invalid(f"{source}: a fixture must be a mapping with an 'accounts' list.")
    return data


def _files(target: Path) -> list[Path]:
    return sorted(p for p in target.iterdir() if p.suffix in SUFFIXES) if target.is_dir() else [target]


def _texts(path: str | Path, shown: str | Path) -> list[tuple[str, str]]:
    """(source name, text) of a file or of a directory's fixture files; sources are named from `shown`."""
    target = Path(path)
    try:
        files = _files(target)
        named = [(str(Path(shown) / f.name) if target.is_dir() else str(shown), f) for f in files]
        return [(name, file.read_text()) for name, file in named]
    except (OSError, UnicodeDecodeError) as exc:
        raise Malformed(f"Cannot read the fixture at {shown}: {exc.__class__.__name__}.") from None


def read(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """(source name, parsed document) for a file, or for every .yaml/.yml/.json in a directory (sorted)."""
    if not isinstance(path, str | Path):
        raise Invalid("Field 'path' must be a string: a fixture file or directory on the emulator's machine.")
    return [(source, parse_yaml(text, source)) for source, text in _texts(path, path)]


RULE = ("fixture paths must lie inside the emulator's working directory or a directory given with --fixtures at "
        "start, after following symlinks")


def _inside(resolved: Path, roots: list[Path], files: list[Path]) -> bool:
    return resolved in files or any(resolved.is_relative_to(root) for root in roots)


def requested(path: object, given: Iterable[str], cwd: Path | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The documents at a path a request names, read only if the path keeps the rules above (quietly)."""
    if not isinstance(path, str):
        raise Invalid("Field 'path' must be a string: a fixture file or directory on the emulator's machine.")
    if not path or len(path) > MAX_PATH or "\x00" in path:
        raise Invalid(f"Field 'path' must be a file or directory name of 1 to {MAX_PATH} characters.")
    if ".." in Path(path).parts:
        raise Forbidden(f"The fixture path {path!r} is refused: '..' is not allowed in fixture paths; {RULE}.")
    base = (cwd or Path.cwd()).resolve()
    starts = [(base / p).resolve() for p in given]
    roots = [base, *(p for p in starts if p.is_dir())]
    files = [p for p in starts if not p.is_dir()]
    target = (base / path).resolve()
    if not _inside(target, roots, files):
        raise Forbidden(f"The fixture path {path!r} is refused: {RULE}.")
    if not target.is_dir() and target.suffix not in SUFFIXES:
        raise Forbidden(f"The fixture path {path!r} is refused: fixture files end in {', '.join(SUFFIXES)}.")
    if target.is_dir():
        for file in _files(target):
            if not _inside(file.resolve(), roots, files):
                raise Forbidden(f"The fixture directory {path!r} is refused: {file.name} is a symlink leading "
                                f"elsewhere; {RULE}.")
    # Sources are named as the request named them, never by the server's absolute path.
    return [(source, parse_yaml(text, source, quiet=True)) for source, text in _texts(target, path)]
