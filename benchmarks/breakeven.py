"""Break-even of spiking and MAC modes: energy ratio against spikes per synapse per inference.

    python benchmarks/breakeven.py --json benchmarks/results/breakeven.json \\
        --png benchmarks/results/breakeven.png

For one layer (784x100 and 512x12 by default) and each technology preset, time-step count T
and ADC resolution, the energy per inference of both modes comes from neuromem's energy model
(:mod:`neuromem.energy`) applied to closed-form event counts
(:mod:`neuromem.energy.synthetic`, checked against real runs in ``tests/test_energy.py``):

* spiking: every input spikes ``s`` times per inference on average (Bernoulli per step, the
  engine's Poisson encoder), each spike reads its whole row; every neuron is updated every
  step and fires ``s`` times too (the same activity in every layer of a deep network); no
  lateral inhibition, no learning. ``s`` is also the number of spikes per synapse per
  inference (each spike reaches the n_out synapses of its row), Dampfhoffer et al.'s x axis.
* MAC: one matrix-vector product per inference through 128x128 tiles, dense inputs,
  bit-serial DAC with half of the code bits set; by default ``dac_bits = ceil(log2(T + 1))``,
  the information of a T-step rate code (an iso-information comparison, as Yan et al. 2024;
  ``--dac-bits 8`` fixes it).
* Both modes: the same device (``--device``, default the TaOx/HfOx card) at the same mean
  conductance (``--g-fraction`` of the window above g_min; references at g_min: one device
  per synapse against a reference cell, the engine's ``single`` map and the crossbar's
  ``offset``/``min`` map).

The ratio ``E_spiking / E_MAC`` grows with ``s``; the break-even ``s*`` solves ratio = 1
(bisection in log s). Below ``s*`` spiking uses less energy.

Results (defaults; ``benchmarks/results/breakeven.json`` and ``.png``)
--------------------------------------------------------------------
Break-even spikes per synapse per inference with an 8-bit ADC (``never``: MAC uses less
energy at any activity); below it the spiking mode uses less energy:

=============== ======= ======= ======= ======= ======= =====================
tech            T=4     T=16    T=64    T=256   T=1000  neuron
=============== ======= ======= ======= ======= ======= =====================
784x100 layer
isaac_32nm      2.38    3.92    5.46    7.00    7.77    analog, no step cost
neurram_130nm   1.14    1.76    2.14    1.52    never   analog, integrator/step
spikesim_65nm   0.63    0.50    0.058   0.045   0.0029  digital LIF + ADC/step
512x12 layer
isaac_32nm      0.90    1.46    2.02    2.58    2.86
neurram_130nm   0.55    0.85    1.08    1.05    never
spikesim_65nm   0.34    0.43    0.27    0.18    0.075
=============== ======= ======= ======= ======= ======= =====================

Against ADC resolution (784x100, T = 64) the break-even moves slowly (isaac_32nm 3.8 at
4 bits, 6.8 at 10 bits; neurram_130nm 1.9 to 2.3): the ADC is one of several MAC costs.
The digital neuron's own converter (spikesim_65nm) stays at the preset's resolution;
``--adc-bits`` sweeps the MAC mode's ADC.

Which costs dominate (784x100, T = 64, MAC with 7-bit bit-serial inputs, TaOx/HfOx card read
at 0.5 V for 10 ns, 13.8 fJ per cell read at mid-window):

* MAC, isaac_32nm, 13.9 nJ: ADC 8.2 nJ (7 cycles x 7 row tiles x 100 columns x 1.67 pJ),
  cell reads 3.8 nJ (every set input bit reads a whole row: 7 x 392 x 101 cells), DAC 1.1,
  buffer 0.6 nJ. None of it depends on the spiking activity.
* Spiking, analog neuron (isaac_32nm), per spike per input (x 784): spike routing 1.4 pJ
  (a 16-bit address event through the eDRAM buffer, counting the outputs' events too), the
  row's cells 1.4 pJ (101 x 13.8 fJ) and the row driver 0.42 pJ; nothing per step. So
  ``s* ~ E_MAC / (n_in x 3.2 pJ)``, 5.5 here, growing with T only because the iso-information
  MAC needs more bit-serial cycles.
* A per-step neuron cost caps the gain: NeuRRAM's integrator (0.25 pJ per neuron per step)
  costs 1.6 nJ at T = 64 and 25 nJ at T = 1000, more than the whole MAC inference (13 nJ):
  spiking never wins there.
* A digital neuron (spikesim_65nm) must digitise and accumulate its column's row-tile
  partial sums in every step with input (784 rows = 13 tiles of 64): 64 steps x 100 x 13
  conversions (2.6 nJ) and 12 additions per neuron-step (7.7 nJ) against a 6 nJ MAC
  inference. Once the inputs are dense enough that most steps carry a spike (s above ~0.1
  at T = 64) this per-step cost is paid in full, and the break-even falls to 0.06 and below.

Comparison with Dampfhoffer et al. (IEEE TETCI 2023: break-even at 0.15-1.38 spikes per
synapse per inference). They compare *digital* accelerators, where an ANN synapse costs a
multiply-accumulate and an SNN synaptic event an accumulate, both plus weight and activation
memory traffic, and SNN neurons are updated every time step. Their range falls between our
two kinds of neuron. In a ReRAM crossbar the weights never move and the synaptic
multiply-accumulate is the analog read itself, paid in both modes; what separates the modes
is the periphery. With an analog integrate-and-fire neuron the spiking mode drops the MAC
mode's converters and pays only per spike (driver, row read, address event), so its
break-even (1-8 spikes per synapse, falling with fewer outputs per row: 512x12) lies above
theirs. With a digital neuron the converter comes back once per step instead of once per
input bit, the same time-step overhead Dampfhoffer et al. identify, and the break-even falls
into and below their range as T grows. Caveats: dense MAC inputs (zeros would save MAC
drives and cell reads, not conversions); no static power, which would add T-proportional
cost to the spiking mode; several constants are marked "assumption" in the presets.

Flags: ``--techs``, ``--layers`` (``784x100,512x12``), ``--steps`` (T values), ``--adc-bits``,
``--dac-bits`` (``match`` or an integer), ``--device``, ``--g-fraction``, ``--points`` (x grid
per curve), ``--json FILE``, ``--png FILE``, ``--ref-steps`` / ``--ref-adc-bits`` (the
configuration of the curve panels).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time

import numpy as np

from neuromem.cards import load_device
from neuromem.crossbar import CrossbarConfig
from neuromem.energy import (ConductanceStats, list_techs, load_tech, mac_counts, mac_energy,
                             spiking_energy, spiking_events)

#: Dampfhoffer et al., "Are SNNs really more energy-efficient than ANNs? An in-depth
#: hardware-aware study", IEEE TETCI 2023: break-even spikes per synapse per inference.
DAMPFHOFFER_RANGE = (0.15, 1.38)


def _layer(text: str) -> tuple[int, int]:
    a, b = text.lower().split("x")
    return int(a), int(b)


class Layer:
    """Energy of both modes for one layer, technology and configuration."""

    def __init__(self, n_in, n_out, tech, device, g_fraction, steps, adc_bits, dac_bits):
        self.n_in, self.n_out, self.tech, self.device = n_in, n_out, tech, device
        self.steps, self.adc_bits, self.dac_bits = steps, adc_bits, dac_bits
        p = device.params
        g = p.g_min_S + g_fraction * (p.g_max_S - p.g_min_S)
        self.spk_stats = ConductanceStats((n_out * g + p.g_min_S) / (n_out + 1), g, "single")
        cfg = CrossbarConfig(mapping="offset", offset_reference="min", dac_bits=dac_bits,
                             dac_mode="bit_serial", adc_bits=adc_bits)
        n_ct = math.ceil(n_out / cfg.tile_cols)
        mac_stats = ConductanceStats((n_out * g + n_ct * p.g_min_S) / (n_out + n_ct), g,
                                     "single")
        counts = mac_counts(n_in, n_out, cfg, input_density=1.0, bit_density=0.5)
        self.mac = mac_energy(counts, tech, dac_bits=dac_bits, adc_bits=adc_bits, n_in=n_in,
                              n_out=n_out, device=p, conductance=mac_stats)

    def spiking(self, s: float):
        ev, active = spiking_events(self.n_in, self.n_out, spikes_per_input=s,
                                    steps=self.steps, output_spikes_per_neuron=s)
        return spiking_energy(ev, self.spk_stats, self.device.params, self.tech,
                              n_inferences=1, n_in=self.n_in, active_steps=active)

    def ratio(self, s: float) -> float:
        return self.spiking(s).energy_per_inference_J / self.mac.energy_per_inference_J

    def breakeven(self) -> tuple[float | None, str]:
        """(s*, verdict): ratio(s*) = 1 on [1e-4, T]; verdicts 'never', 'always', 'crosses'."""
        lo, hi = 1e-4, float(self.steps)
        if self.ratio(lo) >= 1:
            return None, "never"
        if self.ratio(hi) < 1:
            return None, "always"
        for _ in range(80):
            mid = math.sqrt(lo * hi)
            if self.ratio(mid) < 1:
                lo = mid
            else:
                hi = mid
        return math.sqrt(lo * hi), "crosses"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--techs", default=",".join(list_techs()))
    parser.add_argument("--layers", default="784x100,512x12")
    parser.add_argument("--steps", default="4,16,64,256,1000")
    parser.add_argument("--adc-bits", default="4,6,8,10")
    parser.add_argument("--dac-bits", default="match",
                        help="'match' (ceil(log2(T+1))) or an integer")
    parser.add_argument("--device", default="taox_hfox_wu2018")
    parser.add_argument("--g-fraction", type=float, default=0.5)
    parser.add_argument("--points", type=int, default=60)
    parser.add_argument("--ref-steps", type=int, default=64)
    parser.add_argument("--ref-adc-bits", type=int, default=8)
    parser.add_argument("--json", help="write the results as JSON")
    parser.add_argument("--png", help="write the figure")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    techs = [load_tech(n.strip()) for n in args.techs.split(",") if n.strip()]
    layers = [_layer(x) for x in args.layers.split(",") if x.strip()]
    steps_list = [int(x) for x in args.steps.split(",")]
    adc_list = [int(x) for x in args.adc_bits.split(",")]
    if args.ref_steps not in steps_list:
        steps_list.append(args.ref_steps)
    if args.ref_adc_bits not in adc_list:
        adc_list.append(args.ref_adc_bits)
    device = load_device(args.device)

    def dac_bits_for(T):
        return max(1, math.ceil(math.log2(T + 1))) if args.dac_bits == "match" \
            else int(args.dac_bits)

    rows, curves = [], []
    for tech in techs:
        for n_in, n_out in layers:
            for T in steps_list:
                for adc in adc_list:
                    lay = Layer(n_in, n_out, tech, device, args.g_fraction, T, adc,
                                dac_bits_for(T))
                    s_star, verdict = lay.breakeven()
                    one = lay.spiking(min(1.0, T))
                    row = {"tech": tech.name, "layer": f"{n_in}x{n_out}", "steps": T,
                           "adc_bits": adc, "dac_bits": dac_bits_for(T),
                           "breakeven_spikes_per_synapse": s_star, "verdict": verdict,
                           "mac_energy_J": lay.mac.energy_per_inference_J,
                           "mac_breakdown_J": lay.mac.breakdown_J,
                           "spiking_energy_at_1_J": one.energy_per_inference_J,
                           "spiking_breakdown_at_1_J": one.breakdown_J,
                           "ratio_at_1": one.energy_per_inference_J
                           / lay.mac.energy_per_inference_J}
                    rows.append(row)
                    if T == args.ref_steps and adc == args.ref_adc_bits:
                        xs = np.logspace(-3, math.log10(T), args.points)
                        curves.append({"tech": tech.name, "layer": f"{n_in}x{n_out}",
                                       "steps": T, "adc_bits": adc, "x": xs.tolist(),
                                       "ratio": [lay.ratio(x) for x in xs],
                                       "breakeven_x": s_star})
    wall = time.perf_counter() - t0

    def fmt(r):
        if r["verdict"] == "never":
            return "never"
        if r["verdict"] == "always":
            return f"> {r['steps']}"
        return f"{r['breakeven_spikes_per_synapse']:.3g}"

    for lay_name in dict.fromkeys(r["layer"] for r in rows):
        print(f"\nbreak-even spikes per synapse per inference, layer {lay_name}, "
              f"ADC {args.ref_adc_bits} bits (MAC DAC bits: {args.dac_bits})")
        print("tech".ljust(15) + "".join(f"T={T}".rjust(10) for T in steps_list))
        for tech in techs:
            sel = {r["steps"]: r for r in rows if r["tech"] == tech.name
                   and r["layer"] == lay_name and r["adc_bits"] == args.ref_adc_bits}
            print(tech.name.ljust(15) + "".join(fmt(sel[T]).rjust(10) for T in steps_list))
    print(f"\nDampfhoffer et al. (TETCI 2023): {DAMPFHOFFER_RANGE[0]}-{DAMPFHOFFER_RANGE[1]} "
          f"spikes per synapse per inference; {len(rows)} configurations in {wall:.1f} s")

    out = {"config": {k: getattr(args, k) for k in ("techs", "layers", "steps", "adc_bits",
                                                    "dac_bits", "device", "g_fraction",
                                                    "ref_steps", "ref_adc_bits")},
           "dampfhoffer_range_spikes_per_synapse": list(DAMPFHOFFER_RANGE),
           "rows": rows, "curves": curves,
           "machine": {"python": platform.python_version(), "wall_s": wall}}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    if args.png:
        _figure(out, techs, layers, steps_list, adc_list, args).savefig(args.png, dpi=130)
    return 0


def _figure(out, techs, layers, steps_list, adc_list, args):
    from matplotlib.figure import Figure

    from neuromem.plot.energy import plot_breakeven

    fig = Figure(figsize=(12, 8.5), layout="constrained")
    axes = fig.subplots(2, 2)
    ref = (*DAMPFHOFFER_RANGE, "Dampfhoffer et al. 2023 break-even")
    colors = {t.name: f"C{k}" for k, t in enumerate(techs)}
    for ax, (n_in, n_out) in zip(axes[0], layers[:2]):
        curves = [dict(c, label=c["tech"], color=colors[c["tech"]]) for c in out["curves"]
                  if c["layer"] == f"{n_in}x{n_out}"]
        plot_breakeven(curves, ax=ax, reference=ref,
                       title=f"{n_in}x{n_out}, T = {args.ref_steps}, "
                             f"{args.ref_adc_bits}-bit ADC")
    lay0 = f"{layers[0][0]}x{layers[0][1]}"
    for ax, key, values, fixed, label in (
            (axes[1, 0], "steps", steps_list, ("adc_bits", args.ref_adc_bits), "time steps T"),
            (axes[1, 1], "adc_bits", adc_list, ("steps", args.ref_steps), "ADC bits")):
        for tech in techs:
            sel = sorted((r for r in out["rows"] if r["tech"] == tech.name
                          and r["layer"] == lay0 and r[fixed[0]] == fixed[1]),
                         key=lambda r: r[key])
            xs = [r[key] for r in sel if r["verdict"] == "crosses"]
            ys = [r["breakeven_spikes_per_synapse"] for r in sel if r["verdict"] == "crosses"]
            ax.plot(xs, ys, "o-", color=colors[tech.name], label=tech.name)
            never = [r[key] for r in sel if r["verdict"] == "never"]
            if never:
                ax.plot(never, [1e-3] * len(never), "v", color=colors[tech.name], ms=7,
                        label=f"{tech.name}: MAC wins at any activity")
        ax.axhspan(*DAMPFHOFFER_RANGE, color="0.85", zorder=0, label=ref[2])
        ax.set_xscale("log" if key == "steps" else "linear")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("break-even spikes per synapse per inference")
        ax.set_title(f"{lay0}: break-even against {label} ({fixed[0]} = {fixed[1]})")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7, frameon=False)
    return fig


if __name__ == "__main__":
    raise SystemExit(main())
