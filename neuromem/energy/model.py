"""The energy and latency model of both modes: counted events x per-operation constants.

See :mod:`neuromem.energy` for what each component charges and the latency model.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from neuromem.crossbar import COUNT_KEYS, DAC_MODES
from neuromem.devices import DeviceParams
from neuromem.energy.tech import TechPreset, load_tech
from neuromem.events import EVENT_NAMES
from neuromem.exceptions import ConfigError

__all__ = ["ConductanceStats", "EnergyReport", "conductance_stats", "conductance_stats_of",
           "spiking_energy", "mac_energy", "drive_v2_fraction", "uniform_drive_v2_fraction",
           "SPIKING_COMPONENTS", "MAC_COMPONENTS", "device_params"]

#: Components of a spiking report, in display order (digital-neuron ones only when used).
SPIKING_COMPONENTS = ("row_drivers", "cell_reads", "neurons", "neuron_adc", "partial_sums",
                      "spikes", "inhibition", "spike_routing", "writes")
#: Components of a MAC report, in display order.
MAC_COMPONENTS = ("dac", "cell_reads", "adc", "column_sense", "shift_add", "buffer",
                  "activation")
_MAPPINGS = ("single", "differential")
_REQUIRED_EVENTS = ("input_spikes", "row_activations", "cells_read", "neuron_updates",
                    "output_spikes", "steps")


# ------------------------------------------------------------------------- conductances

@dataclasses.dataclass(frozen=True)
class ConductanceStats:
    """The conductances reads and writes are charged at.

    Parameters
    ----------
    mean_read_S : float (S)
        Mean conductance of the cells one row activation reads: the row's data cells and,
        with one device per synapse, its reference cell (the engine counts ``n_out + 1``
        cells per activation; ``2 n_out`` for a differential pair).
    mean_write_S : float (S), optional
        Mean conductance of the programmed cells, for write pulses (default ``mean_read_S``).
    mapping : {"single", "differential"}
        How synapses map to devices (decides how pulses split into SET and RESET).
    row_read_S : ndarray (n_in,), optional
        Per row, the summed conductance of the cells one activation of that row reads.
    row_activations : ndarray (n_in,), optional
        Activations per row (counts or expectations). With ``row_read_S`` the read energy
        weights each row's conductance by how often it was read (see :meth:`read_S`).
    cells_per_row : int, optional
        Cells summed in each ``row_read_S`` entry (default: what the events imply).
    """

    mean_read_S: float
    mean_write_S: float | None = None
    mapping: str = "single"
    row_read_S: np.ndarray | None = None
    row_activations: np.ndarray | None = None
    cells_per_row: int | None = None

    def __post_init__(self):
        for key in ("mean_read_S", "mean_write_S"):
            v = getattr(self, key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float,
                                                                            np.floating))
                                  or not math.isfinite(v) or v < 0):
                raise ConfigError(f"expected a conductance >= 0 (S), got {v!r}", key=key)
        if self.mapping not in _MAPPINGS:
            raise ConfigError(f"expected one of {_MAPPINGS}, got {self.mapping!r}",
                              key="mapping")
        if self.cells_per_row is not None and (isinstance(self.cells_per_row, bool) or
                                               int(self.cells_per_row) != self.cells_per_row
                                               or self.cells_per_row < 1):
            raise ConfigError(f"expected a whole number of cells >= 1, got "
                              f"{self.cells_per_row!r}", key="cells_per_row")
        if (self.row_read_S is None) != (self.row_activations is None):
            raise ConfigError("give both row_read_S and row_activations, or neither",
                              key="row_activations")
        if self.row_read_S is not None:
            r = np.asarray(self.row_read_S, dtype=np.float64)
            a = np.asarray(self.row_activations, dtype=np.float64)
            if r.shape != a.shape or r.ndim != 1:
                raise ConfigError(f"row_read_S {r.shape} and row_activations {a.shape} must be "
                                  "1-D of the same length", key="row_activations")
            if not (np.all(np.isfinite(r)) and np.all(r >= 0) and np.all(np.isfinite(a))
                    and np.all(a >= 0)):
                raise ConfigError("row conductances and activations must be finite and >= 0",
                                  key="row_activations")

    def read_S(self, cells_per_row: float | None = None) -> float:
        """Conductance charged per cell read (S).

        With per-row data: ``sum_i a_i R_i / (sum_i a_i * cells_per_row)``, the mean over
        the cells actually read (row ``i`` read ``a_i`` times, ``R_i`` the summed conductance
        of its cells, ``cells_per_row`` this object's own or else the argument); otherwise
        ``mean_read_S``.
        """
        cells_per_row = self.cells_per_row or cells_per_row
        if self.row_read_S is None or cells_per_row is None or cells_per_row <= 0:
            return float(self.mean_read_S)
        a = np.asarray(self.row_activations, dtype=np.float64)
        if a.sum() <= 0:
            return float(self.mean_read_S)
        r = np.asarray(self.row_read_S, dtype=np.float64)
        return float((a * r).sum() / (a.sum() * cells_per_row))

    @property
    def write_S(self) -> float:
        return float(self.mean_read_S if self.mean_write_S is None else self.mean_write_S)

    def to_dict(self) -> dict:
        out = {"mean_read_S": float(self.mean_read_S), "mean_write_S": self.write_S,
               "mapping": self.mapping}
        if self.row_read_S is not None:
            out["row_read_S"] = np.asarray(self.row_read_S, dtype=np.float64).tolist()
            out["row_activations"] = np.asarray(self.row_activations,
                                                dtype=np.float64).tolist()
            if self.cells_per_row is not None:
                out["cells_per_row"] = int(self.cells_per_row)
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> "ConductanceStats":
        """From ``{"mean_read_S", ["mean_write_S", "mapping", "row_read_S",
        "row_activations", "cells_per_row"]}`` (the energy-inputs contract)."""
        known = {"mean_read_S", "mean_write_S", "mapping", "row_read_S", "row_activations",
                 "cells_per_row"}
        for k in data:
            if k not in known:
                raise ConfigError(f"unknown key; known: {', '.join(sorted(known))}",
                                  key=f"conductance.{k}")
        if "mean_read_S" not in data:
            raise ConfigError("missing the mean conductance per cell read",
                              key="conductance.mean_read_S")
        rows = data.get("row_read_S")
        acts = data.get("row_activations")
        return cls(float(data["mean_read_S"]),
                   None if data.get("mean_write_S") is None else float(data["mean_write_S"]),
                   data.get("mapping", "single"),
                   None if rows is None else np.asarray(rows, dtype=np.float64),
                   None if acts is None else np.asarray(acts, dtype=np.float64),
                   None if data.get("cells_per_row") is None else int(data["cells_per_row"]))


def conductance_stats(g_pos_S, g_neg_S=None, *, g_ref_S=None,
                      row_activations=None) -> ConductanceStats:
    """Read and write conductances of an array, as the event counters count cells.

    Parameters
    ----------
    g_pos_S : array_like (n_in, n_out), S
        The data devices (G+ of a differential pair, or the single device).
    g_neg_S : array_like (n_in, n_out), S, optional
        G- of a differential pair: each row activation reads ``2 n_out`` cells.
    g_ref_S : float or array_like (n_in, k), S
        Reference cell(s) read with each row when there is no ``g_neg_S`` (``CrossbarLayer``:
        one at ``g_min``; ``Crossbar`` offset mode: one per column tile): each activation
        reads ``n_out + k`` cells.
    row_activations : array_like (n_in,), optional
        Activations per row, to weight the rows (e.g. input spike counts per input).
    """
    g = np.asarray(g_pos_S, dtype=np.float64)
    if g.ndim != 2:
        raise ConfigError(f"expected conductances of shape (n_in, n_out), got {g.shape}",
                          key="g_pos_S")
    if g_neg_S is not None:
        gn = np.asarray(g_neg_S, dtype=np.float64)
        if gn.shape != g.shape:
            raise ConfigError(f"G- {gn.shape} differs from G+ {g.shape}", key="g_neg_S")
        row = g.sum(axis=1) + gn.sum(axis=1)
        cells = 2 * g.shape[1]
        write = float(np.concatenate([g.ravel(), gn.ravel()]).mean())
        mapping = "differential"
    else:
        if g_ref_S is None:
            raise ConfigError("one device per synapse is read against a reference cell: give "
                              "g_ref_S", key="g_ref_S")
        ref = np.asarray(g_ref_S, dtype=np.float64)
        if ref.ndim == 0:
            ref = np.full((g.shape[0], 1), float(ref))
        elif ref.ndim == 1:
            ref = ref.reshape(-1, 1)
        if ref.ndim != 2 or ref.shape[0] != g.shape[0]:
            raise ConfigError(f"expected one or more reference cells per row ({g.shape[0]} "
                              f"rows), got shape {ref.shape}", key="g_ref_S")
        row = g.sum(axis=1) + ref.sum(axis=1)
        cells = g.shape[1] + ref.shape[1]
        write = float(g.mean())
        mapping = "single"
    acts = None
    if row_activations is not None:
        acts = np.asarray(row_activations, dtype=np.float64).ravel()
        if acts.shape != (g.shape[0],):
            raise ConfigError(f"expected {g.shape[0]} row activations, got {acts.shape}",
                              key="row_activations")
    return ConductanceStats(float(row.mean() / cells), write, mapping,
                            row if acts is not None else None, acts, cells)


def conductance_stats_of(array, row_activations=None) -> ConductanceStats:
    """:func:`conductance_stats` of a :class:`~neuromem.layers.CrossbarLayer` or a
    :class:`~neuromem.crossbar.Crossbar` (noise-free conductances)."""
    if hasattr(array, "kernel_args"):                  # CrossbarLayer
        neg = array.neg.conductance_S if array.neg is not None else None
        return conductance_stats(array.pos.conductance_S, neg, g_ref_S=array.g_ref_S,
                                 row_activations=row_activations)
    if hasattr(array, "conductances"):                 # Crossbar
        gs = array.conductances()
        if array.config.mapping == "differential":
            return conductance_stats(gs[0], gs[1], row_activations=row_activations)
        return conductance_stats(gs[0], g_ref_S=gs[1], row_activations=row_activations)
    raise ConfigError(f"expected a CrossbarLayer or Crossbar, got {type(array).__name__}",
                      key="array")


def _stats(conductance) -> ConductanceStats:
    if isinstance(conductance, ConductanceStats):
        return conductance
    if isinstance(conductance, Mapping):
        return ConductanceStats.from_dict(conductance)
    if isinstance(conductance, (int, float, np.floating)) and not isinstance(conductance,
                                                                             bool):
        return ConductanceStats(float(conductance))
    return conductance_stats_of(conductance)


def device_params(device) -> DeviceParams:
    """Device parameters from parameters, a device card or a card's dict."""
    if isinstance(device, DeviceParams):
        return device
    if isinstance(getattr(device, "params", None), DeviceParams):
        return device.params
    if isinstance(device, Mapping):
        from neuromem.cards import device_from_mapping
        return device_from_mapping(dict(device), name="energy_inputs").params
    raise ConfigError(f"expected device parameters, a device card or its dict, got "
                      f"{type(device).__name__}", key="device")


def _tech(tech) -> TechPreset:
    return tech if isinstance(tech, TechPreset) else load_tech(tech)


def _counts(counts, names, required, what: str) -> dict[str, float]:
    if not isinstance(counts, Mapping):
        raise ConfigError(f"expected a dict of {what}, got {type(counts).__name__}", key=what)
    out = {}
    for k, v in counts.items():
        if k not in names:
            raise ConfigError(f"unknown count; known: {', '.join(names)}", key=f"{what}.{k}")
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not math.isfinite(v) or v < 0:
            raise ConfigError(f"expected a count >= 0, got {v!r}", key=f"{what}.{k}")
        out[k] = float(v)
    for k in required:
        if k not in out:
            raise ConfigError("missing count", key=f"{what}.{k}")
    for k in names:
        out.setdefault(k, 0.0)
    return out


def _n(n_inferences) -> int:
    if isinstance(n_inferences, bool) or not isinstance(n_inferences, (int, np.integer)) \
            or n_inferences < 1:
        raise ConfigError(f"expected a whole number of inferences >= 1, got {n_inferences!r}",
                          key="n_inferences")
    return int(n_inferences)


# ------------------------------------------------------------------------------- report

@dataclasses.dataclass(frozen=True)
class EnergyReport:
    """Energy and latency of one mode, per inference.

    Attributes
    ----------
    mode : {"spiking", "mac"}
    tech : str
        Name of the technology preset.
    n_inferences : int
        Inferences (samples) the counts were summed over.
    breakdown_J : dict of str to float (J)
        Energy per inference by component (see :data:`SPIKING_COMPONENTS`,
        :data:`MAC_COMPONENTS` and :mod:`neuromem.energy`).
    latency_s : float (s) or None
        Latency per inference (model in :mod:`neuromem.energy`); None when the preset has no
        timing constant for it.
    counts : dict of str to float
        The counted events per inference the energy was computed from (``tiles_used`` of a
        MAC report is the number of distinct tiles read, not divided).
    details : dict
        Constants charged (J per operation), the conductance used, the latency model.
    assumptions : tuple of str
        What was estimated rather than counted in this report.
    """

    mode: str
    tech: str
    n_inferences: int
    breakdown_J: dict
    latency_s: float | None
    counts: dict
    details: dict
    assumptions: tuple = ()

    @property
    def energy_per_inference_J(self) -> float:
        """Sum of ``breakdown_J``: the total energy of one inference (J)."""
        return float(sum(self.breakdown_J.values()))

    @property
    def total_J(self) -> float:
        """Total energy per inference (J), the same as :attr:`energy_per_inference_J`."""
        return self.energy_per_inference_J

    @property
    def run_energy_J(self) -> float:
        """Energy of all ``n_inferences`` together (J)."""
        return self.energy_per_inference_J * self.n_inferences

    def to_dict(self) -> dict:
        """Plain data (JSON and result-file friendly)."""
        return {"mode": self.mode, "tech": self.tech, "n_inferences": self.n_inferences,
                "energy_per_inference_J": self.energy_per_inference_J,
                "breakdown_J": dict(self.breakdown_J), "latency_s": self.latency_s,
                "counts_per_inference": dict(self.counts), "details": dict(self.details),
                "assumptions": list(self.assumptions)}


# ------------------------------------------------------------------------------ spiking

def _write_energy(ev: dict, stats: ConductanceStats, dev: DeviceParams) -> tuple[float, dict]:
    ltp, ltd = ev["ltp_pulses"], ev["ltd_pulses"]
    if ltp == 0 and ltd == 0:
        return 0.0, {}
    for key in ("v_ltp_V", "t_ltp_s", "v_ltd_V", "t_ltd_s"):
        if getattr(dev, key, None) is None:
            raise ConfigError(f"write pulses were counted but the device has no {key}",
                              key=f"device.{key}")
    g = stats.write_S
    e_ltp = dev.v_ltp_V ** 2 * g * dev.t_ltp_s
    e_ltd = dev.v_ltd_V ** 2 * g * dev.t_ltd_s
    if stats.mapping == "differential":
        # the engine counts a push-pull update's pulses by the sign of the weight change:
        # half of them SET one device, half RESET the other
        energy = (ltp + ltd) * 0.5 * (e_ltp + e_ltd)
    else:
        energy = ltp * e_ltp + ltd * e_ltd
    return energy, {"ltp_pulse_J": e_ltp, "ltd_pulse_J": e_ltd, "write_conductance_S": g}


def spiking_energy(events, conductance, device, tech, *, n_inferences, dt_s=None, n_in=None,
                   active_steps=None) -> EnergyReport:
    """Energy per inference of the event-driven mode, from the engine's event counts.

    Parameters
    ----------
    events : dict of str to int
        Counts summed over ``n_inferences`` samples (:data:`neuromem.network.EVENT_NAMES`;
        ``ltp_pulses``, ``ltd_pulses``, ``cells_written``, ``inhibition_events`` may be
        missing and count 0).
    conductance : ConductanceStats, dict, float (S), CrossbarLayer or Crossbar
        What the cells read and written conduct (a float is the mean per cell read).
    device : DeviceParams, DeviceCard or card dict
        Read voltage and pulse width (``v_read_V``, ``t_read_s``); write pulses
        (``v_ltp_V``, ``t_ltp_s``, ``v_ltd_V``, ``t_ltd_s``).
    tech : TechPreset or str
        Preset or its name / path.
    n_inferences : int
        Samples the events were summed over.
    dt_s : float (s), optional
        Time step: gives the real-time latency ``steps x dt``.
    n_in : int, optional
        Rows of the layer (needed for a digital neuron: row tiles).
    active_steps : float, optional
        Time steps with at least one input spike, summed over samples (digital neuron: one
        conversion per column and row tile each such step). Without it, the upper bound
        ``min(steps, input_spikes)`` is used and listed in ``assumptions``.

    Returns
    -------
    EnergyReport
    """
    t = _tech(tech)
    s = t.spiking
    dev = device_params(device)
    stats = _stats(conductance)
    n = _n(n_inferences)
    ev = _counts(events, EVENT_NAMES, _REQUIRED_EVENTS, "events")
    per = {k: v / n for k, v in ev.items()}
    assumptions = []
    n_out = None
    if ev["steps"] > 0:
        n_out = ev["neuron_updates"] / ev["steps"]
        if abs(n_out - round(n_out)) > 1e-9 * max(1.0, n_out):
            raise ConfigError(f"neuron_updates ({ev['neuron_updates']:g}) is not a multiple of "
                              f"steps ({ev['steps']:g}): not counts of one population",
                              key="events.neuron_updates")
        n_out = int(round(n_out))
    cells_per_row = ev["cells_read"] / ev["row_activations"] if ev["row_activations"] else None
    g_read = stats.read_S(cells_per_row)
    e_cell = dev.v_read_V ** 2 * g_read * dev.t_read_s
    bit_J = t.buffer_bit_J.value
    E = {"row_drivers": per["row_activations"] * s.row_driver_J.value,
         "cell_reads": per["cells_read"] * e_cell,
         "neurons": per["neuron_updates"] * s.neuron_update_J.value}
    details = {"cell_read_J": e_cell, "read_conductance_S": g_read,
               "v_read_V": dev.v_read_V, "t_read_s": dev.t_read_s, "neuron": s.neuron,
               "n_out": n_out}
    if s.neuron == "digital":
        if n_in is None:
            raise ConfigError("a digital neuron converts each row tile's partial sum: give "
                              "n_in (rows of the layer)", key="n_in")
        n_rt = -(-int(n_in) // int(s.tile_rows.value))
        if active_steps is None:
            active_steps = min(ev["steps"], ev["input_spikes"])
            assumptions.append("active steps (steps with input) not given: upper bound "
                               "min(steps, input_spikes) used for the neuron ADC")
        active = float(active_steps) / n
        conv = active * (n_out or 0) * n_rt
        E["neuron_adc"] = conv * s.adc_J.value
        E["partial_sums"] = active * (n_out or 0) * (n_rt - 1) * t.mac.shift_add_J.value
        per["neuron_adc_conversions"] = conv
        details["row_tiles"] = n_rt
    inh_targets = max((n_out or 1) - 1, 0)
    E["spikes"] = per["output_spikes"] * s.spike_J.value
    E["inhibition"] = per["inhibition_events"] * inh_targets * s.inhibition_J.value
    E["spike_routing"] = (per["input_spikes"] + per["output_spikes"]) * s.event_bits.value \
        * bit_J
    writes, wdetails = _write_energy(ev, stats, dev)
    E["writes"] = writes / n
    details.update(wdetails)
    steps = per["steps"]
    accel = steps * s.step_time_s.value if s.step_time_s is not None else None
    if dt_s is not None:
        if not (dt_s > 0 and math.isfinite(dt_s)):
            raise ConfigError(f"expected dt_s > 0, got {dt_s!r}", key="dt_s")
        latency = steps * dt_s
        details["latency_model"] = "real time: steps per inference x dt_s"
    else:
        latency = accel
        details["latency_model"] = ("accelerated: steps per inference x spiking.step_time_s"
                                    if accel is not None else "none (no dt_s, no step_time_s)")
    details["latency_accelerated_s"] = accel
    details["constants_J"] = {"row_driver": s.row_driver_J.value,
                              "neuron_update": s.neuron_update_J.value,
                              "spike": s.spike_J.value, "inhibition": s.inhibition_J.value,
                              "routing_per_spike": s.event_bits.value * bit_J}
    return EnergyReport("spiking", t.name, n, E, latency, per, details, tuple(assumptions))


# ---------------------------------------------------------------------------------- MAC

def uniform_drive_v2_fraction(dac_bits: int) -> float:
    """Mean of ``(k / L)^2`` over codes ``k = 1..L`` (``L = 2^b - 1``): the average squared
    multi-bit drive voltage, in units of ``v_read^2``, for uniformly spread non-zero inputs."""
    L = 2 ** int(dac_bits) - 1
    return (L + 1) * (2 * L + 1) / (6.0 * L * L)


def drive_v2_fraction(x, dac_bits: int, x_max: float | None = None) -> float:
    """Mean squared drive voltage over the non-zero multi-bit drives of inputs ``x``, in units
    of ``v_read^2`` (the DAC codes of :meth:`neuromem.crossbar.Crossbar.drive`)."""
    x = np.abs(np.asarray(x, dtype=np.float64))
    if x_max is None:
        x_max = float(x.max()) if x.size and x.max() > 0 else 1.0
    L = 2 ** int(dac_bits) - 1
    code = np.rint(np.minimum(x / x_max, 1.0) * L)
    code = code[code > 0]
    return float(np.mean((code / L) ** 2)) if code.size else 0.0


def mac_energy(mac_counts, tech, *, dac_bits: int, adc_bits: int, n_in: int, n_out: int,
               device, conductance, n_inferences: int = 1, dac_mode: str = "bit_serial",
               adc_share: int = 1, drive_v2_fraction: float | None = None,
               input_bits: int | None = None, output_bits: int | None = None) -> EnergyReport:
    """Energy per inference of the MAC mode, from :meth:`Crossbar.mac` event counts.

    Parameters
    ----------
    mac_counts : dict of str to int
        :data:`neuromem.crossbar.COUNT_KEYS` counts summed over ``n_inferences`` vectors.
    tech : TechPreset or str
    dac_bits, adc_bits : int
        Input DAC magnitude bits and ADC bits (``CrossbarConfig``).
    n_in, n_out : int
        The layer's shape: inputs loaded from and outputs written to the buffer.
    device : DeviceParams, DeviceCard or card dict
        ``v_read_V`` and ``t_read_s`` of the cells.
    conductance : ConductanceStats, dict, float (S) or Crossbar
        Conductance per cell read (the MAC crossbar's own programmed conductances).
    n_inferences : int
        Input vectors the counts were summed over.
    dac_mode : {"bit_serial", "multibit"}
    adc_share : int
        Columns sharing one ADC (conversions in series: latency only).
    drive_v2_fraction : float, optional
        Mean ``(V / v_read)^2`` of the multi-bit drives (:func:`drive_v2_fraction`); default
        for multibit: uniform non-zero codes (listed in ``assumptions``). Bit-serial drives
        are all at ``v_read``.
    input_bits, output_bits : int, optional
        Bits per input and output moved through the buffer (default ``dac_bits + 1``, sign
        and magnitude; the preset's ``mac.output_bits``).

    Returns
    -------
    EnergyReport
    """
    t = _tech(tech)
    m = t.mac
    dev = device_params(device)
    stats = _stats(conductance)
    n = _n(n_inferences)
    if dac_mode not in DAC_MODES:
        raise ConfigError(f"expected one of {DAC_MODES}, got {dac_mode!r}", key="dac_mode")
    for key, v in (("dac_bits", dac_bits), ("adc_bits", adc_bits), ("n_in", n_in),
                   ("n_out", n_out), ("adc_share", adc_share)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(f"expected a whole number >= 1, got {v!r} (an ideal converter "
                              "has no energy model)", key=key)
    c = _counts(mac_counts, COUNT_KEYS, ("dac_drives", "cell_reads", "adc_conversions",
                                         "shift_adds", "cycles"), "counts")
    per = {k: v / n for k, v in c.items()}
    per["tiles_used"] = c["tiles_used"]        # distinct tiles: not a per-inference rate
    assumptions = []
    if dac_mode == "bit_serial":
        v2, dac_J = 1.0, m.dac_J.at(1)
    else:
        dac_J = m.dac_J.at(int(dac_bits))
        if drive_v2_fraction is None:
            v2 = uniform_drive_v2_fraction(dac_bits)
            assumptions.append("multi-bit drive voltages: uniformly spread non-zero codes "
                               "assumed for the mean V^2")
        else:
            v2 = float(drive_v2_fraction)
            if not (0 <= v2 <= 1):
                raise ConfigError(f"expected a fraction in [0, 1], got {v2!r}",
                                  key="drive_v2_fraction")
    g_read = stats.read_S()
    e_cell = dev.v_read_V ** 2 * v2 * g_read * dev.t_read_s
    adc_J = m.adc_J.at(int(adc_bits))
    in_bits = int(dac_bits) + 1 if input_bits is None else int(input_bits)
    out_bits = m.output_bits.value if output_bits is None else int(output_bits)
    bit_J = t.buffer_bit_J.value
    E = {"dac": per["dac_drives"] * dac_J,
         "cell_reads": per["cell_reads"] * e_cell,
         "adc": per["adc_conversions"] * adc_J,
         "column_sense": per["adc_conversions"] * m.column_sense_J.value,
         "shift_add": per["shift_adds"] * m.shift_add_J.value,
         "buffer": (n_in * in_bits + n_out * out_bits) * bit_J,
         "activation": n_out * m.activation_J.value}
    parts = []
    if m.cycle_time_s is not None:
        parts.append(m.cycle_time_s.value)
    if m.adc_rate_Hz is not None:
        parts.append(adc_share / m.adc_rate_Hz.value)
    cycle = max(parts) if parts else None
    latency = per["cycles"] * cycle if cycle is not None else None
    details = {"cell_read_J": e_cell, "read_conductance_S": g_read, "drive_v2_fraction": v2,
               "v_read_V": dev.v_read_V, "t_read_s": dev.t_read_s, "dac_mode": dac_mode,
               "dac_bits": int(dac_bits), "adc_bits": int(adc_bits),
               "input_bits": in_bits, "output_bits": out_bits, "cycle_time_s": cycle,
               "latency_model": ("read cycles per inference x max(crossbar read time, "
                                 "adc_share / ADC rate)" if cycle is not None
                                 else "none (preset has no timing constants)"),
               "constants_J": {"dac_drive": dac_J, "adc_conversion": adc_J,
                               "column_sense": m.column_sense_J.value,
                               "shift_add": m.shift_add_J.value, "buffer_bit": bit_J,
                               "activation": m.activation_J.value}}
    return EnergyReport("mac", t.name, n, E, latency, per, details, tuple(assumptions))
