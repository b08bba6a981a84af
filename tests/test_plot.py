"""Figures: they are built without pyplot state and show what they claim to show."""

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from neuromem import plot
from neuromem.cards import list_cards, load_device
from neuromem.fit import fit_pulse_device, synthesize_curves
from neuromem.exceptions import ConfigError

US = 1e6


def _line(ax, label):
    lines = [ln for ln in ax.get_lines() if ln.get_label() == label]
    assert len(lines) == 1, f"expected one line labelled {label!r}"
    return lines[0]


def _no_pyplot_figures():
    import matplotlib.pyplot as plt
    return plt.get_fignums()


def test_plot_device_draws_the_closed_form_and_the_variability(tmp_path):
    before = _no_pyplot_figures()
    card = load_device("taox_hfox_wu2018")
    p = card.params
    fig = plot.plot_device(card, np.random.default_rng(0), n_devices=100)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert _no_pyplot_figures() == before  # no global figure was opened
    curves_ax, cloud_ax = fig.axes
    for which in ("ltp", "ltd"):
        line = _line(curves_ax, f"{which.upper()} (closed form)")
        pulses, g = p.curve(which)
        np.testing.assert_allclose(line.get_xdata(), pulses)
        np.testing.assert_allclose(line.get_ydata(), g * US, rtol=1e-12)
    noisy = _line(curves_ax, "LTP, 3 noisy cycles").get_ydata()
    assert np.all(noisy >= p.g_min_S * US * (1 - 1e-12))
    assert np.all(noisy <= p.g_max_S * US * (1 + 1e-12))
    assert "µS" in curves_ax.get_ylabel() and "pulse" in curves_ax.get_xlabel()
    assert "taox_hfox_wu2018" in fig.get_suptitle() and "Wu et al." in fig.get_suptitle()
    # the card has C2C noise but no D2D spread, and the panel says so
    assert "C2C only" in cloud_ax.get_title() and "no D2D" in cloud_ax.get_title()
    median = _line(cloud_ax, "LTP median").get_ydata()
    assert median[0] == pytest.approx(p.g_min_S * US)  # every device starts fully RESET
    assert median[-1] > 0.7 * p.g_max_S * US
    bands = [c for c in cloud_ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 4  # 5-95 % and 25-75 % for LTP and LTD
    path = tmp_path / "taox.png"
    fig.savefig(path, dpi=60)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000


def test_plot_device_with_d2d_spread_and_without_noise():
    base = load_device("taox_hfox_wu2018").params
    spread = base.with_updates(g_max_dtod=0.2, a_dtod=0.3)
    fig = plot.plot_device(spread, np.random.default_rng(1), n_devices=60, title="spread")
    assert "D2D + C2C" in fig.axes[1].get_title() and fig.get_suptitle() == "spread"
    # 20 % D2D on Gmax: the 5-95 % band after a full LTP sweep is far wider than C2C alone
    top = [c for c in fig.axes[1].collections if c.get_label() == "LTP 5-95 %"][0]
    ys = top.get_paths()[0].vertices[:, 1]
    assert ys.max() > 1.1 * base.g_max_S * US

    fig = plot.plot_device("ideal", np.random.default_rng(2), n_devices=10)
    labels = [ln.get_label() for ln in fig.axes[0].get_lines()]
    assert labels == ["LTP (closed form)", "LTD (closed form)"]  # no noisy cycles to draw
    assert "no C2C noise" in fig.axes[0].get_title()
    assert "neither" in fig.axes[1].get_title()


def test_plot_device_into_given_axes_and_bad_axes():
    fig = Figure()
    axes = fig.subplots(1, 2)
    assert plot.plot_device("pcmo_park2013", np.random.default_rng(3), ax=axes,
                            n_devices=10) is fig
    with pytest.raises(ConfigError, match="two Axes"):
        plot.plot_device("pcmo_park2013", np.random.default_rng(3), ax=axes[0])


def test_plot_device_for_a_model_without_closed_form():
    name = "vteam_kvatinsky2015"
    if name not in list_cards("synapse_models"):
        pytest.skip("no VTEAM card")
    p = load_device(name).params
    fig = plot.plot_device(name, np.random.default_rng(4), n_devices=10)
    ltp = _line(fig.axes[0], "LTP (noise-free)").get_ydata() / US
    assert ltp[0] == pytest.approx(p.g_min_S, rel=1e-6)
    assert ltp[-1] >= p.g_min_S + 0.995 * (p.g_max_S - p.g_min_S)  # sweeps cross the window


def test_overview_small_multiples_and_single_panel():
    names = ["taox_hfox_wu2018", "ag_asi_jo2010", "pcmo_park2013", "ideal", "epiram_choi2018"]
    fig = plot.plot_devices_overview(names, ncols=3)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == len(names) and len(fig.axes) == 6
    for ax, name in zip(visible, names):
        assert ax.get_title().startswith(name)
        p = load_device(name).params
        ltp = _line(ax, "LTP")
        np.testing.assert_allclose(ltp.get_xdata(), p.curve("ltp")[0] / p.p_max)
        expected = (p.curve("ltp")[1] - p.g_min_S) / (p.g_max_S - p.g_min_S)
        np.testing.assert_allclose(ltp.get_ydata(), expected, atol=1e-12)

    one = Figure()
    ax = one.subplots()
    assert plot.plot_devices_overview(names[:2], ax=ax) is one
    assert len(ax.get_lines()) == 4  # LTP and LTD of each card


def test_overview_of_every_built_in_card():
    fig = plot.plot_devices_overview()
    assert sum(ax.get_visible() for ax in fig.axes) == len(list_cards("synapse_models"))


def test_plot_fit_shows_data_and_fitted_curves(tmp_path):
    card = load_device("pcmo_park2013")
    data = synthesize_curves(card, np.random.default_rng(5), cycles=5)
    fit = fit_pulse_device(data.pulse, data.conductance_S, data.direction, cycle=data.cycle)
    fig = plot.plot_fit(fit, data.pulse, data.conductance_S, data.direction, cycle=data.cycle)
    ax = fig.axes[0]
    for which in ("ltp", "ltd"):
        line = _line(ax, f"{which.upper()} fit")
        np.testing.assert_allclose(line.get_ydata(), fit.curve(which)[1] * US, rtol=1e-12)
        reads = _line(ax, f"{which.upper()} reads")
        assert len(reads.get_ydata()) == np.count_nonzero(data.direction == which)
    legend = ax.get_legend()
    assert "Pmax 49" in legend.get_title().get_text()
    assert "C2C σ" in legend.get_title().get_text()
    path = tmp_path / "fit.png"
    fig.savefig(path, dpi=60)
    assert path.stat().st_size > 10_000
