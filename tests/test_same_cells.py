"""One physical array, two ways: MAC mode reads the trained layer's own cells, and the
ex-situ alternative is programmed by write-verify."""

import math

import numpy as np
import pytest

from neuromem.cards import load_device
from neuromem.crossbar import Crossbar, CrossbarConfig
from neuromem.exceptions import ConfigError
from neuromem.layers import CrossbarLayer
from neuromem.schema import build
from neuromem.tasks import TaskResult
from neuromem.tasks.compare import EnergySection, energy_inputs, mac_mode

IDEAL_PERIPHERY = dict(dac_bits=None, dac_mode="multibit", adc_bits=None)


def _spread_card():
    """TaOx/HfOx with 25 % D2D spread of G_max and A and 5 % + 5 % stuck cells."""
    return load_device("taox_hfox_wu2018").params.with_updates(
        g_max_dtod=0.25, a_dtod=0.25, stuck_on_rate=0.05, stuck_off_rate=0.05)


def _trained_like(device, mapping, rng, n_in=70, n_out=40):
    """A layer with learned-looking weights and non-uniform per-column gains."""
    layer = CrossbarLayer(n_in, n_out, device, rng, mapping=mapping, w_max=2.0,
                          init=(-0.8, 0.8) if mapping == "differential" else (0.0, 0.9))
    layer.normalize_columns(0.15)
    return layer


@pytest.mark.parametrize("mapping", ["single", "differential"])
def test_mac_mode_same_reads_the_very_cells_of_the_layer(mapping):
    dev = _spread_card()
    layer = _trained_like(dev, mapping, np.random.default_rng(3))
    assert np.unique(layer.pos.fault).size == 3        # healthy, stuck off, stuck on
    x = np.random.default_rng(4).uniform(0, 1, (25, layer.n_in))
    _y, _counts, xbar = mac_mode(layer, x, EnergySection(), np.random.default_rng(5))
    assert xbar.arrays[0] is layer.pos
    assert np.shares_memory(xbar.arrays[0].g, layer.pos.g)
    g = xbar.conductances()
    np.testing.assert_array_equal(g[0], layer.pos.conductance_S)
    if mapping == "differential":
        assert xbar.arrays[1] is layer.neg
        np.testing.assert_array_equal(g[1], layer.neg.conductance_S)
    else:   # the layer's ideal reference at the card's g_min, one per row and column tile
        np.testing.assert_array_equal(g[1], np.full((layer.n_in, 1), dev.g_min_S))
    # the map back to weights is the layer's own (one multiply vs one divide: round-off)
    np.testing.assert_allclose(xbar.weights(), layer.weights(), rtol=0, atol=1e-12)
    # a later change of the cells (more learning, drift) is what the next MAC read sees
    layer.pos.apply_pulses(np.full(layer.pos.shape, 3.0), rng=np.random.default_rng(6))
    np.testing.assert_array_equal(xbar.conductances()[0], layer.pos.conductance_S)


@pytest.mark.parametrize("mapping", ["single", "differential"])
def test_same_cells_mac_with_ideal_converters_is_x_times_the_effective_weights(mapping):
    layer = _trained_like(_spread_card(), mapping, np.random.default_rng(7))
    x = np.random.default_rng(8).uniform(0, 1, (30, layer.n_in))
    cfg = CrossbarConfig(mapping="differential" if mapping == "differential" else "offset",
                         offset_reference="min", w_max=1.0, tile_rows=32, tile_cols=16,
                         **IDEAL_PERIPHERY)
    y, counts = layer.crossbar(cfg).mac(x, x_max=1.0)
    # the closed form with the spiking mode's conductances and gains: sum over rows of
    # x_i (G_ij - G_ref,ij) / (g_max - g_min) * gain_j / base_gain
    geff = layer.pos.conductance_S - (layer.neg.conductance_S if layer.differential
                                      else layer.device.g_min_S)
    expect = x @ (geff / layer.span_S) * (layer.gain / layer.base_gain)
    np.testing.assert_allclose(y, expect, rtol=1e-10, atol=1e-12 * np.abs(expect).max())
    assert counts["adc_conversions"] == 30 * 3 * layer.n_out      # 3 row tiles, all driven


def test_same_cells_mac_on_the_ideal_card_equals_the_former_fresh_array_result():
    """On the ideal card the fresh array of the former MAC mode held the same effective
    weights; with the gain ahead of the ADC the calibrated ranges scale with them, so every
    8-bit ADC code and every output is the same (up to round-off) and so are the winners."""
    ideal = load_device("ideal").params
    layer = _trained_like(ideal, "single", np.random.default_rng(9), n_in=150, n_out=60)
    x = np.random.default_rng(10).uniform(0, 1, (200, layer.n_in))
    section = EnergySection()
    y_same, counts_same, _ = mac_mode(layer, x, section, np.random.default_rng(11))
    # the former path, written out: effective weights / their peak into a fresh array
    eff = layer.effective_weights()
    scale = float(np.abs(eff).max())
    cfg = CrossbarConfig(mapping="offset", offset_reference="min", w_max=1.0,
                         tile_rows=section.tile_rows, tile_cols=section.tile_cols,
                         dac_bits=section.dac_bits, dac_mode=section.dac_mode,
                         adc_bits=section.adc_bits, adc_share=section.adc_share)
    fresh = Crossbar.from_weights(eff / scale, ideal, cfg, np.random.default_rng(12))
    y_old, counts_old = fresh.mac(x, x_max=1.0)
    np.testing.assert_allclose(y_same, y_old * scale, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(np.argmax(y_same, axis=1), np.argmax(y_old, axis=1))
    assert counts_same == counts_old


def test_layer_crossbar_refuses_a_mapping_it_does_not_have():
    layer = _trained_like(load_device("ideal").params, "single", np.random.default_rng(0))
    with pytest.raises(ConfigError, match="mapping"):
        layer.crossbar(CrossbarConfig(mapping="differential"))


def test_mac_array_is_a_checked_card_key_and_reaches_the_result():
    assert EnergySection().mac_array == "same"
    with pytest.raises(ConfigError, match="mac_array"):
        build(EnergySection, {"mac_array": "new"}, section="energy")
    layer = _trained_like(load_device("ideal").params, "single", np.random.default_rng(1))
    x = np.random.default_rng(2).uniform(0, 1, (5, layer.n_in))
    for kind in ("same", "fresh"):
        section = build(EnergySection, {"mac_array": kind}, section="energy")
        _y, counts, xbar = mac_mode(layer, x, section, np.random.default_rng(3))
        inputs = energy_inputs(layer=layer, xbar=xbar, test_events={}, mac_counts=counts,
                               n_test=5, dt_s=1e-3, section=section, acc_spiking=1.0,
                               acc_mac=1.0)
        assert inputs["mac"]["mac_array"] == kind
        assert ("programming" in inputs["mac"]) == (kind == "fresh")
        result = TaskResult("t", {}, {}, {}, {}, [], extra={"energy_inputs": inputs})
        assert result.metrics["mac_array"] == kind


# -- write-verify ---------------------------------------------------------------------------

def _linear_card(**changes):
    """A linear, noise-free 128-level card (TaOx window and pulses)."""
    base = dict(nonlinearity_ltp=None, nonlinearity_ltd=None, a_ltp=math.inf, a_ltd=math.inf,
                ctoc_sigma=0.0)
    base.update(changes)
    return load_device("taox_hfox_wu2018").params.with_updates(**base)


def test_write_verify_of_a_linear_noise_free_cell_matches_the_closed_form():
    dev = _linear_card()
    p_max, lo, span = dev.p_max, dev.g_min_S, dev.g_max_S - dev.g_min_S
    step = span / p_max
    k = np.random.default_rng(0).integers(0, p_max + 1, size=(12, 9))
    target = lo + k * step
    array = dev.make_array(k.shape, np.random.default_rng(1))    # fresh cells sit at g_min
    stats = array.write_verify(target, np.random.default_rng(2), tol_S=0.25 * step,
                               max_pulses=1000)
    # from g_min, k whole SET pulses land on level k: one train, then the verify read passes
    assert stats["ltp_pulses"] == k.sum() and stats["ltd_pulses"] == 0
    assert stats["cells_converged"] == k.size
    assert stats["verify_reads"] == k.size + np.count_nonzero(k)
    np.testing.assert_allclose(array.conductance_S, target, rtol=0, atol=1e-9 * step)
    # pulse n (0-based) sees G_n = g_min + n step before and G_n + step after:
    # E = V^2 t sum_n (G_n + G_n+1) / 2 = V^2 t (k g_min + step k^2 / 2)
    e = dev.v_ltp_V ** 2 * dev.t_ltp_s * (k * lo + step * k ** 2 / 2.0)
    assert math.isclose(stats["write_energy_J"], e.sum(), rel_tol=1e-9)


def test_write_verify_converges_within_tolerance_despite_cycle_to_cycle_noise():
    dev = load_device("taox_hfox_wu2018").params        # 3.7 % C2C noise per pulse
    span = dev.g_max_S - dev.g_min_S
    tol = 0.02 * span
    target = np.random.default_rng(3).uniform(dev.g_min_S, dev.g_max_S, (20, 30))
    array = dev.make_array(target.shape, np.random.default_rng(4))
    stats = array.write_verify(target, np.random.default_rng(5), tol_S=tol,
                               max_pulses=8 * dev.p_max)
    assert stats["cells_converged"] == target.size
    assert np.max(np.abs(array.conductance_S - target)) <= tol
    assert stats["pulses"] == stats["ltp_pulses"] + stats["ltd_pulses"]
    # noise costs pulses: at least the noise-free open-loop count from g_min
    open_loop = dev.make_array(target.shape, np.random.default_rng(4)).pulses_from_reset(target)
    assert stats["pulses"] >= open_loop.sum()
    assert stats["verify_reads"] > target.size                   # at least one re-pulse
    # every pulse is charged at a conductance inside the window (same |V| and t both ways)
    per_pulse = dev.v_ltp_V ** 2 * dev.t_ltp_s
    assert stats["pulses"] * per_pulse * dev.g_min_S <= stats["write_energy_J"] \
        <= stats["pulses"] * per_pulse * dev.g_max_S


def test_write_verify_stops_at_the_pulse_budget():
    dev = load_device("taox_hfox_wu2018").params
    target = np.full((6, 7), 0.5 * (dev.g_min_S + dev.g_max_S))
    array = dev.make_array(target.shape, np.random.default_rng(6))
    # tolerance 0 is never met by a noisy continuous state: every cell spends the budget
    stats = array.write_verify(target, np.random.default_rng(7), tol_S=0.0, max_pulses=25)
    assert stats["pulses"] == 25 * target.size
    assert stats["cells_converged"] == 0 and stats["max_pulses_per_cell"] == 25
    assert stats["verify_reads"] > target.size


def test_write_verify_spends_the_budget_on_stuck_cells():
    dev = _linear_card(stuck_off_rate=0.2)
    target = np.full((10, 10), dev.g_max_S)
    array = dev.make_array(target.shape, np.random.default_rng(8))
    n_stuck = int(np.count_nonzero(array.fault))
    assert 5 < n_stuck < 40
    stats = array.write_verify(target, np.random.default_rng(9), tol_S=0.01 * dev.g_max_S,
                               max_pulses=300)
    # healthy cells: Pmax pulses to the top; stuck ones: the whole budget, never converged
    assert stats["pulses"] == (100 - n_stuck) * dev.p_max + n_stuck * 300
    assert stats["cells_converged"] == 100 - n_stuck


def test_fresh_mac_array_is_programmed_by_write_verify_within_tolerance():
    dev = load_device("taox_hfox_wu2018").params
    layer = _trained_like(dev, "differential", np.random.default_rng(10))
    section = build(EnergySection, {"mac_array": "fresh", "verify_budget": 8.0},
                    section="energy")
    x = np.random.default_rng(11).uniform(0, 1, (4, layer.n_in))
    _y, _c, xbar = mac_mode(layer, x, section, np.random.default_rng(12))
    assert xbar.arrays[0] is not layer.pos
    prog = xbar.programming
    assert prog["cells"] == 2 * layer.n_in * layer.n_out
    assert prog["cells_converged"] == prog["cells"]
    assert prog["max_pulses"] == 8 * dev.p_max
    eff = layer.effective_weights()
    target = eff / np.abs(eff).max()
    tol_w = section.verify_tolerance                              # per device, in units of w
    assert np.max(np.abs(xbar.weights() - target)) <= 2 * tol_w   # G+ and G- errors add


def test_write_verify_rejects_bad_arguments():
    dev = load_device("taox_hfox_wu2018").params
    array = dev.make_array((2, 2), np.random.default_rng(0))
    with pytest.raises(ConfigError, match="tol_S"):
        array.write_verify(np.zeros((2, 2)), np.random.default_rng(0), tol_S=-1.0,
                           max_pulses=5)
    with pytest.raises(ConfigError, match="max_pulses"):
        array.write_verify(np.zeros((2, 2)), np.random.default_rng(0), tol_S=0.0,
                           max_pulses=2.5)
    with pytest.raises(ConfigError, match="rng"):
        array.write_verify(np.zeros((2, 2)), None, tol_S=0.0, max_pulses=5)
