# %% [markdown]
# # 06 · ReRAM crossbar synapses in a Brian2 network
#
# What this notebook shows: a Brian2 network written the Brian2 way (AdEx `NeuronGroup`,
# `PoissonGroup`, lateral inhibition `Synapses`, `SpikeMonitor`, `StateMonitor`, `run`), whose
# input synapses are a neuromem crossbar of memristive devices learning by STDP:
# `neuromem.brian.CrossbarSynapses` puts a `CrossbarLayer` (here the TaOx/HfOx card:
# nonlinear, 128 levels, cycle-to-cycle noise) between the input and the neurons. The devices
# decide what each STDP pulse does. We watch the conductances with `CrossbarStateMonitor`,
# use `store()`/`restore()` to test without disturbing the learned state, and finally export
# the same crossbar as plain Brian2 `Synapses` equations (`to_brian2_synapses`) — what runs on
# `cpp_standalone` and GPU devices — and check it against the bridge.

# %%
%matplotlib inline
import os

import matplotlib.pyplot as plt
import numpy as np
from brian2 import (Hz, NeuronGroup, Network, PoissonGroup, SpikeGeneratorGroup,
                    SpikeMonitor, StateMonitor, Synapses, TimedArray, defaultclock, mV, ms,
                    nA, nS, pF, prefs, second, seed, siemens, uS)

from neuromem.brian import (CrossbarStateMonitor, CrossbarSynapses, copy_conductances,
                            export_limitations, to_brian2_synapses)
from neuromem.cards import load_device
from neuromem.data.digits import load_digits_split
from neuromem.devices import PulseDevice
from neuromem.layers import CrossbarLayer
from neuromem.plasticity import STDPParams

QUICK = os.environ.get("NEUROMEM_QUICK") == "1"
prefs.codegen.target = "numpy"       # "cython" is faster once compiled
defaultclock.dt = 0.5 * ms
seed(0)                              # Brian2's generator (Poisson input spikes)
rng = np.random.default_rng(0)       # neuromem's side: initial conductances, digit order

# %% [markdown]
# ## The input: handwritten digits 0-3 as Poisson spike trains
# scikit-learn's 8x8 digits, 64 inputs, pixel intensity x 60 Hz, each digit shown for 100 ms
# followed by 50 ms of silence. One `TimedArray` holds the whole schedule.

# %%
x_train, y_train, x_test, y_test = load_digits_split()
classes = [0, 1, 2, 3]
keep = np.isin(y_train, classes)
x_train, y_train = x_train[keep], y_train[keep]
n_show = 80 if QUICK else 400
order = rng.permutation(len(x_train))[:n_show]
images, labels = x_train[order], y_train[order]

T_ON, T_OFF, MAX_RATE = 100 * ms, 50 * ms, 60 * Hz
block = T_OFF                                  # schedule resolution
per = int(round((T_ON + T_OFF) / block))
schedule = np.zeros((n_show * per, 64))
on = int(round(T_ON / block))
for n, img in enumerate(images):
    schedule[n * per:n * per + on] = img
stimulus = TimedArray(schedule * MAX_RATE, dt=block)
duration = n_show * (T_ON + T_OFF)
print(f"{n_show} presentations, {duration}")

# %% [markdown]
# ## The neurons: adaptive exponential integrate-and-fire (Brette & Gerstner 2005)
# Conductance-based excitation `ge` (in siemens) from the crossbar, inhibition `gi` from the
# other neurons (winner-take-all), spike-triggered adaptation `w`.

# %%
N = 16
adex = """
dv/dt = (gL * (EL - v) + gL * DeltaT * exp((v - VT) / DeltaT) + ge * (Ee - v)
         + gi * (Ei - v) - w) / C : volt (unless refractory)
dw/dt = (a * (v - EL) - w) / tau_w : amp
dge/dt = -ge / tau_e : siemens
dgi/dt = -gi / tau_i : siemens
"""
params = dict(C=281 * pF, gL=30 * nS, EL=-70.6 * mV, VT=-50.4 * mV, DeltaT=2 * mV,
              tau_w=1000 * ms, a=4 * nS, b=0.2 * nA, Ee=0 * mV, Ei=-80 * mV,
              tau_e=5 * ms, tau_i=10 * ms, v_cut=-30 * mV, g_inh=100 * nS)
inputs = PoissonGroup(64, rates="stimulus(t, i)", name="inputs")
exc = NeuronGroup(N, adex, threshold="v > v_cut", reset="v = EL; w += b",
                  refractory=2 * ms, method="euler", namespace=params, name="exc")
exc.v = params["EL"]
inhibition = Synapses(exc, exc, on_pre="gi_post += g_inh", namespace=params,
                      name="inhibition")
inhibition.connect(condition="i != j")

# %% [markdown]
# ## The crossbar: 64 x 16 TaOx/HfOx devices, learning with the Querlioz rule
# `CrossbarSynapses(source, target, layer, target_var)` is a Brian2 object: it reads the
# crossbar into `exc.ge` at every input spike (a synapse at full conductance adds
# `w_max = 8 nS`, a Quantity in the unit of `ge`) and turns STDP weight changes into device
# pulses. The Querlioz rule (Querlioz et al., IEEE TNANO 2013) potentiates the inputs that
# spiked within 20 ms before an output spike and depresses all others.

# %%
device = load_device("taox_hfox_wu2018").params
print(f"{device.levels} levels, window {device.g_min_S / 1e-6:g}-{device.g_max_S / 1e-6:g} uS, "
      f"A/Pmax: SET {device.a_ltp_norm:.1f} (nearly linear), RESET {device.a_ltd_norm:.2f}, "
      f"C2C sigma {device.ctoc_sigma:.1%} per pulse")
layer = CrossbarLayer(64, N, device, rng, init=(0.2, 0.6))
g_initial = layer.pos.conductance_S.copy()
stdp = STDPParams(rule="querlioz", a_plus=0.02, a_minus=0.01, window_s=0.02)
syn = CrossbarSynapses(inputs, exc, layer, "ge", w_max=8 * nS, stdp=stdp, name="crossbar")
syn

# %%
spikes = SpikeMonitor(exc, name="spikes")
in_spikes = SpikeMonitor(inputs, name="in_spikes")
trace = StateMonitor(exc, ["v", "w", "ge"], record=[0, 1], dt=0.5 * ms, name="trace")
pixels = [27, 28, 35, 36, 0, 7]     # centre pixels and two corners
g_mon = CrossbarStateMonitor(syn, cells=(pixels * 2, [0] * 6 + [1] * 6), dt=10 * ms,
                             name="g_mon")
net = Network(inputs, exc, inhibition, syn, spikes, in_spikes, trace, g_mon)
net.run(duration, report="text", report_period=20 * second)
print(f"{spikes.num_spikes} output spikes, device events: {syn.events}")

# %% [markdown]
# ## Spikes, membrane potential and adaptation (the first 1.5 s)

# %%
t_max = 1.5 * second
fig, axes = plt.subplots(3, 1, figsize=(9, 7), sharex=True,
                         gridspec_kw={"height_ratios": [2, 1, 1.3]})
sel = in_spikes.t < t_max
axes[0].plot(in_spikes.t[sel] / ms, in_spikes.i[sel], ",", color="0.6")
sel = spikes.t < t_max
axes[0].scatter(spikes.t[sel] / ms, 66 + spikes.i[sel] * 2, s=8, c="C3")
for n in range(int(t_max / (T_ON + T_OFF))):
    axes[0].text(n * (T_ON + T_OFF) / ms + 50, 66 + 2 * N + 2, str(labels[n]), ha="center")
axes[0].set_ylim(-2, 66 + 2 * N + 8)
axes[0].set_ylabel("inputs | neurons")
sel = trace.t < t_max
for n in (0, 1):
    axes[1].plot(trace.t[sel] / ms, trace.v[n][sel] / mV, lw=0.8, label=f"neuron {n}")
    axes[2].plot(trace.t[sel] / ms, trace.w[n][sel] / nA, lw=0.8)
axes[1].set_ylabel("v (mV)")
axes[1].legend(loc="upper right", fontsize=8)
axes[2].set_ylabel("adaptation w (nA)")
axes[2].set_xlabel("time (ms)")
fig.tight_layout()

# %% [markdown]
# ## Conductances over time, recorded like a StateMonitor
# `g_mon.t` and `g_mon.g` are Quantities (`g_mon.g[k]` is cell k's trace). Pulses move the
# devices in nonlinear, noisy steps within [g_min, g_max].

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
for col, ax in enumerate(axes):
    for n, pixel in enumerate(pixels):
        ax.plot(g_mon.t / second, g_mon.g[col * 6 + n] / uS, lw=1, label=f"pixel {pixel}")
    ax.set_title(f"column {col} (neuron {col})")
    ax.set_xlabel("time (s)")
axes[0].set_ylabel("G (uS)")
axes[1].legend(fontsize=7, ncol=2)
fig.tight_layout()

# %% [markdown]
# ## Learned receptive fields: each column of the crossbar as an 8x8 image

# %%
fig, axes = plt.subplots(2, N, figsize=(N * 0.75, 1.9))
g_learned = syn.g / siemens
for col in range(N):
    axes[0, col].imshow(g_initial[:, col].reshape(8, 8), cmap="viridis",
                        vmin=device.g_min_S, vmax=device.g_max_S)
    axes[1, col].imshow(g_learned[:, col].reshape(8, 8), cmap="viridis",
                        vmin=device.g_min_S, vmax=device.g_max_S)
    for ax in axes[:, col]:
        ax.set_xticks([])
        ax.set_yticks([])
axes[0, 0].set_ylabel("before")
axes[1, 0].set_ylabel("after")
fig.tight_layout()

# %% [markdown]
# ## Test without learning, then restore
# `net.store()` saves the whole network — including the crossbar's conductances, STDP traces
# and noise generator. With `syn.learn = False` we present held-out digits and label each
# neuron by the class it answers most; `net.restore()` then brings everything back, as if
# the test never happened.

# %%
net.store("trained")
syn.learn = False
keep = np.isin(y_test, classes)
n_test = 60 if QUICK else 200
x_eval, y_eval = x_test[keep][:n_test], y_test[keep][:n_test]
schedule_eval = np.zeros((n_test * per, 64))
for n, img in enumerate(x_eval):
    schedule_eval[n * per:n * per + on] = img
t_start = net.t
# the PoissonGroup reads `stimulus` at absolute time t: a new schedule starting now
stimulus = TimedArray(np.concatenate([np.zeros((int(round(t_start / block)), 64)),
                                      schedule_eval]) * MAX_RATE, dt=block)
n_before = spikes.num_spikes
net.run(n_test * (T_ON + T_OFF))
t_rel = np.asarray((spikes.t[n_before:] - t_start) / (T_ON + T_OFF)).astype(int)
counts = np.zeros((n_test, N))
np.add.at(counts, (t_rel, np.asarray(spikes.i[n_before:])), 1)
responses = np.array([counts[y_eval == c].mean(axis=0) for c in classes])
neuron_label = np.where(responses.max(axis=0) > 0, np.array(classes)[responses.argmax(axis=0)],
                        -1)   # -1: silent during the test
votes = np.array([[counts[n, neuron_label == c].sum() for c in classes]
                  for n in range(n_test)])
answered = votes.sum(axis=1) > 0
accuracy = np.mean(np.array(classes)[votes.argmax(axis=1)][answered] == y_eval[answered])
print(f"neuron labels {neuron_label.tolist()}; accuracy on {answered.sum()} answered test "
      f"digits: {accuracy:.0%} (chance {1 / len(classes):.0%})")
net.restore("trained")
syn.learn = True
print(f"restored: t = {net.t}, {spikes.num_spikes} spikes recorded (the test's are gone)")

# %% [markdown]
# The restore covers the devices too: one more second with learning on moves the
# conductances; `restore` puts every one of them back.

# %%
g_trained = syn.g.copy()
net.run(1 * second)
moved = np.abs(syn.g - g_trained).max()
net.restore("trained")
print(f"largest conductance change after 1 s of learning: {moved / uS:.2f} uS; "
      f"after restore: {np.abs(syn.g - g_trained).max() / uS:.2f} uS")

# %% [markdown]
# ## The same crossbar as Brian2 equations
# `to_brian2_synapses` writes the read and the device-aware STDP as ordinary Brian2
# `Synapses` code: the pulse model's closed-form update (invert G -> pulse number, add the
# pulses, read the curve, clip), its LTP/LTD asymmetry and the STDP rule. Nothing of neuromem
# runs at simulation time, so it also runs in `cpp_standalone` (and on GPU devices), where
# the runtime bridge is refused. What cannot be written deterministically is listed — the
# TaOx card's noise and discrete levels would need Brian2's `rand()`/`randn()`:

# %%
for reason in export_limitations(layer):
    print("-", reason)

# %% [markdown]
# With a noise-free nonlinear card the export and the bridge compute the same thing. Fixed
# input spike trains, 1 s of learning, both ways:

# %%
smooth = PulseDevice(g_min_S=1e-6, g_max_S=1e-5, levels=101, a_ltp=0.5, a_ltd=0.3,
                     continuous=True)
steps = rng.random((2000, 64)) < 30 * Hz * defaultclock.dt
t_idx, i_idx = np.nonzero(steps)


def run_once(mode):
    crossbar = CrossbarLayer(64, N, smooth, np.random.default_rng(1), init=(0.2, 0.6))
    src = SpikeGeneratorGroup(64, i_idx, t_idx * defaultclock.dt, name=f"src_{mode}")
    tgt = NeuronGroup(N, adex, threshold="v > v_cut", reset="v = EL; w += b",
                      refractory=2 * ms, method="euler", namespace=params, name=f"tgt_{mode}")
    tgt.v = params["EL"]
    inh = Synapses(tgt, tgt, on_pre="gi_post += g_inh", namespace=params, name=f"inh_{mode}")
    inh.connect(condition="i != j")
    if mode == "bridge":
        s = CrossbarSynapses(src, tgt, crossbar, "ge", w_max=8 * nS, stdp=stdp,
                             name=f"x_{mode}")
    else:
        s = to_brian2_synapses(crossbar, src, tgt, stdp, target_var="ge", w_max=8 * nS,
                               name=f"x_{mode}")
    mon = SpikeMonitor(tgt, name=f"mon_{mode}")
    Network(src, tgt, inh, s, mon).run(1 * second, namespace={})
    if mode == "export":
        copy_conductances(s, crossbar)
    return mon.it, crossbar, s


(it_b, layer_b, _), (it_e, layer_e, exported) = run_once("bridge"), run_once("export")
print(f"output spikes: bridge {len(it_b[0])}, export {len(it_e[0])}, identical: "
      f"{np.array_equal(it_b[0], it_e[0]) and np.array_equal(it_b[1], it_e[1])}")
print(f"largest relative conductance difference: "
      f"{np.max(np.abs(layer_b.pos.g - layer_e.pos.g) / layer_b.pos.g):.1e}")
print("\non_post code of the exported Synapses:\n" + exported.post.code)

# %% [markdown]
# To run the exported network standalone, nothing else changes:
#
# ```python
# from brian2 import set_device
# set_device("cpp_standalone", directory="crossbar_standalone")
# ...  # build the groups and syn = to_brian2_synapses(layer, src, tgt, stdp)
# run(1 * second)                      # generates, compiles and runs the C++ project
# copy_conductances(syn, layer)        # the learned conductances back into the layer
# ```
#
# whereas `CrossbarSynapses` raises `StandaloneDeviceError` there (a standalone device would
# silently skip its network operation).

# %% [markdown]
# ## What to conclude
#
# - A neuromem crossbar is one more Brian2 object: `CrossbarSynapses` sits between any
#   spiking groups, takes Quantities at its boundary (`w_max = 8 nS` into `ge` in siemens),
#   learns with real device behaviour (nonlinear, quantised, noisy pulses) and is monitored,
#   stored and restored like the rest of the network.
# - The AdEx neurons with winner-take-all inhibition and spike-triggered adaptation learn
#   digit-like receptive fields in the devices' conductances (the Querlioz rule drives the
#   background pixels towards g_min). Labelled by their test responses, 16 neurons classify
#   held-out digits 0-3 at about 50-60 % (chance 25 %): a small, short, unsupervised run on
#   noisy devices, shown for the workflow rather than the accuracy (notebook 02 is the
#   accuracy study).
# - For standalone and GPU devices, `to_brian2_synapses` writes the same crossbar as Brian2
#   equations; on a noise-free card it reproduces the bridge's spikes exactly and its
#   conductances to round-off. Noise and discrete levels are expressible only with Brian2's
#   random numbers (equal in distribution), so the export asks before using them.
