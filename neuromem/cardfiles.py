"""Finding and reading card files: the built-in card folders and TOML parsing.

A leaf module (standard library and the errors only): :mod:`neuromem.cards` validates what
it reads, and tools above the models (device fitting, technology presets) read cards
through it without importing the models.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from neuromem.exceptions import ConfigError
from neuromem.schema import closest

__all__ = ["card_dirs", "list_cards", "find_card", "load_toml"]

_PACKAGE = Path(__file__).resolve().parent
_CARD_FOLDERS = ("synapse_models", "networks", "datasets")


def card_dirs(folder: str) -> list[Path]:
    """Folders holding built-in cards of one kind: the checkout's first, then the wheel's."""
    if folder not in _CARD_FOLDERS:
        raise ValueError(f"unknown card folder {folder!r}")
    dirs = []
    checkout = _PACKAGE.parent / folder
    if (_PACKAGE.parent / "pyproject.toml").is_file() and checkout.is_dir():
        dirs.append(checkout)
    packaged = _PACKAGE / "_cards" / folder
    if packaged.is_dir():
        dirs.append(packaged)
    return dirs


def list_cards(folder: str) -> dict[str, Path]:
    """Built-in card names (file stems) to paths; the checkout's copy wins."""
    found: dict[str, Path] = {}
    for d in reversed(card_dirs(folder)):
        for path in sorted(d.glob("*.toml")):
            found[path.stem] = path
    return dict(sorted(found.items()))


def find_card(name_or_path, folder: str) -> Path:
    """Resolve a built-in card name or a path to a TOML file."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if text.endswith(".toml") or path.parent != Path("."):
        if not path.is_file():
            raise ConfigError(f"card file not found: {path}")    # named by its referrer
        return path
    cards = list_cards(folder)
    if text in cards:
        return cards[text]
    kind = {"synapse_models": "device", "networks": "network", "datasets": "dataset"}[folder]
    raise ConfigError(f"unknown {kind} card {text!r}{closest(text, cards)}; built-in: "
                      f"{', '.join(cards) or 'none'} (or give a path to a .toml file)")


def load_toml(path) -> dict[str, Any]:
    """Parse a TOML file; syntax errors become ConfigError naming the file and line."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"not valid TOML: {err}", file=path) from None
    except OSError as err:
        raise ConfigError(f"cannot read card: {err.strerror}", file=path) from None
    except UnicodeDecodeError:
        raise ConfigError("not a UTF-8 text file", file=path) from None
