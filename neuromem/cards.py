"""Find, load and validate cards (TOML files) into frozen dataclasses.

Built-in cards live in the top-level folders ``synapse_models/``, ``networks/`` and
``datasets/`` of a checkout; a wheel carries them under ``neuromem/_cards/``. A name is looked
up there; a path to a ``.toml`` file loads a user's own card.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from neuromem.devices import DeviceParams, device_class
from neuromem.exceptions import ConfigError
from neuromem.schema import build, closest

__all__ = ["DeviceCard", "card_dirs", "list_cards", "find_card", "load_toml", "load_device",
           "device_from_mapping"]

_PACKAGE = Path(__file__).resolve().parent
_CARD_FOLDERS = ("synapse_models", "networks", "datasets")

#: Keys a device card may have at top level and in its [source] table.
_DEVICE_TOP_KEYS = {"name", "kind", "summary", "source", "parameters"}
_SOURCE_KEYS = {"citation", "doi", "url", "figures", "notes"}


@dataclasses.dataclass(frozen=True)
class DeviceCard:
    """A device card: what the device is, where its numbers come from, and its model."""

    name: str
    kind: str
    summary: str
    source: dict
    params: DeviceParams
    path: Path | None = None

    def to_dict(self) -> dict:
        """The fully resolved card as plain data (for provenance and JSON)."""
        from neuromem.schema import to_plain
        return {"name": self.name, "kind": self.kind, "summary": self.summary,
                "source": dict(self.source), "parameters": to_plain(self.params)}


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
            raise ConfigError(f"card file not found: {path}", file=path)
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


def device_from_mapping(data: dict, *, file=None, name: str | None = None) -> DeviceCard:
    """Validate a device card's contents (as parsed from TOML) into a :class:`DeviceCard`."""
    if not isinstance(data, dict):
        raise ConfigError("expected a table", file=file)
    for key in data:
        if key not in _DEVICE_TOP_KEYS:
            raise ConfigError(f"unknown top-level key{closest(key, _DEVICE_TOP_KEYS)}; expected "
                              f"{', '.join(sorted(_DEVICE_TOP_KEYS))}", file=file, key=str(key))
    kind = data.get("kind")
    if not isinstance(kind, str):
        raise ConfigError(f"expected a device kind string, got {kind!r}", file=file, key="kind")
    cls = device_class(kind, file=file)
    card_name = data.get("name", name)
    if not isinstance(card_name, str) or not card_name:
        raise ConfigError(f"expected a non-empty string, got {card_name!r}", file=file,
                          key="name")
    summary = data.get("summary", "")
    if not isinstance(summary, str):
        raise ConfigError(f"expected a string, got {summary!r}", file=file, key="summary")
    source = data.get("source", {})
    if not isinstance(source, dict):
        raise ConfigError("expected a table with citation, doi, ...", file=file, key="source")
    for key, value in source.items():
        if key not in _SOURCE_KEYS:
            raise ConfigError(f"unknown key{closest(key, _SOURCE_KEYS)}; expected "
                              f"{', '.join(sorted(_SOURCE_KEYS))}", file=file,
                              key=f"source.{key}")
        if not isinstance(value, str):
            raise ConfigError(f"expected a string, got {value!r}", file=file,
                              key=f"source.{key}")
    if "parameters" not in data:
        raise ConfigError("missing the [parameters] table", file=file, key="parameters")
    params = build(cls, data["parameters"], file=file, section="parameters")
    return DeviceCard(card_name, kind, summary, dict(source), params,
                      Path(file) if file is not None else None)


def load_device(name_or_path) -> DeviceCard:
    """Load and validate a device card by built-in name or path."""
    path = find_card(name_or_path, "synapse_models")
    return device_from_mapping(load_toml(path), file=path, name=path.stem)
