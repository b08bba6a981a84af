"""Physics memristor models: linear ion drift (Strukov 2008) and VTEAM (Kvatinsky 2015).

References used by the checks: the closed-form solution of the windowless linear drift under
a constant voltage, the memristor fingerprints of Chua (pinched, frequency-shrinking hysteresis)
and the VTEAM state equation evaluated by hand.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuromem.cards import load_device
from neuromem.devices import DEVICE_KINDS
from neuromem.devices.base import FAULT_STUCK_OFF, FAULT_STUCK_ON
from neuromem.devices.physics import (EDGE, IonDriftArray, IonDriftDevice, VTEAMArray,
                                      VTEAMDevice, drive_waveform)
from neuromem.exceptions import ConfigError
from neuromem.kernels import physics as kp
from neuromem.schema import build

HP = dict(r_on_Ohm=100.0, r_off_Ohm=16e3, d_m=10e-9, mu_v_m2_per_Vs=1e-14, v_ltp_V=1.0,
          t_ltp_s=10e-3, v_ltd_V=-1.0, t_ltd_s=10e-3)
VTEAM = dict(r_on_Ohm=50.0, r_off_Ohm=1e3, w_on_m=0.0, w_off_m=3e-9, k_on_m_per_s=-10.0,
             k_off_m_per_s=5e-4, alpha_on=3.0, alpha_off=1.0, v_on_V=-0.2, v_off_V=0.02,
             v_ltp_V=-0.22, t_ltp_s=3e-9, v_ltd_V=0.1, t_ltd_s=15e-9, v_read_V=0.01)


def ion_drift(**changes) -> IonDriftDevice:
    return build(IonDriftDevice, {**HP, **changes})


def vteam(**changes) -> VTEAMDevice:
    return build(VTEAMDevice, {**VTEAM, **changes})


def linear_drift_x(t, x0, v, r_on, r_off, k):
    """Closed form of dx/dt = k v / (R_off - (R_off - R_on) x) (no window).

    Separating variables: R_off x - (R_off - R_on) x^2 / 2 = k v t + C, C fixed by x(0) = x0;
    the root of the quadratic that lies in [0, 1] is x = (R_off - sqrt(R_off^2 - 2 dR c)) / dR
    with dR = R_off - R_on and c = k v t + C.
    """
    dr = r_off - r_on
    c = k * v * np.asarray(t, float) + r_off * x0 - 0.5 * dr * x0 ** 2
    return (r_off - np.sqrt(r_off ** 2 - 2.0 * dr * c)) / dr


# --- (1) linear ion drift against its closed form ---------------------------------------------

def test_linear_drift_pulses_match_closed_form(rng):
    dev = ion_drift(x_init=0.05)
    arr = dev.make_array((1,), rng)
    times = np.array([0.01, 0.0375, 0.1, 0.25, 0.4, 0.55, 0.7])  # x stays below ~0.9
    got, elapsed = [], 0.0
    for t in times:
        arr.apply_pulses((t - elapsed) / dev.t_ltp_s)  # fractional counts: shorter last pulse
        elapsed = t
        got.append(arr.state[0])
    want = linear_drift_x(times, 0.05, dev.v_ltp_V, dev.r_on_Ohm, dev.r_off_Ohm, dev.k_per_C)
    assert want[-1] < 0.9 and want[-1] - want[0] > 0.5  # a real sweep, inside the bounds
    # RK4 with |dx| <= 1e-3 per step: the local error ~ (dx * dlnR/dx)^5 / 120 <= (1e-3 * 9.4)^5
    # / 120 ~ 6e-13 for x < 0.9 (R >= 1.7 kOhm), over ~1000 steps ~ 1e-9; 1e-6 leaves margin
    # while catching any first- or second-order scheme (their error here is >= 1e-4).
    np.testing.assert_allclose(got, want, rtol=1e-6)
    r = dev.r_on_Ohm * want[-1] + dev.r_off_Ohm * (1 - want[-1])
    assert arr.g[0] == pytest.approx(1 / r, rel=1e-6)


def test_linear_drift_waveform_matches_closed_form_both_polarities(rng):
    dev = ion_drift(x_init=0.85)
    arr = dev.make_array((2,), rng)
    dt, n = 0.01, 61
    t = dt * np.arange(n)
    i, x = drive_waveform(arr, np.full(n, -0.5), dt, cells=[1])  # constant -0.5 V for 0.6 s
    want = linear_drift_x(t, 0.85, -0.5, dev.r_on_Ohm, dev.r_off_Ohm, dev.k_per_C)
    assert want[-1] < 0.45
    np.testing.assert_allclose(x[:, 0], want, rtol=1e-6)  # same error budget as above
    r = dev.r_on_Ohm * want + dev.r_off_Ohm * (1 - want)
    np.testing.assert_allclose(i[:, 0], -0.5 / r, rtol=1e-6)
    assert arr.state[0] == pytest.approx(0.85, rel=1e-15)  # cell 0 was not driven


# --- (2) pinched hysteresis ----------------------------------------------------------------

def lobe_areas(i, v):
    """Signed areas (trapezoid rule) of the v > 0 and v < 0 lobes of one period."""
    h = (len(v) - 1) // 2
    pos = np.sum(0.5 * (i[1:h + 1] + i[:h]) * np.diff(v[:h + 1]))
    neg = np.sum(0.5 * (i[h + 1:] + i[h:-1]) * np.diff(v[h:]))
    return pos, neg


def test_sinusoidal_drive_gives_pinched_loop_that_shrinks_with_frequency(rng):
    dev = ion_drift(x_init=0.3)
    areas = []
    for f in (0.5, 1.0, 2.0, 4.0, 8.0):
        arr = dev.make_array((1,), rng)
        n = 4000
        t = np.arange(n + 1) / (n * f)
        v = 0.5 * np.sin(2 * np.pi * f * t)
        i, x = drive_waveform(arr, v, t[1] - t[0])
        i = i[:, 0]
        # Pinched at the origin: i = 0 exactly where v = 0 (v(T/2) = 0.5 sin(pi) ~ 6e-17 V),
        # and i never has the sign opposite to v (R > 0 throughout).
        assert np.max(np.abs(i[[0, n // 2, n]])) < 1e-12 * np.max(np.abs(i))
        assert np.all(i * v >= 0)
        pos, neg = lobe_areas(i, v)
        # The two lobes turn in opposite senses (I-V curve crosses itself at the origin).
        assert pos < 0 < neg
        # With no window a symmetric drive returns the state to where it started.
        assert x[-1, 0] == pytest.approx(0.3, abs=1e-9)
        areas.append(neg)
    areas = np.array(areas)
    # The loop is open (compare with v_max * i_max ~ 6e-5 V A at 0.5 Hz) and collapses
    # towards a single-valued line as the frequency rises.
    assert areas[0] > 1e-6
    assert np.all(np.diff(areas) < 0)
    assert areas[-1] < 0.05 * areas[0]


# --- (3) windows -----------------------------------------------------------------------------

@pytest.mark.parametrize("p", [1, 2, 5])
def test_joglekar_window_closed_form(p):
    f = kp.window_value
    code = kp.WINDOW_JOGLEKAR
    assert abs(f(code, 0.0, 1.0, p, 1.0)) < 1e-15 and abs(f(code, 1.0, -1.0, p, 1.0)) < 1e-15
    assert f(code, 0.5, 1.0, p, 1.0) == pytest.approx(1.0, abs=1e-15)
    for x in np.linspace(0, 1, 11):
        want = 1 - (2 * x - 1) ** (2 * p)
        for s in (1.0, -1.0):  # Joglekar ignores the current direction
            assert f(code, x, s, p, 1.0) == pytest.approx(want, abs=1e-14)


@pytest.mark.parametrize("p", [1, 3])
def test_biolek_window_depends_on_current_direction(p):
    f = kp.window_value
    code = kp.WINDOW_BIOLEK
    # Moving up (i > 0) stops at x = 1 but not at x = 0, and the reverse when moving down.
    assert abs(f(code, 1.0, 1.0, p, 1.0)) < 1e-15 and f(code, 1.0, -1.0, p, 1.0) == 1.0
    assert f(code, 0.0, 1.0, p, 1.0) == 1.0 and abs(f(code, 0.0, -1.0, p, 1.0)) < 1e-15
    for x in (0.2, 0.7):
        assert f(code, x, 1.0, p, 1.0) == pytest.approx(1 - x ** (2 * p), abs=1e-14)
        assert f(code, x, -1.0, p, 1.0) == pytest.approx(1 - (x - 1) ** (2 * p), abs=1e-14)
    # Prodromakis: zero at both ends, j (1 - 0.75^p) in the middle.
    code = kp.WINDOW_PRODROMAKIS
    assert abs(f(code, 0.0, 1.0, p, 2.0)) < 1e-14 and abs(f(code, 1.0, 1.0, p, 2.0)) < 1e-14
    assert f(code, 0.5, 1.0, p, 2.0) == pytest.approx(2.0 * (1 - 0.75 ** p), rel=1e-14)


def test_biolek_device_moves_faster_away_from_the_near_bound(rng):
    dev = ion_drift(window="biolek", window_p=1)
    up = dev.make_array((1,), rng)
    down = dev.make_array((1,), rng)
    for arr in (up, down):
        arr.program(1 / (100 * 0.9 + 16e3 * 0.1))  # x = 0.9: equal |i| for +1 V and -1 V
    up.apply_pulses(1e-3)
    down.apply_pulses(-1e-3)
    dx_up, dx_down = up.state[0] - 0.9, 0.9 - down.state[0]
    assert dx_up > 0 and dx_down > 0
    # f_up(0.9) = 1 - 0.81, f_down(0.9) = 1 - 0.01; the 10 us step moves x by ~1e-5, so the
    # window and current change by < 1e-3 relative during it.
    assert dx_up / dx_down == pytest.approx(0.19 / 0.99, rel=2e-3)


@pytest.mark.parametrize("window", ["none", "joglekar", "biolek", "prodromakis"])
def test_state_stays_in_bounds_under_long_pulse_trains(window, rng):
    dev = ion_drift(window=window, window_p=2, x_init=0.5, ctoc_sigma=0.5, r_on_dtod=0.2,
                    r_off_dtod=0.2, mu_v_dtod=0.2)
    arr = dev.make_array((4, 5), rng)
    lo, hi = (0.0, 1.0) if window in ("none", "biolek") else (EDGE, 1 - EDGE)
    for n in (300, -600, 300, -50, 1000, -1000):
        arr.apply_pulses(n * rng.random(arr.shape), rng=rng)
        assert np.all(arr.state >= lo) and np.all(arr.state <= hi)
        assert np.all(arr.g >= arr.g_min_cell) and np.all(arr.g <= arr.g_max_cell)
    assert np.ptp(arr.state) > 0.1  # the cells really moved


def test_vanishing_window_refuses_a_start_on_the_bound():
    with pytest.raises(ConfigError, match="x_init"):
        ion_drift(window="joglekar")  # x_init defaults to 0
    assert ion_drift(window="biolek").x_init == 0.0


# --- (4) VTEAM thresholds and rate -----------------------------------------------------------

def test_vteam_sub_threshold_voltages_leave_state_untouched(rng):
    dev = vteam(w_init_m=1.3e-9)
    arr = dev.make_array((3,), rng)
    state, g = arr.state.copy(), arr.g.copy()
    t = np.linspace(0, 1e-6, 501)
    for v in (np.full(t.size, dev.v_read_V), 0.019 * np.sin(2 * np.pi * 5e6 * t),
              -0.09 + 0.1 * np.sin(2 * np.pi * 3e6 * t)):  # spans [-0.19, 0.01] V
        i, w = drive_waveform(arr, v, t[1] - t[0])
        # In the dead zone the rate is exactly 0, so the state must be bit-identical.
        np.testing.assert_array_equal(arr.state, state)
        np.testing.assert_array_equal(arr.g, g)
        np.testing.assert_allclose(i, v[:, None] * g[None, :], rtol=1e-15)
    np.testing.assert_allclose(arr.read(), g.reshape(arr.shape), rtol=0)


def test_vteam_card_check_enforces_polarity_and_quiet_reads():
    with pytest.raises(ConfigError, match="v_read_V"):
        vteam(v_read_V=0.05)
    with pytest.raises(ConfigError, match="v_ltp_V"):
        vteam(v_ltp_V=0.5)  # positive voltage RESETs in VTEAM
    with pytest.raises(ConfigError, match="v_ltd_V"):
        vteam(v_ltd_V=0.015)  # below the RESET threshold: would never move


@pytest.mark.parametrize("v", [0.03, 0.1, 0.4, -0.21, -0.25, -0.3])
def test_vteam_rate_matches_state_equation(v, rng):
    p = VTEAM
    if v > 0:
        want = p["k_off_m_per_s"] * (v / p["v_off_V"] - 1) ** p["alpha_off"]
    else:
        want = p["k_on_m_per_s"] * (v / p["v_on_V"] - 1) ** p["alpha_on"]
    tau = 0.01 * 3e-9 / abs(want)  # a step of 1% of the range
    dev = vteam(w_init_m=1.5e-9)
    arr = dev.make_array((1,), rng)
    _, w = drive_waveform(arr, [v, v], tau)
    # No window: dw/dt is constant along the step, so RK4 is exact up to round-off.
    assert (w[1, 0] - w[0, 0]) / tau == pytest.approx(want, rel=1e-9)
    assert dev.rate_m_per_s(v) == pytest.approx(want, rel=1e-12)
    # With a Joglekar window (p = 2) at w = 1.5 nm (x = 0.5, f = 1, f' = 0) the 1% step
    # changes f by < 1e-3, so the mean rate over the step matches to 1e-3.
    dev = vteam(w_init_m=1.5e-9, window="joglekar", window_p=2)
    arr = dev.make_array((1,), rng)
    _, w = drive_waveform(arr, [v, v], tau)
    assert (w[1, 0] - w[0, 0]) / tau == pytest.approx(want, rel=1e-3)


def test_vteam_pulses_set_with_negative_voltage(rng):
    dev = vteam(w_init_m=1.5e-9)
    arr = dev.make_array((1,), rng)
    g0 = arr.g[0]
    arr.apply_pulses(0.5)  # half an LTP pulse: -0.22 V for 1.5 ns
    dw = -10.0 * (0.22 / 0.2 - 1) ** 3 * 1.5e-9
    assert arr.state[0] - 1.5e-9 == pytest.approx(dw, rel=1e-9)  # constant rate: exact
    assert arr.g[0] > g0
    arr.apply_pulses(-2.0)  # two LTD pulses: +0.1 V for 15 ns each
    assert arr.state[0] - (1.5e-9 + dw) == pytest.approx(5e-4 * 4 * 30e-9, rel=1e-9)


# --- (5) stuck cells -----------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: ion_drift(x_init=0.4, ctoc_sigma=0.3),
                                  lambda: vteam(w_init_m=1e-9, ctoc_sigma=0.3)])
def test_stuck_cells_never_move(make, rng):
    dev = make().with_updates(stuck_on_rate=0.25, stuck_off_rate=0.25)
    arr = dev.make_array((6, 5), rng)
    off, on = arr.fault == FAULT_STUCK_OFF, arr.fault == FAULT_STUCK_ON
    assert off.any() and on.any() and (~(off | on)).any()
    if isinstance(arr, IonDriftArray):
        off_state, on_state = 0.0, 1.0
        wave = np.sin(np.linspace(0, 4 * np.pi, 200))
        dt = 1e-3
    else:
        assert isinstance(arr, VTEAMArray)
        off_state, on_state = dev.w_off_m, dev.w_on_m
        wave = 0.3 * np.sin(np.linspace(0, 4 * np.pi, 200))
        dt = 1e-10
    state0, g0 = arr.state.copy(), arr.g.copy()
    assert np.all(arr.state[off] == off_state) and np.all(arr.state[on] == on_state)
    np.testing.assert_allclose(arr.g[off], 1 / dev.r_off_Ohm, rtol=1e-15)
    np.testing.assert_allclose(arr.g[on], 1 / dev.r_on_Ohm, rtol=1e-15)
    for n in (5, -12, 0.5, 30, -3):
        arr.apply_pulses(n * rng.integers(-1, 2, size=arr.shape), rng=rng)
    i, _ = drive_waveform(arr, wave, dt)
    arr.program(rng.uniform(dev.g_min_S, dev.g_max_S, size=arr.shape))
    stuck = off | on
    # Stuck cells are never written: bit-identical state and conductance.
    np.testing.assert_array_equal(arr.state[stuck], state0[stuck])
    np.testing.assert_array_equal(arr.g[stuck], g0[stuck])
    np.testing.assert_allclose(i[:, stuck], wave[:, None] * g0[stuck][None, :], rtol=1e-15)
    assert np.any(np.abs(arr.state[~stuck] - state0[~stuck]) > 0)


# --- (6) cards -------------------------------------------------------------------------------

CARDS = {"hp_tio2_strukov2008": ("ion_drift", "10.1038/nature06932"),
         "vteam_kvatinsky2015": ("vteam", "10.1109/TCSII.2015.2433536")}


@pytest.mark.parametrize("name", sorted(CARDS))
def test_cards_load_with_their_source(name):
    card = load_device(name)
    kind, doi = CARDS[name]
    assert card.kind == kind and isinstance(card.params, DEVICE_KINDS[kind])
    assert card.source["doi"] == doi and card.source["notes"]
    assert card.params.g_min_S < card.params.g_max_S


def test_hp_card_sweeps_as_its_notes_say(rng):
    dev = load_device("hp_tio2_strukov2008").params
    arr = dev.make_array((1,), rng)
    arr.apply_pulses(100)
    # Notes: 100 LTP pulses of 1 V x 8 ms take x from 0 to 0.93 (closed form 0.9267).
    want = linear_drift_x(0.8, 0.0, 1.0, dev.r_on_Ohm, dev.r_off_Ohm, dev.k_per_C)
    assert arr.state[0] == pytest.approx(want, rel=1e-6) and want == pytest.approx(0.93, abs=5e-3)
    arr.program(dev.g_max_S)
    arr.apply_pulses(-100)
    assert arr.state[0] == pytest.approx(0.003, abs=5e-4)


def test_vteam_card_sweeps_in_about_100_pulses(rng):
    dev = load_device("vteam_kvatinsky2015").params
    arr = dev.make_array((1,), rng)
    arr.apply_pulses(50)
    assert arr.state[0] == pytest.approx(1.5e-9, rel=1e-9)  # half of w_off: linear in w
    arr.apply_pulses(50)
    assert arr.g[0] == pytest.approx(dev.g_max_S, rel=1e-9)
    arr.apply_pulses(-100)
    assert arr.g[0] == pytest.approx(dev.g_min_S, rel=1e-9)


@pytest.mark.parametrize("name", sorted(CARDS))
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       train=st.lists(st.floats(-40, 40, allow_nan=False), min_size=1, max_size=20),
       noisy=st.booleans())
def test_cards_stay_finite_and_bounded_under_random_trains(name, seed, train, noisy):
    r = np.random.default_rng(seed)
    dev = load_device(name).params
    if noisy:
        dev = dev.with_updates(ctoc_sigma=0.3, r_on_dtod=0.2, r_off_dtod=0.2)
    arr = dev.make_array((3, 4), r)
    lo, hi = dev.state_bounds
    span = 1.0 if isinstance(arr, IonDriftArray) else dev.w_off_m - dev.w_on_m
    offset = 0.0 if isinstance(arr, IonDriftArray) else dev.w_on_m
    for n in train:
        arr.apply_pulses(np.full(arr.shape, n) * r.integers(0, 2, size=arr.shape), rng=r)
        assert np.all(np.isfinite(arr.g)) and np.all(np.isfinite(arr.state))
        assert np.all(arr.g >= arr.g_min_cell) and np.all(arr.g <= arr.g_max_cell)
        x = (arr.state - offset) / span
        assert np.all(x >= lo - 1e-12) and np.all(x <= hi + 1e-12)  # w/span round-off only


def test_drive_waveform_rejects_bad_input(rng):
    arr = ion_drift().make_array((2,), rng)
    with pytest.raises(ConfigError, match="dt_s"):
        drive_waveform(arr, [0.0, 1.0], 0.0)
    with pytest.raises(ConfigError, match="v_V"):
        drive_waveform(arr, [0.0, math.nan], 1e-3)
    with pytest.raises(ConfigError, match="cells"):
        drive_waveform(arr, [0.0, 1.0], 1e-3, cells=[2])
    pulse = load_device("ideal").params.make_array((2,), rng)
    with pytest.raises(ConfigError, match="physics"):
        drive_waveform(pulse, [0.0, 1.0], 1e-3)
