"""The same trained layer executed as a MAC accelerator, and the energy of both modes.

Spiking mode is what the task's engine run did (event counts of the test phase). MAC mode
runs the test inputs through DACs, crossbar tiles and ADCs (:meth:`Crossbar.mac`): the
rate-coded inputs become input vectors (the rates scaled to [0, 1]) and each output neuron's
column sum, times its per-column gain, is its activation. Energies come from
:mod:`neuromem.energy` with a technology preset.

Which cells MAC mode reads is ``[energy] mac_array``:

``"same"`` (default)
    the layer's own cells (:meth:`CrossbarLayer.crossbar`): the conductances, device-to-
    device draws, stuck cells and drift the spiking mode ran on; one physical array executed
    two ways. The per-column gain is an analog gain of each column ahead of its ADC.
``"fresh"``
    ex-situ transfer: the learned effective weights are programmed into a new array (its own
    D2D draws and faults) by write-verify (:meth:`PulseArray.write_verify`: pulse, read,
    re-pulse until within ``verify_tolerance`` of the window or ``verify_budget x Pmax``
    pulses per cell); the pulses and their energy are reported under ``programming``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from neuromem.crossbar import Crossbar, CrossbarConfig
from neuromem.energy import (conductance_stats_of, load_tech, mac_energy, spiking_energy)
from neuromem.schema import at_least, param, positive

__all__ = ["EnergySection", "mac_mode", "energy_inputs", "energy_summary", "MAC_ARRAYS"]

MAC_ARRAYS = ("same", "fresh")


@dataclasses.dataclass(frozen=True, kw_only=True)
class EnergySection:
    """MAC-mode periphery and the technology preset of the printed comparison."""

    kind = "energy"
    dac_bits: int = param(8, kind=int, doc="MAC mode: input DAC bits", check=at_least(1))
    adc_bits: int = param(8, kind=int, doc="MAC mode: ADC bits per tile partial sum",
                          check=at_least(1))
    dac_mode: str = param("bit_serial", kind=str, doc="MAC mode: DAC scheme",
                          choices=("bit_serial", "multibit"))
    adc_share: int = param(8, kind=int, doc="MAC mode: columns per ADC", check=at_least(1))
    tile_rows: int = param(128, kind=int, doc="crossbar tile rows", check=at_least(1))
    tile_cols: int = param(128, kind=int, doc="crossbar tile columns", check=at_least(1))
    tech: str = param("isaac_32nm", kind=str, doc="technology preset of the printed energies")
    mac_array: str = param("same", kind=str, choices=MAC_ARRAYS,
                           doc="MAC mode reads the layer's own cells (same) or a fresh array "
                               "programmed ex situ by write-verify (fresh)")
    verify_tolerance: float = param(0.02, check=positive,
                                    doc="fresh array: write-verify tolerance, fraction of the "
                                        "card's window g_max_S - g_min_S")
    verify_budget: float = param(4.0, check=positive,
                                 doc="fresh array: write-verify pulse budget per cell, in "
                                     "units of the card's Pmax (levels - 1)")


def mac_mode(layer, x: np.ndarray, section: EnergySection, rng: np.random.Generator):
    """Run inputs ``x`` (n, n_in) in [0, 1] through a MAC crossbar holding the layer's weights.

    ``section.mac_array`` chooses the layer's own cells or a fresh array (module docstring);
    ``rng`` draws read noise (and, for a fresh array, its devices and programming noise).
    Returns (activations (n, n_out) in units of the layer's w_max, summed event counts, the
    crossbar; ``crossbar.programming`` holds the write-verify statistics of a fresh one).
    """
    x = np.asarray(x, dtype=np.float64)
    mapping = "differential" if layer.differential else "offset"
    config = CrossbarConfig(mapping=mapping, offset_reference="min",
                            tile_rows=section.tile_rows, tile_cols=section.tile_cols,
                            w_max=1.0, dac_bits=section.dac_bits, dac_mode=section.dac_mode,
                            adc_bits=section.adc_bits, adc_share=section.adc_share)
    if section.mac_array == "same":
        xbar = layer.crossbar(config)
        y, counts = xbar.mac(x, x_max=1.0, rng=rng)
        return y, counts, xbar
    weights = layer.effective_weights()
    scale = max(float(np.max(np.abs(weights))), 1e-12)
    dev = layer.device
    verify = (section.verify_tolerance * (dev.g_max_S - dev.g_min_S),
              int(math.ceil(section.verify_budget * dev.p_max)))
    xbar = Crossbar.from_weights(weights / scale, dev, config, rng, verify=verify)
    y, counts = xbar.mac(x, x_max=1.0, rng=rng)
    return y * scale, counts, xbar


def energy_inputs(*, layer, xbar, test_events: dict, mac_counts: dict, n_test: int, dt_s: float,
                  section: EnergySection, acc_spiking: float, acc_mac: float) -> dict:
    """The ``extra["energy_inputs"]`` contract of :mod:`neuromem.energy` for a result file."""
    out = {
        "spiking": {"events": dict(test_events), "n_inferences": int(n_test), "dt_s": dt_s,
                    "n_in": int(layer.n_in), "accuracy": acc_spiking,
                    "conductance": conductance_stats_of(layer).to_dict()},
        "mac": {"counts": {k: int(v) for k, v in mac_counts.items()},
                "n_inferences": int(n_test), "dac_bits": section.dac_bits,
                "adc_bits": section.adc_bits, "n_in": int(layer.n_in),
                "n_out": int(layer.n_out), "dac_mode": section.dac_mode,
                "adc_share": section.adc_share, "accuracy": acc_mac,
                "conductance": conductance_stats_of(xbar).to_dict(),
                "mac_array": section.mac_array},
        "accuracy": {"spiking": acc_spiking, "mac": acc_mac},
    }
    if getattr(xbar, "programming", None) is not None:
        out["mac"]["programming"] = dict(xbar.programming)
    return out


def energy_summary(inputs: dict, device_card, tech_name: str) -> dict:
    """Energy per inference of both modes with one preset (for the terminal table)."""
    tech = load_tech(tech_name)
    sp, mc = inputs["spiking"], inputs["mac"]
    layer_stats = _stats(sp["conductance"])
    xbar_stats = _stats(mc["conductance"])
    e_sp = spiking_energy(sp["events"], layer_stats, device_card, tech,
                          n_inferences=sp["n_inferences"], dt_s=sp["dt_s"], n_in=sp["n_in"])
    e_mac = mac_energy(mc["counts"], tech, dac_bits=mc["dac_bits"], adc_bits=mc["adc_bits"],
                       n_in=mc["n_in"], n_out=mc["n_out"], device=device_card,
                       conductance=xbar_stats, n_inferences=mc["n_inferences"],
                       dac_mode=mc["dac_mode"], adc_share=mc["adc_share"])
    return {"tech": tech_name, "spiking_J": e_sp.total_J, "mac_J": e_mac.total_J,
            "spiking": e_sp.to_dict(), "mac": e_mac.to_dict()}


def _stats(d: dict):
    from neuromem.energy import ConductanceStats
    fields = {f.name for f in dataclasses.fields(ConductanceStats)}
    return ConductanceStats(**{k: v for k, v in d.items() if k in fields})
