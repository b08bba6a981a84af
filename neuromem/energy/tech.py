"""Technology presets: per-operation energy constants, each with its source, from TOML.

A preset is one TOML file (``neuromem/tech/NAME.toml`` for the built-in ones, or any path).
Every constant is an inline table holding the published number, an optional divisor and the
source the number comes from::

    row_driver_J = { value = 0.41667e-12, source = "ISAAC ... 1-bit DAC ..." }
    neuron_update_J = { value = 5.1e-12, per = 64, source = "SpikeSim: LIF per PE cycle ..." }
    adc_J = { bits = [4, 8], value = [0.79e-12, 1.67e-12], source = "..." }

``per`` keeps a published aggregate verbatim (5.1 pJ per PE cycle of 64 neurons) and makes
the division explicit: the model uses ``value / per``. Resolution-dependent constants (ADC,
DAC) are tables over bits; :meth:`BitTable.at` interpolates and extrapolates them (see its
Notes). A source string that starts with ``assumption:`` marks a number that is a modelling
choice, not a measurement.

Layout of a preset (keys not listed here are refused, naming file and key)::

    name, summary, node_nm                       top level
    [source]   citation, doi, url, notes          where the preset as a whole comes from
    [spiking]  neuron ("analog" | "digital"), row_driver_J, neuron_update_J, spike_J,
               inhibition_J, event_bits, step_time_s (optional),
               adc_J, tile_rows (both required when neuron = "digital")
    [mac]      dac_J (bit table), adc_J (bit table), column_sense_J, shift_add_J,
               activation_J, output_bits, cycle_time_s (optional), adc_rate_Hz (optional)
    [buffer]   bit_J

What each constant is charged for is documented in :mod:`neuromem.energy`.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from neuromem.exceptions import ConfigError
from neuromem.schema import closest

__all__ = ["Constant", "BitTable", "SpikingTech", "MacTech", "TechPreset", "load_tech",
           "list_techs", "tech_from_mapping", "TECH_DIR", "NEURON_KINDS"]

#: Folder of the built-in presets (package data, present in a checkout and in a wheel).
TECH_DIR = Path(__file__).resolve().parent.parent / "tech"
NEURON_KINDS = ("analog", "digital")

_TOP_KEYS = {"name", "summary", "node_nm", "source", "spiking", "mac", "buffer"}
_SOURCE_KEYS = {"citation", "doi", "url", "notes"}


@dataclasses.dataclass(frozen=True)
class Constant:
    """One per-operation constant: ``value = published / per``, with its source.

    Attributes
    ----------
    value : float
        What the model charges per operation (J, s, Hz or a count; unit in the field name).
    published : float
        The number as published (e.g. energy per PE cycle of 64 neurons).
    per : float
        The divisor: operations the published number covers.
    source : str
    """

    value: float
    published: float
    per: float
    source: str


@dataclasses.dataclass(frozen=True)
class BitTable:
    """A constant that depends on resolution (bits): ADC conversion or DAC drive energy.

    Notes
    -----
    Between two tabulated resolutions the energy is interpolated linearly in ``log E``
    (a constant ratio per bit between the points). Outside the table it is extrapolated with
    a constant ratio per bit: ``per_bit_ratio`` when the preset gives one, else the ratio of
    the two nearest tabulated points, ``(E_2 / E_1) ** (1 / (b_2 - b_1))``. A table of one
    point needs ``per_bit_ratio``. SAR ADC energy grows slowly with bits at low resolution
    (comparator and logic dominated) and ~4x per bit once thermal noise dominates (Murmann's
    ADC survey, above ~10-12 bits): extrapolating far above the table is optimistic.
    """

    bits: tuple[int, ...]
    values: tuple[float, ...]
    per_bit_ratio: float | None
    per: float
    source: str

    def at(self, bits: int) -> float:
        """Energy (J) per operation at ``bits`` of resolution (see Notes)."""
        if isinstance(bits, bool) or not hasattr(bits, "__index__"):
            raise ConfigError(f"expected an integer number of bits, got {bits!r}", key="bits")
        b = int(bits)
        if b < 1:
            raise ConfigError(f"expected at least 1 bit, got {b}", key="bits")
        xs, ys = self.bits, self.values
        if b in xs:
            return ys[xs.index(b)]
        if xs[0] < b < xs[-1]:
            k = next(i for i in range(len(xs)) if xs[i] > b)
            lo, hi = k - 1, k
            frac = (b - xs[lo]) / (xs[hi] - xs[lo])
            return ys[lo] * (ys[hi] / ys[lo]) ** frac if ys[lo] > 0 else \
                ys[lo] + frac * (ys[hi] - ys[lo])
        end = 0 if b < xs[0] else len(xs) - 1
        ratio = self.per_bit_ratio
        if ratio is None:
            i, j = (0, 1) if end == 0 else (len(xs) - 2, len(xs) - 1)
            ratio = (ys[j] / ys[i]) ** (1.0 / (xs[j] - xs[i])) if ys[i] > 0 else 1.0
        return ys[end] * ratio ** (b - xs[end])


@dataclasses.dataclass(frozen=True)
class SpikingTech:
    """Constants of the event-driven (spiking) mode. See :mod:`neuromem.energy`."""

    neuron: str
    row_driver_J: Constant
    neuron_update_J: Constant
    spike_J: Constant
    inhibition_J: Constant
    event_bits: Constant
    step_time_s: Constant | None = None
    adc_J: Constant | None = None
    tile_rows: Constant | None = None


@dataclasses.dataclass(frozen=True)
class MacTech:
    """Constants of the MAC (DAC / crossbar / ADC) mode. See :mod:`neuromem.energy`."""

    dac_J: BitTable
    adc_J: BitTable
    column_sense_J: Constant
    shift_add_J: Constant
    activation_J: Constant
    output_bits: Constant
    cycle_time_s: Constant | None = None
    adc_rate_Hz: Constant | None = None


@dataclasses.dataclass(frozen=True)
class TechPreset:
    """A validated technology preset (frozen). Build with :func:`load_tech`."""

    name: str
    summary: str
    node_nm: float
    source: dict
    spiking: SpikingTech
    mac: MacTech
    buffer_bit_J: Constant
    path: Path | None = None

    def constants(self) -> dict[str, dict]:
        """Every constant as ``{"section.key": {"value", "published", "per", "source"}}``."""
        out = {}
        for section, obj in (("spiking", self.spiking), ("mac", self.mac)):
            for f in dataclasses.fields(obj):
                c = getattr(obj, f.name)
                if isinstance(c, Constant):
                    out[f"{section}.{f.name}"] = dataclasses.asdict(c)
                elif isinstance(c, BitTable):
                    out[f"{section}.{f.name}"] = {"bits": list(c.bits),
                                                  "value": list(c.values),
                                                  "per_bit_ratio": c.per_bit_ratio,
                                                  "source": c.source}
        out["buffer.bit_J"] = dataclasses.asdict(self.buffer_bit_J)
        return out


# ------------------------------------------------------------------------------ validation

def _number(value, *, file, key, positive=False, integer=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"expected a number, got {value!r}", file=file, key=key)
    if not math.isfinite(value):
        raise ConfigError(f"expected a finite number, got {value!r}", file=file, key=key)
    if positive and not value > 0:
        raise ConfigError(f"expected a value > 0, got {value!r}", file=file, key=key)
    if not positive and value < 0:
        raise ConfigError(f"expected a value >= 0, got {value!r}", file=file, key=key)
    if integer and value != int(value):
        raise ConfigError(f"expected a whole number, got {value!r}", file=file, key=key)
    return float(value)


def _source(table: dict, *, file, key) -> str:
    src = table.get("source")
    if not isinstance(src, str) or not src.strip():
        raise ConfigError("every constant needs a non-empty source string (where the number "
                          "comes from, or 'assumption: ...')", file=file, key=f"{key}.source")
    return src.strip()


def _check_keys(table: dict, allowed: set, *, file, key) -> None:
    for k in table:
        if k not in allowed:
            raise ConfigError(f"unknown key{closest(k, allowed)}; known keys: "
                              f"{', '.join(sorted(allowed))}", file=file,
                              key=f"{key}.{k}" if key else str(k))


def _constant(table, *, file, key, positive=False, integer=False) -> Constant:
    if not isinstance(table, dict):
        raise ConfigError(f"expected an inline table {{ value = ..., source = \"...\" }}, got "
                          f"{table!r}", file=file, key=key)
    _check_keys(table, {"value", "per", "source"}, file=file, key=key)
    if "value" not in table:
        raise ConfigError("missing 'value'", file=file, key=f"{key}.value")
    published = _number(table["value"], file=file, key=f"{key}.value", positive=positive,
                        integer=integer)
    per = _number(table.get("per", 1), file=file, key=f"{key}.per", positive=True)
    return Constant(published / per, published, per, _source(table, file=file, key=key))


def _bit_table(table, *, file, key) -> BitTable:
    if not isinstance(table, dict):
        raise ConfigError(f"expected an inline table {{ bits = [...], value = [...], source = "
                          f"\"...\" }}, got {table!r}", file=file, key=key)
    _check_keys(table, {"bits", "value", "per", "per_bit_ratio", "source"}, file=file, key=key)
    bits, values = table.get("bits"), table.get("value")
    if not isinstance(bits, list) or not bits:
        raise ConfigError(f"expected a non-empty list of resolutions, got {bits!r}",
                          file=file, key=f"{key}.bits")
    if not isinstance(values, list) or len(values) != len(bits):
        raise ConfigError(f"expected a list of {len(bits)} energies (one per entry of bits), "
                          f"got {values!r}", file=file, key=f"{key}.value")
    for b in bits:
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise ConfigError(f"expected whole numbers of bits >= 1, got {b!r}", file=file,
                              key=f"{key}.bits")
    if any(b2 <= b1 for b1, b2 in zip(bits, bits[1:])):
        raise ConfigError(f"bits must increase strictly, got {bits}", file=file,
                          key=f"{key}.bits")
    per = _number(table.get("per", 1), file=file, key=f"{key}.per", positive=True)
    vals = tuple(_number(v, file=file, key=f"{key}.value", positive=True) / per
                 for v in values)
    ratio = table.get("per_bit_ratio")
    if ratio is not None:
        ratio = _number(ratio, file=file, key=f"{key}.per_bit_ratio", positive=True)
    elif len(bits) == 1:
        raise ConfigError("a table of one resolution needs per_bit_ratio (energy ratio per "
                          "extra bit) to scale to other resolutions", file=file,
                          key=f"{key}.per_bit_ratio")
    return BitTable(tuple(bits), vals, ratio, per, _source(table, file=file, key=key))


def _section(data: dict, name: str, *, file) -> dict:
    if name not in data:
        raise ConfigError(f"missing the [{name}] table", file=file, key=name)
    section = data[name]
    if not isinstance(section, dict):
        raise ConfigError("expected a table", file=file, key=name)
    return section


def _fields(section: dict, cls, name: str, *, file, special: dict) -> dict:
    """Parse a section into keyword arguments of ``cls`` (Constant fields by default)."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    _check_keys(section, set(known), file=file, key=name)
    out = {}
    for fname, f in known.items():
        key = f"{name}.{fname}"
        if fname not in section:
            if f.default is dataclasses.MISSING:
                raise ConfigError("missing required key", file=file, key=key)
            continue
        parse = special.get(fname, _constant)
        out[fname] = parse(section[fname], file=file, key=key)
    return out


def _neuron_kind(value, *, file, key) -> str:
    if value not in NEURON_KINDS:
        raise ConfigError(f"expected one of {', '.join(map(repr, NEURON_KINDS))}, got "
                          f"{value!r}{closest(str(value), NEURON_KINDS)}", file=file, key=key)
    return value


def _count(table, *, file, key) -> Constant:
    return _constant(table, file=file, key=key, positive=True, integer=True)


def _positive(table, *, file, key) -> Constant:
    return _constant(table, file=file, key=key, positive=True)


def tech_from_mapping(data: dict, *, file=None, name: str | None = None) -> TechPreset:
    """Validate a preset's parsed TOML into a :class:`TechPreset` (errors name file and key)."""
    if not isinstance(data, dict):
        raise ConfigError("expected a table", file=file)
    _check_keys(data, _TOP_KEYS, file=file, key="")
    preset_name = data.get("name", name)
    if not isinstance(preset_name, str) or not preset_name or "/" in preset_name:
        raise ConfigError(f"expected a non-empty name without '/', got {preset_name!r}",
                          file=file, key="name")
    summary = data.get("summary", "")
    if not isinstance(summary, str):
        raise ConfigError(f"expected a string, got {summary!r}", file=file, key="summary")
    node = _number(data.get("node_nm", 0), file=file, key="node_nm")
    source = data.get("source", {})
    if not isinstance(source, dict):
        raise ConfigError("expected a table with citation, doi, ...", file=file, key="source")
    _check_keys(source, _SOURCE_KEYS, file=file, key="source")
    for k, v in source.items():
        if not isinstance(v, str):
            raise ConfigError(f"expected a string, got {v!r}", file=file, key=f"source.{k}")
    spk = _fields(_section(data, "spiking", file=file), SpikingTech, "spiking", file=file,
                  special={"neuron": _neuron_kind, "event_bits": _count,
                           "tile_rows": _count, "step_time_s": _positive})
    if spk["neuron"] == "digital":
        for key in ("adc_J", "tile_rows"):
            if key not in spk:
                raise ConfigError("a digital neuron converts its column current each step with "
                                  "input: give adc_J and tile_rows", file=file,
                                  key=f"spiking.{key}")
    mac = _fields(_section(data, "mac", file=file), MacTech, "mac", file=file,
                  special={"dac_J": _bit_table, "adc_J": _bit_table, "output_bits": _count,
                           "cycle_time_s": _positive, "adc_rate_Hz": _positive})
    buf = _fields(_section(data, "buffer", file=file), _Buffer, "buffer", file=file,
                  special={})
    return TechPreset(preset_name, summary, node, dict(source), SpikingTech(**spk),
                      MacTech(**mac), buf["bit_J"], Path(file) if file is not None else None)


@dataclasses.dataclass(frozen=True)
class _Buffer:
    bit_J: Constant


# -------------------------------------------------------------------------------- lookup

def list_techs() -> dict[str, Path]:
    """Built-in preset names (file stems) to paths, sorted."""
    return {p.stem: p for p in sorted(TECH_DIR.glob("*.toml"))}


def load_tech(name_or_path) -> TechPreset:
    """Load and validate a preset: a built-in name (``isaac_32nm``) or a path to a TOML file.

    Raises
    ------
    ConfigError
        Unknown name (with the closest built-in), unreadable or invalid TOML, or an invalid
        value; the message names the file and the dotted key.
    """
    if isinstance(name_or_path, TechPreset):
        return name_or_path
    from neuromem.cardfiles import load_toml

    text = str(name_or_path)
    path = Path(text).expanduser()
    if not (text.endswith(".toml") or path.parent != Path(".")):
        techs = list_techs()
        if text not in techs:
            raise ConfigError(f"unknown technology preset {text!r}{closest(text, techs)}; "
                              f"built-in: {', '.join(techs) or 'none'} (or give a path to a "
                              ".toml file)", key="tech")
        path = techs[text]
    elif not path.is_file():
        raise ConfigError(f"technology preset file not found: {path}", file=path)
    return tech_from_mapping(load_toml(path), file=path, name=path.stem)
