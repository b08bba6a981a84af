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

from neuromem.cardfiles import card_dirs, find_card, list_cards, load_toml
from neuromem.devices import DeviceParams, device_class
from neuromem.exceptions import ConfigError
from neuromem.schema import build, closest

__all__ = ["DeviceCard", "card_dirs", "list_cards", "find_card", "load_toml", "load_device",
           "device_from_mapping"]

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


# --------------------------------------------------------------------------- network cards

_NETWORK_TOP_KEYS = {"name", "summary", "task", "device", "network", "neuron", "stdp", "data",
                     "features", "delta", "energy", "quick", "seed", "readout"}


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``KEY=VALUE`` (VALUE in TOML syntax; a bare word is a string)."""
    if "=" not in text:
        raise ConfigError(f"expected KEY=VALUE, got {text!r}", key="--set")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"expected a dotted key like network.n_exc, got {key!r}",
                          key="--set")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def apply_overrides(data: dict, overrides: dict[str, Any], *, file=None) -> tuple[dict, dict]:
    """Apply dotted-path overrides to a card's data; ``device.*`` ones are returned apart.

    Returns (new card data, device parameter overrides). ``device=NAME`` swaps the device
    card; ``device.KEY=V`` changes one of its parameters.
    """
    import copy
    data = copy.deepcopy(data)
    device_overrides: dict[str, Any] = {}
    for key, value in overrides.items():
        parts = key.split(".")
        if parts[0] == "device" and len(parts) > 1:
            device_overrides[".".join(parts[1:])] = value
            continue
        if parts[0] not in _NETWORK_TOP_KEYS:
            raise ConfigError(f"unknown section{closest(parts[0], _NETWORK_TOP_KEYS)}",
                              file=file, key=key)
        node = data
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{part!r} is not a table", file=file, key=key)
            node = child
        node[parts[-1]] = value
    return data, device_overrides


def resolve_device(spec, overrides: dict[str, Any] | None = None, *, file=None) -> DeviceCard:
    """A network card's ``device`` (name, path or inline table) with parameter overrides."""
    if isinstance(spec, dict):
        card = device_from_mapping(spec, file=file, name="inline")
    elif isinstance(spec, str):
        try:
            card = load_device(spec)
        except ConfigError as err:
            if err.file is not None or file is None:
                raise        # the device card itself is at fault: its error names it
            raise ConfigError(err.reason, file=file, key="device") from None
    else:
        raise ConfigError(f"expected a device card name, path or table, got {spec!r}",
                          file=file, key="device")
    if overrides:
        fields = {f.name for f in dataclasses.fields(card.params) if f.init}
        for key in overrides:
            if key not in fields:
                raise ConfigError(f"unknown {card.kind} device parameter{closest(key, fields)}",
                                  file=card.path, key=f"device.{key}")
        params = card.params.with_updates(**overrides)
        card = dataclasses.replace(card, params=params)
    return card


def load_network_data(name_or_path, overrides: dict[str, Any] | None = None,
                      quick: bool = False) -> tuple[dict, Path, dict]:
    """Load a network card's raw data with ``--quick`` and ``--set`` overrides applied.

    Returns (data, path, device overrides). Section validation is the task's job
    (:mod:`neuromem.tasks`), since each task has its own data section.
    """
    path = find_card(name_or_path, "networks")
    data = load_toml(path)
    for key in data:
        if key not in _NETWORK_TOP_KEYS:
            raise ConfigError(f"unknown top-level key{closest(key, _NETWORK_TOP_KEYS)}",
                              file=path, key=str(key))
    all_overrides: dict[str, Any] = {}
    if quick:
        q = data.get("quick", {})
        if not isinstance(q, dict):
            raise ConfigError("expected a table of dotted overrides", file=path, key="quick")
        all_overrides.update(q)
    all_overrides.update(overrides or {})
    data, device_overrides = apply_overrides(data, all_overrides, file=path)
    data.pop("quick", None)
    return data, path, device_overrides
