"""One read model for both execution modes: wire resistance (IR drop) and read noise.

The spiking engine reads the rows active in one time step together; with wire resistance it
reads the tiles' transfer conductances, which by superposition (the network is linear) give
exactly what the IR-drop solve of those rows gives.
"""

import numpy as np
import pytest

from neuromem.cards import load_device
from neuromem.exceptions import ConfigError
from neuromem.layers import CrossbarLayer, Population
from neuromem.network import Network
from neuromem.neurons import LIFParams
from neuromem.plasticity import STDPParams
from neuromem.tasks.compare import EnergySection, mac_mode

DT = 1e-3
#: current-based LIF: input per spike w_max x weight, no leak of ge within one step
LIF = LIFParams(synapse="current", tau_mem_s=0.02, v_thresh_V=-0.060, v_reset_V=-0.065,
                tau_exc_s=0.005, t_ref_s=0.002)


def _card(r_wire=0.0, **changes):
    return load_device("ideal").params.with_updates(r_wire_Ohm=r_wire, **changes)


def _one_step_ge(layer, active):
    """Excitatory input after one time step in which exactly the rows ``active`` spike
    (rate x dt = 1 on them, 0 elsewhere; ge starts at 0 and is read after the step)."""
    net = Network(layer, Population(layer.n_out, LIF), STDPParams(), dt_s=DT,
                  t_present_s=DT, t_rest_s=0.0, seed=0)
    rates = np.zeros((1, layer.n_in))
    rates[0, active] = 1.0 / DT
    run = net.run(rates, raster=True)
    assert run.events["input_spikes"] == len(active)
    return net.population.state.ge.copy()


@pytest.mark.parametrize("mapping", ["single", "differential"])
def test_one_cell_with_wire_resistance_matches_the_closed_form_in_both_modes(mapping):
    # driver -- r -- cell G -- r -- virtual ground: I = V / (2 r + 1 / G) per array
    r = 5e3                                   # large, so the drop is ~4 % of the read
    layer = CrossbarLayer(1, 1, _card(r), np.random.default_rng(0), mapping=mapping,
                          init=(0.6, 0.6))
    v = layer.device.v_read_V

    def cell(g):
        return 1.0 / (2.0 * r + 1.0 / g)

    g_pos = layer.pos.conductance_S[0, 0]
    if mapping == "differential":
        i_ref = v * cell(layer.neg.conductance_S[0, 0])   # G- sits on wires of its own
    else:
        i_ref = v * layer.device.g_min_S                 # the ideal reference
    expect_i = v * cell(g_pos) - i_ref
    assert abs(expect_i / (v * (g_pos - (layer.neg.conductance_S[0, 0] if layer.differential
                                         else 0.0))) - 1) > 0.01      # the drop is visible
    xbar = layer.crossbar()
    np.testing.assert_allclose(xbar.column_currents(np.array([v])), [expect_i], rtol=1e-9)
    np.testing.assert_allclose(xbar.transfer_conductances()[0], [[cell(g_pos)]], rtol=1e-9)
    # spiking mode: one spike delivers that current times the column gain
    ge = _one_step_ge(layer, [0])
    np.testing.assert_allclose(ge, expect_i * layer.gain, rtol=1e-9)


@pytest.mark.parametrize("mapping", ["single", "differential"])
def test_spiking_rows_of_one_step_are_read_together_through_the_ir_drop_model(mapping):
    layer = CrossbarLayer(128, 128, _card(20.0), np.random.default_rng(1), mapping=mapping,
                          init=(0.0, 1.0) if mapping == "single" else (-1.0, 1.0))
    layer.normalize_columns(0.3)
    active = np.sort(np.random.default_rng(2).choice(128, 50, replace=False))
    ge = _one_step_ge(layer, active)
    v = np.zeros(128)
    v[active] = layer.device.v_read_V
    xbar = layer.crossbar()
    i_solve = xbar.column_currents(v)               # IR-drop solve of these 50 rows at once
    np.testing.assert_allclose(ge, i_solve * layer.gain, rtol=1e-7,
                               atol=1e-9 * np.abs(i_solve * layer.gain).max())
    # and the drop is real: ideal wires would give noticeably more
    ideal = v @ (xbar.effective_conductance())
    assert np.max(np.abs(i_solve - ideal)) > 0.02 * np.max(np.abs(ideal))


def test_accuracy_of_both_modes_falls_with_wire_resistance_on_a_128x128_tile():
    """16 random prototypes, 8 neurons each, on one 128 x 128 tile of the ideal card; test
    inputs flip 12 % of a prototype's pixels. Column currents sag along the wires (far
    columns and rows lose most), so with rising wire resistance both modes confuse classes.
    Measured (seeds as here): MAC 1.0, 0.99, 0.59, 0.34 and spiking 1.0, 1.0, 0.615, 0.365
    at 0, 30, 100, 300 Ohm per segment."""
    rng = np.random.default_rng(0)
    n, k, n_test = 128, 16, 200
    proto = (rng.random((k, n)) < 0.3).astype(float)
    cls_of = np.repeat(np.arange(k), n // k)
    w = proto[cls_of].T / proto[cls_of].T.sum(axis=0, keepdims=True)
    w /= w.max()
    y = rng.integers(0, k, n_test)
    x = np.abs(proto[y] - (rng.random((n_test, n)) < 0.12))
    acc = {}
    for r in (0.0, 30.0, 100.0, 300.0):
        layer = CrossbarLayer(n, n, _card(r), np.random.default_rng(1), init=(0.0, 0.0),
                              w_max=0.004)
        layer.set_weights(w)
        y_mac, _, _ = mac_mode(layer, x, EnergySection(), np.random.default_rng(2))
        net = Network(layer, Population(n, LIF), STDPParams(), dt_s=DT, t_present_s=0.1,
                      t_rest_s=0.0, seed=3)
        counts = net.run(x * 200.0).counts
        score = np.zeros((n_test, k))
        np.add.at(score.T, cls_of, counts.T)
        acc[r] = (np.mean(cls_of[y_mac.argmax(axis=1)] == y), np.mean(score.argmax(axis=1) == y))
    for r, (a_mac, a_spk) in acc.items():
        # the same attenuated currents, two readouts: within 10 points (20 test inputs)
        assert abs(a_mac - a_spk) <= 0.10, (r, acc)
    assert min(acc[0.0]) >= 0.97 and min(acc[30.0]) >= 0.95
    assert max(acc[100.0]) <= 0.80 and max(acc[300.0]) <= 0.55
    assert all(acc[100.0][m] > acc[300.0][m] for m in (0, 1))


def test_read_noise_is_seen_by_both_modes_with_the_cards_sigma():
    sigma = 0.05
    layer = CrossbarLayer(1, 1, _card(read_noise_sigma=sigma), np.random.default_rng(4),
                          init=(0.8, 0.8))
    g = layer.pos.conductance_S[0, 0]           # g_min = 0: the reference adds nothing
    v = layer.device.v_read_V
    n = 2000
    # MAC: every input vector is a fresh read of the array; x = 1 reads G (1 + sigma z)
    cfg = layer.crossbar().config
    y, _ = layer.crossbar(type(cfg)(mapping="offset", offset_reference="min", w_max=1.0,
                                    dac_bits=None, dac_mode="multibit", adc_bits=None)
                          ).mac(np.ones((n, 1)), x_max=1.0, rng=np.random.default_rng(5))
    rel_mac = y[:, 0] / (g / layer.span_S)
    # spiking: one spike per sample, each sample a fresh read
    net = Network(layer, Population(1, LIF), STDPParams(), dt_s=DT, t_present_s=DT,
                  t_rest_s=0.0, seed=6)
    rel_spk = np.empty(400)
    for s in range(rel_spk.size):
        net.run(np.full((1, 1), 1.0 / DT), raster=True)
        rel_spk[s] = net.population.state.ge[0] / (g * v * layer.gain[0])
    # sample sd of n normal draws: relative standard error 1 / sqrt(2 n) (1.6 %, 3.5 %);
    # 4 standard errors, and the mean within 4 sigma / sqrt(n)
    for rel, m in ((rel_mac, n), (rel_spk, rel_spk.size)):
        assert abs(rel.std(ddof=1) / sigma - 1) < 4 / np.sqrt(2 * m)
        assert abs(rel.mean() - 1) < 4 * sigma / np.sqrt(m)


def test_learning_through_wire_resistance_is_refused_with_the_key():
    layer = CrossbarLayer(4, 3, _card(2.0), np.random.default_rng(0))
    net = Network(layer, Population(3, LIF), STDPParams(), dt_s=DT, t_present_s=0.01,
                  t_rest_s=0.0)
    with pytest.raises(ConfigError, match="r_wire_Ohm"):
        net.run(np.full((1, 4), 50.0), learn=True)


def test_a_bad_wire_resistance_on_a_card_names_the_key():
    with pytest.raises(ConfigError, match="r_wire_Ohm"):
        _card(-1.0)
