# %% [markdown]
# # 02 · Unsupervised STDP on handwritten digits, in the crossbar
#
# What this notebook shows: the `digits_stdp` network (Poisson pixels of scikit-learn's real
# 8x8 handwritten digits -> one crossbar of memristive synapses -> adaptive LIF neurons with
# winner-take-all inhibition) learning without labels, by STDP pulses applied to the devices.
# We look at the learned receptive fields (conductance maps), the confusion matrix, the
# conductances before and after learning, a spike raster, and accuracy per device card.
#
# `neuromem run digits_stdp` runs the same thing from the command line.

# %%
%matplotlib inline
import os

import matplotlib.pyplot as plt
import numpy as np

from neuromem.cards import load_device, load_network_data
from neuromem.plot import (plot_conductance_histograms, plot_confusion, plot_raster,
                           plot_receptive_fields)
from neuromem.tasks.digits import run_digits

QUICK = os.environ.get("NEUROMEM_QUICK") == "1"
overrides = {"data.n_train": 400} if QUICK else {}
data, path, device_overrides = load_network_data("digits_stdp", overrides, quick=QUICK)
print(f"card {path.name}: device {data['device']}, {data['network']['n_exc']} neurons, "
      f"{data['data']['epochs']} epoch(s)")

# %% [markdown]
# ## Train (progress bars), label the neurons, test on the held-out split

# %%
result = run_digits(data, path=path, device_overrides=device_overrides, seed=0, progress=True,
                    raster_samples=1)
for key, value in result.table:
    print(f"{key:30s} {value}")

# %% [markdown]
# ## Learned receptive fields
# Each map is one neuron's column of the crossbar: the conductances it learned, one per pixel.
# The number above is the class the neuron answers most on the training set.

# %%
state = result.state
fig = plot_receptive_fields(state["g_pos_S"], (8, 8), labels=state["neuron_labels"], n_max=60)
fig

# %%
fig = plot_confusion(state["confusion"])
fig

# %% [markdown]
# ## Conductances before and after learning
# Learning drives the devices towards the edges of their window: background pixels to g_min,
# the strokes of each neuron's digit towards g_max.

# %%
device = load_device(data["device"]).params
fig = plot_conductance_histograms(state["g_initial_S"], state["g_pos_S"],
                                  g_min_S=device.g_min_S, g_max_S=device.g_max_S)
fig

# %% [markdown]
# ## One test digit: the spike raster
# Neurons are coloured by their label; the winner-take-all inhibition lets few neurons fire.

# %%
resolved = result.cards["resolved"]["network"]
fig = plot_raster(result.raster[0], dt_s=resolved["dt_s"], n_neurons=resolved["n_exc"],
                  labels=state["neuron_labels"],
                  t_present_s=resolved["t_present_test_s"] or resolved["t_present_s"],
                  title=f"test digit {state['test_labels'][0]}: spike raster")
fig

# %% [markdown]
# ## Accuracy per device card
# The same network and learning rule with each device card: nonlinearity, number of levels
# and cycle-to-cycle noise all act on learning.

# %%
cards = ["ideal", "epiram_choi2018", "taox_hfox_wu2018", "ag_asi_jo2010"]
small = {"data.n_train": 300, "network.n_exc": 40, "data.epochs": 1} if QUICK else {}
accuracy = {}
for name in cards:
    d, p, dev = load_network_data("digits_stdp", {**small, "device": name})
    accuracy[name] = run_digits(d, path=p, device_overrides=dev, seed=0).metrics["accuracy"]
    print(f"{name:20s} {100 * accuracy[name]:5.1f} %")
fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(list(accuracy), [100 * a for a in accuracy.values()], color="C0")
ax.set_ylabel("test accuracy (%)")
ax.set_ylim(0, 100)
ax.set_title("digits_stdp accuracy per device card" + (" (quick setting)" if QUICK else ""))
plt.show()

# %% [markdown]
# ## What to conclude
# * Unsupervised STDP with winner-take-all learns digit prototypes directly in the device
#   conductances; labelling neurons after learning turns them into a classifier.
# * Devices matter: nonlinearity and cycle-to-cycle noise make the receptive fields noisier
#   and cost accuracy; per-column gain normalisation (a digital periphery setting, not a
#   rewrite of the devices) keeps device-to-device spread of G_max from dominating.
# * The README's table gives the full-setting accuracies (mean of 3 seeds) per card.
