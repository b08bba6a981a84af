# %% [markdown]
# # 01 · Memristive devices
#
# What this notebook shows: every built-in device card side by side (potentiation and
# depression under identical pulses), one published device in detail with its device-to-device
# (D2D) and cycle-to-cycle (C2C) variability, the pinched hysteresis loop of a physics model
# under a sinusoidal voltage, and a pulse-model card fitted to measured curves.
#
# All numbers come from `synapse_models/*.toml`; each card names its source.

# %%
%matplotlib inline
import os

import matplotlib.pyplot as plt
import numpy as np

from neuromem.cards import list_cards, load_device
from neuromem.plot import plot_device, plot_devices_overview, plot_fit

QUICK = os.environ.get("NEUROMEM_QUICK") == "1"
rng = np.random.default_rng(2026)

# %% [markdown]
# ## The cards
# Conductance window, number of levels and nonlinearity differ by orders of magnitude between
# technologies; the curves below are normalised to each device's window.

# %%
for name in list_cards("synapse_models"):
    card = load_device(name)
    p = card.params
    print(f"{name:22s} {card.kind:10s} g_max {p.g_max_S:9.3g} S  on/off {p.on_off_ratio:7.3g}  "
          f"{card.summary}")

# %%
fig = plot_devices_overview(rng=rng)
fig

# %% [markdown]
# ## One device in detail: TaOx/HfOx (Wu et al., VLSI 2018)
# Left: the closed-form potentiation/depression curves and a few noisy cycles; right: the
# spread of conductance after each pulse over many sampled devices. With the card's own
# parameters only C2C noise acts; adding 20 % D2D spread of G_max shows what a real array of
# devices looks like.

# %%
taox = load_device("taox_hfox_wu2018")
fig = plot_device(taox, rng, n_devices=100 if QUICK else 300)
fig

# %%
spread = taox.params.with_updates(g_max_dtod=0.2, a_dtod=0.2)
fig = plot_device(spread, rng, n_devices=100 if QUICK else 300,
                  title="TaOx/HfOx with 20 % D2D spread of G_max and A")
fig

# %% [markdown]
# ## The memristor fingerprint: a pinched hysteresis loop
# The HP TiO2 device (linear ion drift, Strukov et al. 2008) driven by a sinusoid: the current
# is zero whenever the voltage is zero, and the loop shrinks as the frequency rises.

# %%
from neuromem.devices.physics import drive_waveform

hp = load_device("hp_tio2_strukov2008").params.with_updates(x_init=0.1)
fig, ax = plt.subplots(figsize=(5.5, 4.5))
for f_hz in (1.0, 2.0, 5.0):
    cells = hp.make_array((1,), np.random.default_rng(0))
    t = np.linspace(0, 2 / f_hz, 1000 if QUICK else 4000)
    v = 1.2 * np.sin(2 * np.pi * f_hz * t)
    i, _ = drive_waveform(cells, v, t[1] - t[0])
    ax.plot(v, 1e3 * i[:, 0], label=f"{f_hz:g} Hz")
ax.set_xlabel("voltage (V)")
ax.set_ylabel("current (mA)")
ax.set_title("HP TiO2, linear ion drift: pinched hysteresis")
ax.legend()
plt.show()

# %% [markdown]
# ## Fitting a card to measured curves
# `neuromem device fit CURVES.csv -o CARD.toml` does the same from the command line. Here the
# "measurement" is synthesised from the Ag:a-Si card (its C2C noise included), written as CSV,
# fitted, and written back as a card that loads like any other.

# %%
import tempfile
from pathlib import Path

from neuromem.fit import fit_curves_csv, synthesize_curves

truth = load_device("ag_asi_jo2010").params
curves = synthesize_curves(truth, np.random.default_rng(7), cycles=5 if QUICK else 20)
folder = Path(tempfile.mkdtemp())
curves.to_csv(folder / "curves.csv")
fit = fit_curves_csv(folder / "curves.csv")
print(fit.summary())
(folder / "my_device.toml").write_text(fit.to_card("my_device", "synthesised from ag_asi_jo2010"))
fitted = load_device(str(folder / "my_device.toml")).params
for key in ("g_min_S", "g_max_S", "levels", "ctoc_sigma"):
    print(f"{key:12s} true {getattr(truth, key):10.4g}   fitted {getattr(fitted, key):10.4g}")
print(f"A_LTP/Pmax   true {truth.a_ltp_norm:10.4g}   fitted {fitted.a_ltp_norm:10.4g}")
print(f"A_LTD/Pmax   true {truth.a_ltd_norm:10.4g}   fitted {fitted.a_ltd_norm:10.4g}")

# %%
fig = plot_fit(fit, curves.pulse, curves.conductance_S, curves.direction, cycle=curves.cycle)
fig

# %% [markdown]
# ## What to conclude
# * Published devices differ most in **nonlinearity** and **number of levels**: EpiRAM and
#   TaOx/HfOx are nearly linear, PCMO and Ag:a-Si saturate quickly, GST depresses abruptly.
# * C2C noise of a few percent per pulse is comparable to one level step of a 100-level device,
#   so learning rules must average over many pulses; D2D spread of G_max changes each
#   synapse's range, which per-column normalisation can compensate (notebook 02).
# * The physics models reproduce the pinched hysteresis that defines a memristor.
# * A fitted card recovers the window and noise from a few cycles; the nonlinearity A needs
#   many cycles when C2C noise is large (the fit reports its uncertainty).
