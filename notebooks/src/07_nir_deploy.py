# %% [markdown]
# # 07 · A NIR network deployed on ReRAM crossbars
#
# What this notebook shows: a spiking network that neuromem did not build, written as a
# NIR graph (the Neuromorphic Intermediate Representation that snnTorch, Norse, Sinabs,
# Rockpool, Lava-DL and others export), imported with `neuromem.nir.from_nir` and run on
# three device cards: the ideal card and two published ReRAM devices. Every weight matrix
# becomes a crossbar programmed as a chip is (levels, nonlinearity, cycle-to-cycle noise);
# the network runs event-driven (spikes select rows) and as a DAC/crossbar/ADC accelerator,
# and we compare accuracy, energy per inference and the NeuroBench metrics side by side.
# The command line does the same: `neuromem evaluate NET.nir --device CARD --dataset
# sklearn_digits`.

# %%
%matplotlib inline
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import nir
import numpy as np

from neuromem.cards import load_device
from neuromem.data.digits import load_digits_split
from neuromem.nir import from_nir
from neuromem.nir.evaluate import evaluate_graph

QUICK = os.environ.get("NEUROMEM_QUICK") == "1"   # nothing here is slow: same either way
work = Path(tempfile.mkdtemp())

# %% [markdown]
# ## A network built elsewhere: class templates as a NIR graph
# Any framework would do; here the graph is written with the `nir` package alone, so that
# nothing of neuromem goes into it. One `Affine` layer (64 pixels -> 10 classes) whose
# weights are the training split's class-mean images (contrast-normalised), into `CubaLIF`
# neurons (current synapse 5 ms, membrane 20 ms, threshold 5 mV above rest). Weights are in
# NIR's continuous-time units: one input spike (a Dirac of unit area) through weight `W`
# makes the synaptic current jump by `w_in W / tau_syn`.

# %%
x_tr, y_tr, x_te, y_te = load_digits_split(0.3, 0)
templates = np.stack([x_tr[y_tr == c].mean(axis=0) for c in range(10)])     # (10, 64)
templates -= templates.mean(axis=0, keepdims=True)
templates /= np.abs(templates).max()

ones = np.ones(10)
graph = nir.NIRGraph(
    nodes={"input": nir.Input(input_type={"input": np.array([64])}),
           "fc": nir.Affine(weight=templates * 5e-5, bias=np.zeros(10)),
           "lif": nir.CubaLIF(tau_syn=ones * 0.005, tau_mem=ones * 0.02, r=ones, w_in=ones,
                              v_leak=ones * 0.0, v_threshold=ones * 0.005,
                              v_reset=ones * 0.0),
           "output": nir.Output(output_type={"output": np.array([10])})},
    edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
path = work / "templates.nir"
nir.write(path, graph)
print(f"{path.name}: {path.stat().st_size:,} bytes;", ", ".join(
    f"{k} ({type(v).__name__})" for k, v in nir.read(path).nodes.items()))

# %% [markdown]
# ## Imported onto three device cards
# The graph has no neuromem metadata, so the time step and the presentation come from us
# (0.5 ms steps, 200 ms per digit). The digits are encoded as neuromem's digits task
# encodes them: Poisson spike trains at 63.75 Hz for a full-intensity pixel. On a card
# with levels the programmed weights differ from the targets by up to half a level step
# and, with cycle-to-cycle noise, by the scatter of each pulse.

# %%
cards = ["ideal", "taox_hfox_wu2018", "pcmo_park2013"]
options = {"dt_s": 5e-4, "t_present_s": 0.2}
results, programmed = {}, {}
for name in cards:
    card = load_device(name)
    results[name] = evaluate_graph(path, card, "sklearn_digits", import_options=options)
    layer = from_nir(path, card, **options).layer
    programmed[name] = layer.weights() * layer.w_max      # volts per spike on the current
    print(f"{name:18s} {card.summary}")

# %%
header = (f"{'card':18s} {'accuracy':>9s} {'MAC acc.':>9s} {'spiking nJ':>11s} "
          f"{'MAC nJ':>8s} {'eff. ACs':>9s} {'eff. MACs':>10s} {'act. sparsity':>14s}")
print(header)
for name, ev in results.items():
    nb, e = ev["neurobench"], ev["energy"]
    print(f"{name:18s} {100 * ev['accuracy']:8.1f}% {100 * ev['mac_accuracy']:8.1f}% "
          f"{e['spiking_J_per_inference'] * 1e9:11.3f} {e['mac_J_per_inference'] * 1e9:8.3f} "
          f"{nb['spiking']['synaptic_operations']['Effective_ACs']:9,.0f} "
          f"{nb['mac']['synaptic_operations']['Effective_MACs']:10,.0f} "
          f"{nb['spiking']['activation_sparsity']:14.4f}")
float_acc = np.mean((x_te @ templates.T).argmax(axis=1) == y_te)
print(f"\nthe same templates as a float dot product (no spikes, no devices): "
      f"{100 * float_acc:.1f} %")

# %% [markdown]
# ## Accuracy, energy and the programmed weights side by side

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
pos = np.arange(len(cards))
for k, (mode, key) in enumerate((("spiking", "accuracy"), ("MAC", "mac_accuracy"))):
    axes[0].bar(pos + (k - 0.5) * 0.38, [100 * results[c][key] for c in cards], 0.38,
                label=mode)
axes[0].axhline(100 * float_acc, color="k", lw=0.8, ls="--", label="float templates")
axes[0].set_ylabel("test accuracy (%)")
axes[0].set_ylim(0, 100)
for k, (mode, key) in enumerate((("spiking", "spiking_J_per_inference"),
                                 ("MAC", "mac_J_per_inference"))):
    axes[1].bar(pos + (k - 0.5) * 0.38, [results[c]["energy"][key] * 1e9 for c in cards],
                0.38, label=mode)
axes[1].set_ylabel(f"energy / inference (nJ, {results['ideal']['energy']['tech']})")
for ax in axes[:2]:
    ax.set_xticks(pos, [c.split("_")[0] for c in cards])
    ax.legend(fontsize=8)
target = programmed["ideal"].ravel()
for name in cards[1:]:
    axes[2].plot(target * 1e3, programmed[name].ravel() * 1e3, ".", ms=2,
                 label=name.split("_")[0])
axes[2].plot(target * 1e3, target * 1e3, "k-", lw=0.8)
axes[2].set_xlabel("target weight (mV per spike)")
axes[2].set_ylabel("programmed weight (mV per spike)")
axes[2].legend(fontsize=8, markerscale=4)
fig.suptitle("A NIR graph on three device cards (sklearn digits test split)")
fig.tight_layout()

# %% [markdown]
# ## What to conclude
# * **The graph runs as written.** On the ideal card the imported network scores about as
#   well as its float templates; the gap is the spike-count noise of 200 ms of Poisson
#   input, not the import (an exported neuromem network re-imports spike for spike:
#   `tests/test_nir.py`).
# * **The devices decide what is lost.** Programming the same weights open loop into real
#   cells quantises them to the card's levels along its nonlinear pulse curve and adds
#   cycle-to-cycle scatter that grows as the square root of the pulses a cell gets. PCMO
#   (under 1 % C2C) lands close to its targets and keeps the ideal card's accuracy; TaOx/HfOx
#   (3.7 % C2C per pulse, 128 levels, tens of pulses per cell) scatters its weights widely
#   (right panel) and loses about a quarter of the accuracy in both modes. Closed-loop
#   write-verify programming, which such chips use, would be the cure (not modelled here).
# * **Energy follows the events and the conductances.** The synaptic operations
#   (NeuroBench's Effective_ACs for the spiking mode, Effective_MACs for the MAC mode) are
#   the same on every card; the energy per inference moves with each card's conductances
#   (cell reads) and its output spikes only, because the periphery (ISAAC 32 nm preset) is
#   the same.
# * From the command line: `neuromem evaluate templates.nir --device pcmo_park2013
#   --dataset sklearn_digits --set nir.dt_s=0.0005 --set nir.t_present_s=0.2 --json`.
