"""Event counts as closed-form functions of layer shape, sparsity and time steps.

What :class:`~neuromem.network.Network` and :meth:`~neuromem.crossbar.Crossbar.mac` count,
written out for one inference of one layer, so that break-even analyses can sweep sparsity,
time steps and converter resolution without simulating (``benchmarks/breakeven.py``).
The tests check them against real runs.

Notes
-----
Spiking layer, ``n_in`` inputs spiking ``s`` times each on average during ``T_in`` of the
``T`` steps, ``r`` output spikes per neuron::

    input_spikes = row_activations = s n_in
    cells_read   = s n_in c,   c = 2 n_out (differential) or n_out + 1 (single + reference)
    neuron_updates = n_out T,  steps = T,  output_spikes = r n_out
    inhibition_events = output_spikes (winner-take-all) or 0
    active_steps = T_in (1 - (1 - s / T_in)^n_in)

``active_steps`` (steps with at least one input spike) is the expectation for independent
Bernoulli inputs of probability ``s / T_in`` per step, the engine's Poisson encoder.

MAC layer, ``R = ceil(n_in / tile_rows)`` row tiles, ``C = ceil(n_out / tile_cols)`` column
tiles, a fraction ``d`` of non-zero inputs and, bit-serial, a fraction ``f`` of set bits in
their codes (``t = dac_bits`` cycles; multibit: ``t = 1``, ``f = 1``)::

    driven rows per cycle  a = d f n_in
    dac_drives = C t a,    cell_reads = t a c,   c = 2 n_out or n_out + C (offset)
    cycles = t,  tile_reads = t R C,  adc_conversions = t R n_out
    shift_adds = (t R - 1) n_out,  tiles_used = R C

exact when every row tile has a driven row in every cycle (dense inputs); sparse inputs
leave some (tile, cycle) pairs unread and the real counts are lower.
"""

from __future__ import annotations

import math

from neuromem.crossbar import CrossbarConfig
from neuromem.exceptions import ConfigError

__all__ = ["spiking_events", "mac_counts"]


def spiking_events(n_in: int, n_out: int, *, spikes_per_input: float, steps: int,
                   input_steps: int | None = None, output_spikes_per_neuron: float = 0.0,
                   mapping: str = "single", winner_take_all: bool = False) -> tuple[dict,
                                                                                    float]:
    """Expected event counts of one inference (module Notes) and the expected active steps.

    Returns
    -------
    events : dict of str to float
        Keys of :data:`neuromem.network.EVENT_NAMES` (no learning: no pulses).
    active_steps : float
        Expected steps with at least one input spike.
    """
    if n_in < 1 or n_out < 1 or steps < 1:
        raise ConfigError("n_in, n_out and steps must be >= 1", key="steps")
    t_in = steps if input_steps is None else int(input_steps)
    if not 1 <= t_in <= steps:
        raise ConfigError(f"input_steps must lie in 1..{steps}", key="input_steps")
    s = float(spikes_per_input)
    if not 0 <= s <= t_in:
        raise ConfigError(f"spikes per input must lie in [0, {t_in}] (at most one per step)",
                          key="spikes_per_input")
    if mapping not in ("single", "differential"):
        raise ConfigError(f"unknown mapping {mapping!r}", key="mapping")
    cells = 2 * n_out if mapping == "differential" else n_out + 1
    spikes_in = s * n_in
    out = float(output_spikes_per_neuron) * n_out
    events = {"input_spikes": spikes_in, "row_activations": spikes_in,
              "cells_read": spikes_in * cells, "ltp_pulses": 0.0, "ltd_pulses": 0.0,
              "cells_written": 0.0, "neuron_updates": float(n_out * steps),
              "output_spikes": out, "inhibition_events": out if winner_take_all else 0.0,
              "steps": float(steps)}
    active = t_in * (1.0 - (1.0 - s / t_in) ** n_in)
    return events, active


def mac_counts(n_in: int, n_out: int, config: CrossbarConfig | None = None, *,
               input_density: float = 1.0, bit_density: float = 0.5) -> dict:
    """Counts of one matrix-vector product through DAC, tiles and ADC (module Notes)."""
    cfg = CrossbarConfig() if config is None else config
    if n_in < 1 or n_out < 1:
        raise ConfigError("n_in and n_out must be >= 1", key="n_in")
    if cfg.dac_bits is None:
        raise ConfigError("an ideal analog drive has no cycle count: set dac_bits",
                          key="dac_bits")
    for key, v in (("input_density", input_density), ("bit_density", bit_density)):
        if not 0 <= v <= 1:
            raise ConfigError(f"expected a fraction in [0, 1], got {v!r}", key=key)
    r = math.ceil(n_in / cfg.tile_rows)
    c = math.ceil(n_out / cfg.tile_cols)
    if cfg.dac_mode == "bit_serial":
        t, f = cfg.dac_bits, float(bit_density)
    else:
        t, f = 1, 1.0
    a = float(input_density) * f * n_in
    per_drive = 2 * n_out if cfg.mapping == "differential" else n_out + c
    return {"cycles": float(t), "dac_drives": c * t * a, "cell_reads": t * a * per_drive,
            "tile_reads": float(t * r * c), "adc_conversions": float(t * r * n_out),
            "shift_adds": float((t * r - 1) * n_out), "tiles_used": float(r * c)}
