# %% [markdown]
# # 04 · Spiking or MAC? Energy per inference of the same crossbar, two ways
#
# What this notebook shows: the same trained crossbar weights run two ways, with accuracy,
# energy per inference and latency for each.
#
# * **spiking** (event-driven): every input spike drives one row, and the column currents
#   charge LIF neurons. Energy comes from the events the engine counted on the test set.
# * **MAC**: the learned conductances sit in a conventional ReRAM matrix-vector accelerator
#   (bit-serial DACs → 128 x 128 tiles → ADCs → shift-and-add). Energy comes from the
#   converter and cell-read counts of `Crossbar.mac` on the same test inputs. It reads the
#   very cells the spiking mode learned in (`[energy] mac_array = "same"`, the default:
#   their conductances, device-to-device draws and stuck cells); `mac_array = "fresh"`
#   programs the weights into a new array by write-verify instead (ex-situ transfer).
#
# We do this for both workloads (`kws`, notebook 03, and `digits_stdp`, notebook 02), on two
# device cards (ideal and TaOx/HfOx) and two technology presets (`isaac_32nm`: ISAAC-like
# periphery with an analog LIF neuron that costs nothing per time step; `neurram_130nm`: a
# NeuRRAM-like voltage-mode neuron whose integrator is charged every time step). Every
# constant of a preset carries its source in `neuromem/tech/*.toml`. Then we place the
# measured activity on the break-even curve, i.e. the spiking activity below which spiking
# uses less energy, and compare it with Dampfhoffer et al. (2023).
#
# `neuromem run kws -o kws.h5 && neuromem energy kws.h5 --tech neurram_130nm` does the same
# for one run from the command line; `benchmarks/breakeven.py` is the generic break-even
# study.
#
# **Settings.** `NEUROMEM_QUICK=1` runs small versions: kws on 400 clips with 4 time bins and
# 0.3 s presentations, digits on 200 training images with 40 neurons and 1 epoch. That takes
# about 20 s on an idle 2-core machine (under a minute under heavy load), and the
# accuracies and activities are those of small networks. Without it
# both network cards run as shipped: four trainings, about 8 minutes on a loaded 2-core
# machine, plus a few minutes of corpus synthesis if notebook 03 or `neuromem run kws` has
# not cached it in `~/.cache/neuromem` yet.

# %%
%matplotlib inline
import math
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from neuromem.cards import load_network_data
from neuromem.energy import (ConductanceStats, evaluate_result, format_energy_table,
                             list_techs, load_tech, mac_energy, spiking_energy,
                             spiking_events)
from neuromem.plot.energy import (plot_accuracy_vs_energy, plot_breakeven,
                                  plot_energy_breakdown)
from neuromem.store import write_result
from neuromem.tasks.digits import run_digits
from neuromem.tasks.kws import run_kws

QUICK = os.environ.get("NEUROMEM_QUICK") == "1"
work = Path(tempfile.mkdtemp(prefix="neuromem_energy_"))      # result files of this notebook
TECHS = ["isaac_32nm", "neurram_130nm"]
DEVICES = ["ideal", "taox_hfox_wu2018"]
DAMPFHOFFER = (0.15, 1.38)    # break-even spikes per synapse per inference, IEEE TETCI 2023
if QUICK:
    NETWORKS = {
        "kws": (run_kws, {"data.n_clips": 400, "delta.epochs": 6, "delta.batch": 16,
                          "features.time_bins": 4, "features.t_present_s": 0.3,
                          "data.cache_dir": str(work / "corpus")}),
        "digits_stdp": (run_digits, {"data.n_train": 200, "network.n_exc": 40})}
else:
    NETWORKS = {"kws": (run_kws, {}), "digits_stdp": (run_digits, {})}
print(f"{'quick' if QUICK else 'full'} setting; result files in {work}")
for name in TECHS:
    print(f"  {name:15s} {load_tech(name).summary}")

# %% [markdown]
# ## Run, store, evaluate
# Each task stores what the energy model needs in `extra["energy_inputs"]`: the test-phase
# event counts of the spiking run, the MAC counts, the layer shape, the converter bits and
# the conductances of both arrays. We write every run to an HDF5 result file, as
# `neuromem run -o` does, and evaluate it with each preset (`evaluate_result`, what
# `neuromem energy` prints).

# %%
runs, evals = {}, {}
for net, (task, overrides) in NETWORKS.items():
    for device in DEVICES:
        data, path, dev = load_network_data(net, {**overrides, "device": device}, quick=QUICK)
        res = task(data, path=path, device_overrides=dev, seed=0)
        h5 = work / f"{net}_{device}.h5"
        write_result(h5, metrics=res.metrics, cards=res.cards, events=res.events,
                     state=res.state, extra=res.extra, seed=0,
                     command=f"notebook 04: {net} on {device}")
        runs[net, device] = res
        for tech in list_techs():                # all presets; the table shows TECHS
            evals[net, device, tech] = evaluate_result(h5, tech)
        print(f"{net:12s} {device:17s} SNN {100 * res.metrics['accuracy']:5.1f} %, "
              f"MAC mode {100 * res.metrics['mac_accuracy']:5.1f} %  "
              f"({res.metrics['wall_s']:.0f} s)")

# %% [markdown]
# ## The comparison table
# Latency is per inference. The spiking mode has two: in **real time**, the network runs in
# the time its neurons' time constants are written in (steps x dt, as an analog membrane
# must), and **accelerated**, one crossbar read cycle per time step (time-scaled hardware;
# only presets with a step time give it). The MAC latency is its bit-serial read cycles,
# each as long as the slower of the crossbar read and the conversion of the columns sharing
# an ADC. n/a means the preset has no timing constant.

# %%
def si(value, unit):
    """A value with an SI prefix (``n/a`` for None)."""
    if value is None:
        return "n/a"
    for factor, prefix in ((1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value / 1e-15:.3g} f{unit}"


header = ("network", "device", "tech", "mode", "accuracy", "energy/inf.", "latency (real time)",
          "latency (accel.)", "E_spk / E_MAC")
rows = []
for (net, device, tech), ev in evals.items():
    if tech not in TECHS:
        continue
    for mode in ("spiking", "mac"):
        rep = ev[mode]
        accel = rep["details"].get("latency_accelerated_s") if mode == "spiking" \
            else rep["latency_s"]
        rows.append((net, device, tech, mode, f"{100 * rep['accuracy']:.1f} %",
                     si(rep["energy_per_inference_J"], "J"),
                     si(rep["latency_s"], "s") if mode == "spiking" else "-",
                     si(accel, "s"),
                     f"{ev['ratio_spiking_over_mac']:.3g}" if mode == "spiking" else ""))
widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
print("  ".join("-" * w for w in widths))
for k, r in enumerate(rows):
    if k and k % 4 == 0:
        print()
    print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))

# %% [markdown]
# The activity behind those numbers: a spike reaches every synapse of its row once, so input
# spikes per row and inference equals **spikes per synapse per inference**, the x axis of
# the break-even below.

# %%
def workload(res):
    """What the break-even needs from one run: layer shape, time steps, measured activity,
    the device and conductances, and the MAC mode's counts."""
    sp, mc = res.extra["energy_inputs"]["spiking"], res.extra["energy_inputs"]["mac"]
    n, ev = sp["n_inferences"], sp["events"]
    r = res.cards["resolved"]
    if res.name == "kws":
        t_in = r["features"]["t_present_s"] / r["features"]["dt_s"]
    else:
        net = r["network"]
        t_in = (net["t_present_test_s"] or net["t_present_s"]) / net["dt_s"]
    stats = ConductanceStats.from_dict(sp["conductance"])
    return {"n_in": sp["n_in"], "n_out": mc["n_out"], "steps": int(round(ev["steps"] / n)),
            "input_steps": int(round(t_in)), "mapping": stats.mapping, "stats": stats,
            "wta": ev["inhibition_events"] > 0, "device": res.cards["device"],
            "s": ev["input_spikes"] / n / sp["n_in"],
            "r": ev["output_spikes"] / n / mc["n_out"],
            "mac": mc}


works = {key: workload(res) for key, res in runs.items()}
print("network      device             layer      steps/inf  spikes per synapse  "
      "output spikes per neuron   (per inference)")
for (net, device), w in works.items():
    print(f"{net:12s} {device:17s} {w['n_in']:4d}x{w['n_out']:<4d} {w['steps']:8d}   "
          f"{w['s']:14.2f}   {w['r']:18.2f}")

# %% [markdown]
# ## Where the energy goes
# Stacked bars per component (TaOx/HfOx devices), one panel per network. In the spiking mode
# the row drivers, the cell reads and the routing of address events scale with the number
# of input spikes, and the neurons with the number of time steps. In the MAC mode the ADC
# conversions dominate, and none of its costs depends on spiking activity.

# %%
fig, axes = plt.subplots(2, 1, figsize=(9, 8.5), layout="constrained")
for ax, net in zip(axes, NETWORKS):
    bars = {f"{mode.replace('mac', 'MAC')} {tech}": evals[net, "taox_hfox_wu2018", tech][mode]
            for tech in TECHS for mode in ("spiking", "mac")}
    w = works[net, "taox_hfox_wu2018"]
    plot_energy_breakdown(bars, ax=ax, title=f"{net} ({w['n_in']}x{w['n_out']} crossbar, "
                                             f"TaOx/HfOx): energy per inference")
plt.show()

# %% [markdown]
# The MAC bars are small on this scale. Here is the same breakdown for kws as
# `neuromem energy` prints it:

# %%
for tech in TECHS:
    print(format_energy_table(evals["kws", "taox_hfox_wu2018", tech]), end="\n\n")

# %% [markdown]
# ## Accuracy against energy
# One colour per (device, preset), one marker per mode, with the two modes of a run joined by
# a line. Accuracy depends only on the device and mode; the preset moves the points
# sideways. MAC-mode accuracy differs from the spiking accuracy because the same weights are
# read by 8-bit converters, not by spike counts.

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), layout="constrained")
for ax, net in zip(axes, NETWORKS):
    points = [dict(evals[net, device, tech], label=f"{device}, {tech}")
              for device in DEVICES for tech in TECHS]
    plot_accuracy_vs_energy(points, ax=ax, title=f"{net}: accuracy against energy")
    ax.set_xlabel("energy per inference (J, log scale)")
handles, labels = axes[0].get_legend_handles_labels()
for ax in axes:
    ax.get_legend().remove()
fig.legend(handles, [lab.replace(" mac", ", MAC (square)").replace(" spiking",
                                                                   ", spiking (circle)")
                     for lab in labels], loc="outside right upper", fontsize=8, frameon=False)
plt.show()

# %% [markdown]
# ## Break-even: at what activity does spiking win?
# For each measured network (TaOx/HfOx devices) and each preset, including the digital-neuron
# `spikesim_65nm`, we vary the spikes per synapse per inference `s`. All else stays as
# measured: the layer shape, the time steps, the output spikes, the conductances and the MAC
# mode's energy. `spiking_events` gives the expected event counts at `s`, and
# `spiking_energy` / `mac_energy` price them, the same functions `benchmarks/breakeven.py`
# uses. Stars mark the runs as measured. A star sits on its curve; for the digital neuron it
# may sit slightly above, because the stored counts give only an upper bound on the steps
# with an input spike. The ratio is 1 at the break-even (dot), and the grey band is
# Dampfhoffer et al.'s 0.15–1.38.

# %%
def ratio(w, tech, s, *, steps=None, adc_bits=None):
    """E_spiking / E_MAC for workload ``w`` at ``s`` spikes per synapse per inference."""
    T = steps or w["steps"]
    t_in = max(1, round(w["input_steps"] * T / w["steps"]))
    ev, active = spiking_events(w["n_in"], w["n_out"], spikes_per_input=min(s, t_in), steps=T,
                                input_steps=t_in, output_spikes_per_neuron=w["r"],
                                mapping=w["mapping"], winner_take_all=w["wta"])
    e_spk = spiking_energy(ev, w["stats"], w["device"], tech, n_inferences=1, n_in=w["n_in"],
                           active_steps=active).energy_per_inference_J
    mc = w["mac"]
    e_mac = mac_energy(mc["counts"], tech, dac_bits=mc["dac_bits"],
                       adc_bits=adc_bits or mc["adc_bits"], n_in=mc["n_in"], n_out=mc["n_out"],
                       device=w["device"], conductance=ConductanceStats.from_dict(
                           mc["conductance"]), n_inferences=mc["n_inferences"],
                       dac_mode=mc["dac_mode"], adc_share=mc["adc_share"]
                       ).energy_per_inference_J
    return e_spk / e_mac


def breakeven(w, tech, **kw):
    """s* with ratio(s*) = 1 on [1e-4, input steps] (bisection in log s, as
    benchmarks/breakeven.py); None if MAC wins at any activity, inf if spiking always wins."""
    lo, hi = 1e-4, float(w["input_steps"] * (kw.get("steps") or w["steps"]) / w["steps"])
    if ratio(w, tech, lo, **kw) >= 1:
        return None
    if ratio(w, tech, hi, **kw) < 1:
        return math.inf
    for _ in range(40 if QUICK else 60):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if ratio(w, tech, mid, **kw) < 1 else (lo, mid)
    return math.sqrt(lo * hi)


ALL_TECHS = list(list_techs())
POINTS = 25 if QUICK else 60
fig, axes = plt.subplots(1, 2, figsize=(13, 5), layout="constrained")
summary = {}
for ax, net in zip(axes, NETWORKS):
    w = works[net, "taox_hfox_wu2018"]
    xs = np.sort(np.append(np.logspace(-3, math.log10(w["input_steps"]), POINTS), w["s"]))
    curves = []
    for k, tech in enumerate(ALL_TECHS):
        s_star = breakeven(w, tech)
        summary[net, tech] = s_star
        curves.append({"label": f"{tech}: break-even " + (
            "never (MAC wins)" if s_star is None else f"{s_star:.3g}"),
            "x": xs, "ratio": [ratio(w, tech, x) for x in xs], "color": f"C{k}",
            "breakeven_x": s_star if s_star not in (None, math.inf) else None})
    plot_breakeven(curves, ax=ax, reference=(*DAMPFHOFFER, "Dampfhoffer et al. 2023"),
                   title=f"{net}: {w['n_in']}x{w['n_out']}, {w['steps']} steps/inference, "
                         f"{w['mac']['adc_bits']}-bit ADC (★ as measured)")
    for k, tech in enumerate(ALL_TECHS):
        ax.plot([w["s"]], [evals[net, "taox_hfox_wu2018", tech]["ratio_spiking_over_mac"]],
                "*", ms=13, color=f"C{k}", mec="k", mew=0.6)
    ax.axvline(w["s"], color="k", ls=":", lw=0.8)
    ax.annotate(f"measured: {w['s']:.2g}", (w["s"], ax.get_ylim()[0]), xytext=(-4, 4),
                textcoords="offset points", rotation=90, ha="right", va="bottom", fontsize=8)
plt.show()
for net in NETWORKS:
    w = works[net, "taox_hfox_wu2018"]
    print(f"{net}: measured {w['s']:.2f} spikes per synapse per inference; break-even " +
          ", ".join(f"{t} {'never' if summary[net, t] is None else f'{summary[net, t]:.2g}'}"
                    for t in ALL_TECHS))

# %% [markdown]
# ## What moves the break-even: converter bits and time steps
# On the kws layer, the left panel varies the MAC mode's ADC resolution, which sets the
# price of every conversion. The right panel varies the time steps per inference at fixed
# activity per synapse: a neuron charged per step (NeuRRAM's integrator, SpikeSim's digital
# neuron and its per-step partial-sum conversions) pays for every step, while ISAAC's analog
# neuron pays nothing. The dotted line is the measured kws activity; triangles at the bottom
# mean MAC wins at any activity.

# %%
w = works["kws", "taox_hfox_wu2018"]
adc_grid = [4, 6, 8, 10] if QUICK else [4, 5, 6, 7, 8, 9, 10]
step_grid = np.unique(np.geomspace(16, 4 * w["steps"], 5 if QUICK else 10).astype(int))
found_s = {(tech, key, int(v)): breakeven(w, tech, **{key: int(v)})
           for tech in ALL_TECHS for key, grid in (("adc_bits", adc_grid), ("steps", step_grid))
           for v in grid}
finite = [v for v in found_s.values() if v not in (None, math.inf)]
NEVER_Y = min(finite + [0.02]) / 2     # where "MAC wins at any activity" is drawn
fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), layout="constrained", sharey=True)
for k, tech in enumerate(ALL_TECHS):
    for ax, grid, key in ((axes[0], adc_grid, "adc_bits"), (axes[1], step_grid, "steps")):
        s_star = [found_s[tech, key, int(v)] for v in grid]
        ok = [(v, s) for v, s in zip(grid, s_star) if s not in (None, math.inf)]
        never = [v for v, s in zip(grid, s_star) if s is None]
        if ok:
            ax.plot([v for v, _ in ok], [s for _, s in ok], "o-", color=f"C{k}",
                    label=f"{tech}: break-even")
        if never:
            ax.plot(never, [NEVER_Y * 1.25 ** k] * len(never), "v", color=f"C{k}", ms=7,
                    label=f"{tech}: MAC wins at any activity")
for ax, xlabel in zip(axes, ("MAC-mode ADC bits", "time steps per inference")):
    ax.axhspan(*DAMPFHOFFER, color="0.85", zorder=0, label="Dampfhoffer et al. 2023")
    ax.axhline(w["s"], color="k", ls=":", lw=0.9, label="kws activity as measured")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.grid(True, which="both", alpha=0.25)
axes[0].set_ylim(NEVER_Y * 0.7, max(3 * w["s"], 10))
axes[1].set_xscale("log")
axes[1].axvline(w["steps"], color="0.5", lw=0.8)
axes[0].set_ylabel("break-even spikes per synapse per inference")
axes[0].set_title(f"kws layer, {w['steps']} steps: against ADC bits")
axes[1].set_title(f"kws layer, {w['mac']['adc_bits']}-bit ADC: against time steps "
                  "(grey: as run)")
found = {}
for ax in axes:
    for h, lab in zip(*ax.get_legend_handles_labels()):
        found.setdefault(lab, h)
order = [f"{t}: {what}" for t in ALL_TECHS for what in ("break-even",
                                                         "MAC wins at any activity")]
order = [lab for lab in order if lab in found] + [lab for lab in found if lab not in order]
fig.legend([found[lab] for lab in order], order, loc="outside right upper", fontsize=8,
           frameon=False)
plt.show()

# %% [markdown]
# ## What to conclude: what a hardware designer should take from this
# * **Spiking wins only when activity is sparse.** Each input spike costs a row drive, one
#   read of every cell in the row, and an address event through the buffer. The MAC mode
#   pays once per inference, mostly for ADC conversions, whatever the activity. So spiking
#   pays off only below a break-even activity. The periphery sets that activity, not the
#   devices: ideal and TaOx/HfOx cards give nearly the same energies.
# * **Our rate-coded networks run above the break-even.** They see about 15–40 spikes per
#   synapse per inference (table above; kws rises from 14 in the quick setting to 36 with
#   the shipped 1 s presentations, digits sits near 19). That is far above Dampfhoffer et
#   al.'s 0.15–1.38, and above ISAAC's break-even for the same layers: about 1.5 for the kws
#   layer, and 5–13 for the digits layer, whose many output columns make every MAC
#   inference convert more. As run, the MAC mode uses less energy on every preset. Digits
#   on the ISAAC preset with the shipped card comes within 1.5x, with better spiking
#   accuracy, because the MAC readout lacks the adaptive thresholds. To make spiking pay,
#   cut the spikes per inference: shorter presentations, lower rates, latency or delta
#   codes, or stop once the answer is clear. On ISAAC-like periphery, spike routing (16-bit
#   address events through the eDRAM buffer) is the largest spiking cost, so cheaper
#   events help as much as fewer of them.
# * **A per-step neuron cost rules spiking out.** NeuRRAM's integrator costs 0.25 pJ per
#   neuron per step. Over our 300–2,300 steps per inference that alone exceeds a whole MAC
#   inference, so MAC wins at any activity. The digital neuron (SpikeSim) converts a
#   partial sum in every step with an input spike, and it loses too. Both cross only with a
#   few tens of steps, and even then below about 0.5 spikes per synapse, inside or below
#   Dampfhoffer et al.'s range. An analog neuron with no per-step charge (ISAAC preset)
#   makes the break-even independent of the step count: it is the neuron to build if
#   inferences are long.
# * **ADC bits move the break-even, but slowly.** The ADC is the largest MAC cost, so a
#   cheaper, lower-resolution ADC lowers the break-even and a higher one raises it. From 4
#   to 10 bits the ISAAC break-even only about doubles, because the cell reads, DACs and
#   buffer traffic of the MAC mode remain. Converter bits are not the lever that makes
#   spiking win; activity and per-step costs are.
# * **Against Dampfhoffer et al. (0.15–1.38).** Their range compares *digital*
#   accelerators, where every synaptic event moves a weight and SNN neurons are updated
#   every step. In a ReRAM crossbar the weights never move, and the multiply-accumulate is
#   the analog read in both modes, so the periphery decides. With an analog neuron the
#   break-even sits at or above the top of their range (1.5–13 here). With per-step neuron
#   costs it falls into or below their range, the same time-step overhead they identify.
# * **Latency.** In real time (analog membranes with ms time constants) a spiking inference
#   takes its whole presentation, 0.3–1.15 s. The MAC mode takes 0.8 µs on the ISAAC preset:
#   8 bit-serial cycles of 100 ns. Even time-scaled spiking hardware, one 100 ns crossbar
#   cycle per step, needs 30–230 µs, 40–300 times longer.
# * Caveats: no static power (it would add a cost proportional to the steps to the spiking
#   mode); the MAC mode's counts are as run on the real test inputs, while the break-even
#   curves hold the measured layer, steps and output spikes fixed; a single layer. Several
#   preset constants are marked as assumptions in `neuromem/tech/*.toml`.
