"""Crossbar configuration: mapping, tiling and periphery choices, validated like a card."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from neuromem.crossbar.irdrop import IR_DROP_METHODS
from neuromem.exceptions import ConfigError
from neuromem.schema import at_least, nonnegative, param, positive

__all__ = ["CrossbarConfig", "MAPPINGS", "OFFSET_REFERENCES", "DAC_MODES", "ADC_RANGES",
           "COUNT_KEYS", "tile_bounds"]

MAPPINGS = ("differential", "offset")
OFFSET_REFERENCES = ("mid", "min")
DAC_MODES = ("multibit", "bit_serial")
ADC_RANGES = ("calibrated", "worst_case", "fixed")

#: Keys of the event-count dict returned by :meth:`Crossbar.mac`.
COUNT_KEYS = ("cycles", "dac_drives", "cell_reads", "tile_reads", "adc_conversions",
              "shift_adds", "tiles_used")

_MAX_DAC_BITS = 24
_MAX_ADC_BITS = 32


@dataclasses.dataclass(frozen=True, kw_only=True)
class CrossbarConfig:
    """How weights sit in crossbar tiles and how the periphery reads them.

    Construction validates every field (``ConfigError`` naming the key); the same checks run
    when a card's table is built with :func:`neuromem.schema.build`.
    """

    mapping: str = param("differential", kind=str, choices=MAPPINGS,
                         doc="signed weights as a differential pair G+ - G-, or one device "
                             "minus a reference column")
    offset_reference: str = param("mid", kind=str, choices=OFFSET_REFERENCES,
                                  doc="offset mapping's reference conductance: mid-window "
                                      "(signed weights) or g_min (weights >= 0)")
    tile_rows: int = param(128, kind=int, check=at_least(1), doc="rows (inputs) per tile")
    tile_cols: int = param(128, kind=int, check=at_least(1),
                           doc="data columns (outputs) per tile")
    w_max: float | None = param(optional=True, check=positive,
                                doc="weight magnitude mapped to the full conductance window "
                                    "(None: max |W| of the programmed matrix)")
    r_wire_Ohm: float | None = param(optional=True, unit="Ohm", check=nonnegative,
                                     doc="wire resistance per cell segment, row and column "
                                         "(None: the device card's r_wire_Ohm; 0: ideal)")
    ir_drop_method: str = param("iterative", kind=str, choices=IR_DROP_METHODS,
                                doc="IR-drop solver: numba line relaxation or sparse direct")
    v_read_V: float | None = param(optional=True, unit="V", check=positive,
                                   doc="full-scale read voltage (None: the device card's)")
    dac_bits: int | None = param(8, kind=int, optional=True, check=at_least(1),
                                 doc="input DAC magnitude bits (None: ideal analog drive)")
    dac_mode: str = param("bit_serial", kind=str, choices=DAC_MODES,
                          doc="multi-level drive in one cycle, or one bit per cycle")
    adc_bits: int | None = param(8, kind=int, optional=True, check=at_least(1),
                                 doc="ADC bits per tile column (None: ideal, no quantisation)")
    adc_range: str = param("calibrated", kind=str, choices=ADC_RANGES,
                           doc="ADC full scale: from the programmed tile, the worst case of "
                               "any weights, or adc_full_scale_A")
    adc_full_scale_A: float | None = param(optional=True, unit="A", check=positive,
                                           doc="ADC full-scale current |I| when "
                                               "adc_range = 'fixed'")
    adc_share: int = param(8, kind=int, check=at_least(1),
                           doc="columns sharing one ADC (time-multiplexed)")

    def __post_init__(self):
        self.check()

    def check(self) -> None:
        """Validate every field and their combinations (raises ``ConfigError(key=...)``)."""
        for f in dataclasses.fields(self):
            _check_field(f, getattr(self, f.name))
        if self.dac_bits is not None and self.dac_bits > _MAX_DAC_BITS:
            raise ConfigError(f"expected at most {_MAX_DAC_BITS} bits, got {self.dac_bits}",
                              key="dac_bits")
        if self.adc_bits is not None and self.adc_bits > _MAX_ADC_BITS:
            raise ConfigError(f"expected at most {_MAX_ADC_BITS} bits, got {self.adc_bits}",
                              key="adc_bits")
        if self.dac_mode == "bit_serial" and self.dac_bits is None:
            raise ConfigError("bit_serial drive needs dac_bits (the number of cycles)",
                              key="dac_bits")
        if self.adc_range == "fixed" and self.adc_full_scale_A is None:
            raise ConfigError("adc_range = 'fixed' needs adc_full_scale_A",
                              key="adc_full_scale_A")
        if self.adc_range != "fixed" and self.adc_full_scale_A is not None:
            raise ConfigError(f"adc_full_scale_A is only used with adc_range = 'fixed' "
                              f"(adc_range is {self.adc_range!r})", key="adc_full_scale_A")

    @property
    def adcs_per_tile(self) -> int:
        """ADCs of a full tile: ``ceil(tile_cols / adc_share)``."""
        return -(-self.tile_cols // self.adc_share)


def _check_field(f: dataclasses.Field, value) -> None:
    meta, key = f.metadata, f.name
    if value is None:
        if meta.get("optional"):
            return
        raise ConfigError("a value is required", key=key)
    kind = meta["kind"]
    if isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"expected a {kind.__name__}, got {value!r}", key=key)
    if kind is int and not isinstance(value, (int, np.integer)):
        raise ConfigError(f"expected an integer, got {value!r}", key=key)
    if kind is float and (not isinstance(value, (int, float, np.floating, np.integer))
                          or not math.isfinite(value)):
        raise ConfigError(f"expected a finite number, got {value!r}", key=key)
    if kind is str and not isinstance(value, str):
        raise ConfigError(f"expected a string, got {value!r}", key=key)
    if meta.get("choices") is not None and value not in meta["choices"]:
        raise ConfigError(f"expected one of {', '.join(map(repr, meta['choices']))}, got "
                          f"{value!r}", key=key)
    problem = meta["check"](value) if meta.get("check") else None
    if problem:
        raise ConfigError(f"expected {problem}, got {value!r}", key=key)


def tile_bounds(n: int, size: int) -> list[slice]:
    return [slice(a, min(a + size, n)) for a in range(0, n, size)]
