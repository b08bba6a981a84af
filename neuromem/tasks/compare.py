"""The same trained layer executed as a MAC accelerator, and the energy of both modes.

Spiking mode is what the task's engine run did (event counts of the test phase). MAC mode
programs the layer's learned weights into a :class:`~neuromem.crossbar.Crossbar` and runs the
test inputs through DACs, tiles and ADCs (:meth:`Crossbar.mac`): the rate-coded inputs become
input vectors (the rates scaled to [0, 1]) and each output neuron's column sum is its
activation. Energies come from :mod:`neuromem.energy` with a technology preset.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from neuromem.crossbar import Crossbar, CrossbarConfig
from neuromem.energy import (conductance_stats_of, load_tech, mac_energy, spiking_energy)
from neuromem.schema import at_least, param

__all__ = ["EnergySection", "mac_mode", "energy_inputs", "energy_summary"]


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


def mac_mode(layer, x: np.ndarray, section: EnergySection, rng: np.random.Generator):
    """Run inputs ``x`` (n, n_in) in [0, 1] through a MAC crossbar holding the layer's weights.

    Returns (activations (n, n_out) in weight units, summed event counts, the crossbar).
    """
    config = CrossbarConfig(mapping=layer.mapping if layer.differential else "offset",
                            offset_reference="min", tile_rows=section.tile_rows,
                            tile_cols=section.tile_cols, w_max=1.0, dac_bits=section.dac_bits,
                            dac_mode=section.dac_mode, adc_bits=section.adc_bits,
                            adc_share=section.adc_share)
    weights = layer.effective_weights()
    scale = max(float(np.max(np.abs(weights))), 1e-12)
    xbar = Crossbar.from_weights(weights / scale, layer.device, config, rng)
    y, counts = xbar.mac(np.asarray(x, dtype=np.float64), x_max=1.0, rng=rng)
    return y * scale, counts, xbar


def energy_inputs(*, layer, xbar, test_events: dict, mac_counts: dict, n_test: int, dt_s: float,
                  section: EnergySection, acc_spiking: float, acc_mac: float) -> dict:
    """The ``extra["energy_inputs"]`` contract of :mod:`neuromem.energy` for a result file."""
    return {
        "spiking": {"events": dict(test_events), "n_inferences": int(n_test), "dt_s": dt_s,
                    "n_in": int(layer.n_in), "accuracy": acc_spiking,
                    "conductance": conductance_stats_of(layer).to_dict()},
        "mac": {"counts": {k: int(v) for k, v in mac_counts.items()},
                "n_inferences": int(n_test), "dac_bits": section.dac_bits,
                "adc_bits": section.adc_bits, "n_in": int(layer.n_in),
                "n_out": int(layer.n_out), "dac_mode": section.dac_mode,
                "adc_share": section.adc_share, "accuracy": acc_mac,
                "conductance": conductance_stats_of(xbar).to_dict()},
        "accuracy": {"spiking": acc_spiking, "mac": acc_mac},
    }


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
