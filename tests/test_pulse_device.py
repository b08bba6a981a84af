"""The behavioural pulse model against its closed form (MLP+NeuroSim V3.0 manual, eq. 1-3)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuromem.cards import list_cards, load_device
from neuromem.devices import PulseDevice
from neuromem.devices.base import FAULT_STUCK_OFF, FAULT_STUCK_ON
from neuromem.exceptions import ConfigError


def ltp_closed_form(p, g_min, g_max, a, p_max):
    """G_LTP(P) = B (1 - exp(-P/A)) + Gmin, B = (Gmax - Gmin) / (1 - exp(-Pmax/A))."""
    b = (g_max - g_min) / (1 - math.exp(-p_max / a))
    return b * (1 - np.exp(-np.asarray(p, float) / a)) + g_min


def ltd_closed_form(p, g_min, g_max, a, p_max):
    """G_LTD(P) = -B (1 - exp((P - Pmax)/A)) + Gmax."""
    b = (g_max - g_min) / (1 - math.exp(-p_max / a))
    return -b * (1 - np.exp((np.asarray(p, float) - p_max) / a)) + g_max


def noise_free(name):
    return load_device(name).params.with_updates(ctoc_sigma=0.0)


@pytest.mark.parametrize("name", ["ag_asi_jo2010", "taox_hfox_wu2018", "pcmo_park2013",
                                  "gst_pcm_kuzum2011", "hzo_fefet_jerry2017"])
def test_potentiation_follows_closed_form_and_has_pmax_plus_one_states(name, rng):
    dev = noise_free(name)
    p_max = dev.p_max
    arr = dev.make_array((1,), rng)
    states = [arr.g[0]]
    for _ in range(p_max):
        arr.apply_pulses(1)
        states.append(arr.g[0])
    states = np.array(states)
    expected = ltp_closed_form(np.arange(p_max + 1), dev.g_min_S, dev.g_max_S,
                               dev.a_ltp_norm * p_max, p_max)
    # Each update inverts and re-evaluates the exponential: round-off only (~1e-15 per step).
    np.testing.assert_allclose(states, expected, rtol=1e-9, atol=0)
    assert states[0] == pytest.approx(dev.g_min_S, rel=1e-12)
    assert states[-1] == pytest.approx(dev.g_max_S, rel=1e-9)
    # Exactly Pmax + 1 distinct states, and the bound holds past Pmax.
    assert len(np.unique(np.round(states / dev.g_max_S, 9))) == p_max + 1
    arr.apply_pulses(5)
    assert arr.g[0] == pytest.approx(dev.g_max_S, rel=1e-12)


@pytest.mark.parametrize("name", ["ag_asi_jo2010", "alox_hfo2_woo2016", "epiram_choi2018"])
def test_depression_follows_closed_form(name, rng):
    dev = noise_free(name)
    p_max = dev.p_max
    arr = dev.make_array((1,), rng)
    arr.program(dev.g_max_S)
    states = [arr.g[0]]
    for _ in range(p_max):
        arr.apply_pulses(-1)
        states.append(arr.g[0])
    expected = ltd_closed_form(p_max - np.arange(p_max + 1), dev.g_min_S, dev.g_max_S,
                               dev.a_ltd_norm * p_max, p_max)
    np.testing.assert_allclose(states, expected, rtol=1e-9)
    assert states[-1] == pytest.approx(dev.g_min_S, rel=1e-9)


def test_multi_pulse_update_equals_single_pulses(rng):
    dev = noise_free("ag_asi_jo2010")
    a = dev.make_array((3,), rng)
    b = dev.make_array((3,), rng)
    a.apply_pulses([5, 17, 40])
    for k, n in enumerate([5, 17, 40]):
        for _ in range(n):
            b.apply_pulses([1], cells=[k])
    np.testing.assert_allclose(a.g, b.g, rtol=1e-12)
    a.apply_pulses([-3, -9, -30])
    for k, n in enumerate([3, 9, 30]):
        for _ in range(n):
            b.apply_pulses([-1], cells=[k])
    np.testing.assert_allclose(a.g, b.g, rtol=1e-12)


@pytest.mark.parametrize("nl", [1e-4, 1e-6])
def test_vanishing_nonlinearity_is_linear(nl, rng):
    dev = PulseDevice(g_min_S=1e-6, g_max_S=1e-5, levels=65, nonlinearity_ltp=nl,
                      nonlinearity_ltd=-nl)
    _, g = dev.curve("ltp")
    linear = 1e-6 + 9e-6 * np.arange(65) / 64
    # Deviation from linear is O(Pmax / A) = O(nl): 1e-4 relative at most here.
    np.testing.assert_allclose(g, linear, rtol=2 * nl / 1.19808 + 1e-12)
    exact = PulseDevice(g_min_S=1e-6, g_max_S=1e-5, levels=65, a_ltp=math.inf, a_ltd=math.inf)
    arr = exact.make_array((1,), rng)
    for k in range(64):
        arr.apply_pulses(1)
        assert arr.g[0] == pytest.approx(linear[k + 1], rel=1e-12)


def test_nonlinearity_label_mapping_matches_published_point():
    # NeuroSim's table: NL 2.40 -> A/Pmax = 0.4992 (REFERENCE.md).
    dev = PulseDevice(g_min_S=1e-9, g_max_S=1e-8, levels=97, nonlinearity_ltp=2.40)
    assert dev.a_ltp_norm == pytest.approx(0.4992, rel=1e-12)


def test_ctoc_noise_has_the_card_sigma(rng):
    sigma = 0.05
    dev = PulseDevice(g_min_S=0.0, g_max_S=1e-5, levels=101, a_ltp=math.inf, a_ltd=math.inf,
                      ctoc_sigma=sigma)
    n = 40000
    arr = dev.make_array((n,), rng)
    arr.program(5e-6)
    arr.apply_pulses(4, rng=rng)
    step = arr.g - 5e-6
    # Linear device: mean step 4 * span/Pmax; noise sigma * span * sqrt(4). Clipping cannot
    # happen within 20 sigma of mid-range. Standard errors: mean 0.5 %, std 0.35 % at n = 40000.
    assert step.mean() == pytest.approx(4 * 1e-5 / 100, rel=0.03)
    assert step.std() == pytest.approx(sigma * 1e-5 * 2, rel=0.02)


def test_dtod_spread_of_gmax(rng):
    dev = load_device("ideal").params.with_updates(g_max_dtod=0.2)
    arr = dev.make_array((200, 100), rng)
    spread = arr.g_max / dev.g_max_S
    # 20000 draws of 1 + 0.2 z (floored at 0.05, 4.75 sigma away): std error ~0.5 %.
    assert spread.std() == pytest.approx(0.2, rel=0.03)
    assert spread.mean() == pytest.approx(1.0, abs=0.01)
    arr.apply_pulses(2000)  # far beyond Pmax: every cell saturates at its own Gmax
    np.testing.assert_allclose(arr.g, arr.g_max, rtol=1e-12)


def test_stuck_cells_never_move(rng):
    dev = load_device("taox_hfox_wu2018").params.with_updates(stuck_on_rate=0.1,
                                                               stuck_off_rate=0.15)
    arr = dev.make_array((100, 100), rng)
    on = arr.fault == FAULT_STUCK_ON
    off = arr.fault == FAULT_STUCK_OFF
    # Binomial(10000, p): 3 standard errors is < 1 % absolute.
    assert on.mean() == pytest.approx(0.10, abs=0.01)
    assert off.mean() == pytest.approx(0.15, abs=0.011)
    before = arr.g.copy()
    np.testing.assert_allclose(before[on], dev.g_max_S)
    np.testing.assert_allclose(before[off], dev.g_min_S)
    moved = np.zeros(arr.size, dtype=bool)
    for _ in range(20):
        previous = arr.g.copy()
        arr.apply_pulses(rng.integers(-30, 31, size=arr.shape), rng=rng)
        moved |= arr.g != previous
    assert np.array_equal(arr.g[on], before[on])
    assert np.array_equal(arr.g[off], before[off])
    assert np.all(moved[~(on | off)])  # 20 random trains move every healthy cell
    arr.program(np.full(arr.shape, 5e-6))
    assert np.array_equal(arr.g[on], before[on])


def test_read_noise_and_drift(rng):
    dev = load_device("ideal").params.with_updates(read_noise_sigma=0.1, drift_nu=0.05,
                                                   drift_t0_s=1.0)
    arr = dev.make_array((50000,), rng)
    arr.program(8e-6)
    reads = arr.read(rng=rng)
    assert reads.mean() == pytest.approx(8e-6, rel=0.003)   # std error 0.045 %
    assert reads.std() == pytest.approx(0.8e-6, rel=0.02)   # std error 0.3 %
    assert np.all(arr.g == 8e-6)  # a read never changes the state
    quiet = load_device("ideal").params.with_updates(drift_nu=0.05)
    q = quiet.make_array((3,), rng)
    q.program([2e-6, 5e-6, 8e-6])
    np.testing.assert_allclose(q.read(t_s=1e4), np.array([2e-6, 5e-6, 8e-6]) * 1e4 ** -0.05,
                               rtol=1e-12)
    np.testing.assert_allclose(q.read(t_s=0.5), [2e-6, 5e-6, 8e-6], rtol=1e-12)


def test_same_seed_same_result():
    dev = load_device("taox_hfox_wu2018").params.with_updates(g_max_dtod=0.1, a_dtod=0.2)

    def run(seed):
        r = np.random.default_rng(seed)
        arr = dev.make_array((20, 10), r)
        for _ in range(10):
            arr.apply_pulses(r.integers(-5, 6, size=arr.shape), rng=r)
        return arr.g.copy()

    assert np.array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


def test_discrete_device_refuses_fractional_pulses(rng):
    arr = load_device("taox_hfox_wu2018").params.make_array((2,), rng)
    with pytest.raises(ConfigError, match="whole pulse counts"):
        arr.apply_pulses(0.5, rng=rng)
    with pytest.raises(ConfigError, match="rng"):
        arr.apply_pulses(1)
    with pytest.raises(ConfigError, match="out of range"):
        arr.apply_pulses(1, cells=[5], rng=rng)
    ideal = load_device("ideal").params.make_array((2,), rng)
    ideal.apply_pulses(0.5)
    np.testing.assert_allclose(ideal.g, 0.5 * 1e-5 / 1000, rtol=1e-12)


@pytest.mark.parametrize("name", list(list_cards("synapse_models")))
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       train=st.lists(st.integers(-300, 300), min_size=1, max_size=40))
def test_every_card_stays_finite_and_bounded(name, seed, train):
    card = load_device(name)
    r = np.random.default_rng(seed)
    dev = card.params.with_updates(**({"g_max_dtod": 0.3} if hasattr(card.params, "g_max_dtod")
                                      else {}))
    arr = dev.make_array((3, 4), r)
    lo = np.broadcast_to(arr.g_min_cell, arr.g.shape)
    hi = np.broadcast_to(arr.g_max_cell, arr.g.shape)
    for n in train:
        arr.apply_pulses(np.full(arr.shape, n) * r.integers(0, 2, size=arr.shape), rng=r)
        assert np.all(np.isfinite(arr.g))
        assert np.all(arr.g >= lo * (1 - 1e-12)) and np.all(arr.g <= hi * (1 + 1e-12))
