"""Memristive device models: parameters (from cards) and arrays of cells.

Each kind registers its parameter class here; a card's ``kind`` selects it.
"""

from __future__ import annotations

from neuromem.devices.base import DeviceArray, DeviceParams
from neuromem.devices.physics import IonDriftDevice, VTEAMDevice
from neuromem.devices.pulse import PulseArray, PulseDevice, nonlinearity_to_a
from neuromem.exceptions import ConfigError
from neuromem.schema import closest

__all__ = ["DeviceParams", "DeviceArray", "PulseDevice", "PulseArray", "nonlinearity_to_a",
           "IonDriftDevice", "VTEAMDevice", "DEVICE_KINDS", "register_device_kind",
           "device_class"]

DEVICE_KINDS: dict[str, type[DeviceParams]] = {}


def register_device_kind(cls: type[DeviceParams]) -> type[DeviceParams]:
    """Register a device parameter class under its ``kind`` (lowercase; duplicates refused)."""
    name = cls.kind
    if not name or name != name.lower():
        raise ValueError(f"device kind must be a non-empty lowercase name, got {name!r}")
    if name in DEVICE_KINDS and DEVICE_KINDS[name] is not cls:
        raise ValueError(f"device kind {name!r} is already registered")
    DEVICE_KINDS[name] = cls
    return cls


def device_class(kind: str, *, file=None) -> type[DeviceParams]:
    try:
        return DEVICE_KINDS[kind]
    except KeyError:
        raise ConfigError(f"unknown device kind {kind!r}{closest(kind, DEVICE_KINDS)}; known: "
                          f"{', '.join(sorted(DEVICE_KINDS))}", file=file, key="kind") from None


register_device_kind(PulseDevice)
register_device_kind(IonDriftDevice)
register_device_kind(VTEAMDevice)
