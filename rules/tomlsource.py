"""TOML documents that remember where each key was written.

tomllib gives values but no positions, and an admin fixing a config wants "rules.toml:41", not
"somewhere in rules[3]". This scans the text once for table headers and key lines and answers
the line of the longest known prefix of a key path. It never parses values: tomllib does that.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inbox.errors import ConfigError, Problem

KeyPath = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)


def _split_key(text: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


@dataclass
class TomlSource:
    """A parsed TOML file plus a map from key paths to 1-based line numbers."""

    path: str
    data: dict[str, Any]
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, key: Sequence[str | int]) -> int | None:
        probe = tuple(key)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return None

    def problem(self, key: Sequence[str | int], message: str) -> Problem:
        return Problem(self.path, format_key(key), message, self.line_of(key))


def format_key(key: Sequence[str | int]) -> str:
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _index_lines(text: str) -> dict[KeyPath, int]:
    lines: dict[KeyPath, int] = {}
    table: KeyPath = ()
    array_counts: dict[KeyPath, int] = {}
    in_multiline: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if in_multiline in line:
                in_multiline = None
            continue
        header = _HEADER.match(line)
        if header and "=" not in line.split("#", 1)[0].split("]", 1)[0]:
            names = tuple(_split_key(header.group(2)))
            if header.group(1) == "[[":
                index = array_counts.get(names, 0)
                array_counts[names] = index + 1
                table = (*names, index)
            else:
                table = _resolve(names, array_counts)
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            path = (*table, *_split_key(key.group(1)))
            lines.setdefault(path, number)
            rest = line[key.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) == 1:
                    in_multiline = quote
    return lines


def _resolve(names: tuple[str, ...], array_counts: dict[KeyPath, int]) -> KeyPath:
    """Map `[rules.when]` inside the last `[[rules]]` to ("rules", n, "when")."""
    out: list[str | int] = []
    for name in names:
        out.append(name)
        count = array_counts.get(tuple(p for p in out if isinstance(p, str)))
        if count:
            out.append(count - 1)
    return tuple(out)


def parse_toml(text: str, path: str = "<string>") -> TomlSource:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        match = re.search(r"line (\d+)", str(exc))
        if line is None and match:
            line = int(match.group(1))
        raise ConfigError([Problem(path, "", f"invalid TOML: {exc}", line)]) from None
    return TomlSource(path, data, _index_lines(text))


def load_toml(path: str | Path) -> TomlSource:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(path), "", f"cannot read: {exc}")]) from None
    return parse_toml(text, str(path))
